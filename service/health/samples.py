"""The hourly health counts: written in one upsert statement, read back per window."""

from datetime import datetime

from service.health.rules import WINDOWS, Counts, hour_of
from service.models import HealthSample

UPSERT = (
    "INSERT INTO app_health_samples (app_id, server_id, hour, checks, failures, "
    "latency_ms_total) VALUES ({}) ON CONFLICT (app_id, server_id, hour) DO UPDATE SET "
    "checks = app_health_samples.checks + excluded.checks, "
    "failures = app_health_samples.failures + excluded.failures, "
    "latency_ms_total = app_health_samples.latency_ms_total + excluded.latency_ms_total"
)
"""Adds to an hour's row, or creates it: SQLite (3.24+) and PostgreSQL speak this alike."""


async def write_samples(samples: dict[tuple[int, int, datetime], Counts]) -> None:
    """Add the counts to their (app, server, hour) rows, all in one statement: a thousand
    hosts cost one round trip, not a thousand (the checker's figure depends on it)."""
    db = HealthSample._meta.db
    hour = HealthSample._meta.fields_map["hour"]
    marks = "?, ?, ?, ?, ?, ?" if db.capabilities.dialect == "sqlite" else "$1, $2, $3, $4, $5, $6"
    rows = [
        [app_id, server_id, hour.to_db_value(at, HealthSample), *counts_row(counts)]
        for (app_id, server_id, at), counts in samples.items()
    ]
    await db.execute_many(UPSERT.format(marks), rows)


def counts_row(counts: Counts) -> list[int | float]:
    return [counts.checks, counts.failures, counts.latency_ms_total]


async def read_samples(app_id: int, now: datetime) -> dict[int, list[tuple[datetime, Counts]]]:
    """Each server's hourly counts over the longest window, oldest first."""
    since = hour_of(now - max(WINDOWS.values()))
    rows = (
        await HealthSample.filter(app_id=app_id, hour__gte=since)
        .order_by("hour")
        .values_list("server_id", "hour", "checks", "failures", "latency_ms_total")
    )
    found: dict[int, list[tuple[datetime, Counts]]] = {}
    for server_id, at, checks, failures, latency in rows:
        found.setdefault(server_id, []).append((at, Counts(checks, failures, latency)))
    return found

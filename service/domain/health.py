"""An app's health as the API shows it: each host's state, uptime over 24 h and 7 d, and
its recent failures (from the checker's rows and hourly counts)."""

from datetime import datetime
from typing import Any

from service.domain.deployments import app_servers
from service.health.rules import RECENT_FAILURES, WINDOWS, Counts, window_counts
from service.health.samples import read_samples
from service.models import App, AppHostHealth


def _state(row: AppHostHealth | None) -> str:
    if row is None or row.up is None:
        return "unknown"
    return "up" if row.up else "down"


def _figures(counts: dict[str, Counts]) -> dict[str, Any]:
    return {
        **{f"uptime_{name}": counts[name].uptime for name in WINDOWS},
        **{f"checks_{name}": counts[name].checks for name in WINDOWS},
        "latency_ms_24h": counts["24h"].latency_ms,
    }


async def app_health(app: App, now: datetime) -> dict[str, Any]:
    rows = {row.server_id: row for row in await AppHostHealth.filter(app_id=app.id)}
    samples = await read_samples(app.id, now)
    hosts = []
    overall = {name: Counts() for name in WINDOWS}
    failures: list[dict[str, Any]] = []
    for server in await app_servers(app):
        row = rows.get(server.id)
        counts = window_counts(samples.get(server.id, []), now)
        overall = {name: overall[name] + counts[name] for name in WINDOWS}
        kept = row.recent_failures if row else []
        recent = [{**entry, "server_id": server.id} for entry in kept]
        failures += recent
        hosts.append(
            {
                "server_id": server.id,
                "server_name": server.name,
                "state": _state(row),
                "since": row.changed_at if row else None,
                "error": row.error if row and row.up is False else None,
                **_figures(counts),
                "recent_failures": recent[::-1],
            }
        )
    failures.sort(key=lambda entry: entry["at"], reverse=True)
    return {
        "app_id": app.id,
        "health_status": app.health_status,
        "health_interval": app.health_interval,
        "restart_on_down": app.restart_on_down,
        **_figures(overall),
        "hosts": hosts,
        "recent_failures": failures[:RECENT_FAILURES],
    }

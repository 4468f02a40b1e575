"""The health checker's rules, apart from any I/O: when a host is up or down, what that makes
the app, the uptime over a window, and when each check is due (jittered)."""

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from service.models import HealthStatus

MIN_INTERVAL = 5
"""The shortest check interval an app may have, in seconds."""
MAX_INTERVAL = 86_400
DEFAULT_INTERVAL = 30
RECENT_FAILURES = 20
"""Failed checks kept per host for `GET /apps/{id}/health`."""
MAX_ERROR = 300
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}


@dataclass
class HostState:
    """What the checker knows of one app on one host."""

    up: bool | None = None
    """None until the first check passes or enough of them fail."""
    failures_in_row: int = 0
    changed_at: datetime | None = None
    error: str | None = None
    recent_failures: list[dict[str, Any]] = field(default_factory=list)

    def observe(
        self, at: datetime, latency_ms: float, error: str | None, failures_needed: int
    ) -> bool:
        """Take one check's outcome (error None: it passed); True when `up` changed.

        One pass is enough to be up again; `failures_needed` failures in a row mark the
        host down, so one lost packet does not page anyone."""
        before = self.up
        if error is None:
            self.failures_in_row = 0
            self.up = True
        else:
            self.failures_in_row += 1
            self.error = error[:MAX_ERROR]
            entry = {"at": at.isoformat(), "error": self.error, "latency_ms": latency_ms}
            self.recent_failures = [*self.recent_failures, entry][-RECENT_FAILURES:]
            if self.failures_in_row >= failures_needed:
                self.up = False
        if self.up is not before and self.up is not None:
            self.changed_at = at
            return True
        return False


def app_status(ups: Iterable[bool | None]) -> HealthStatus | None:
    """running: every known host up; degraded: some down; down: all down; None: none known."""
    known = [up for up in ups if up is not None]
    if not known:
        return None
    if all(known):
        return HealthStatus.RUNNING
    return HealthStatus.DOWN if not any(known) else HealthStatus.DEGRADED


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour a check falls in (its sample's key)."""
    return at.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Counts:
    checks: int = 0
    failures: int = 0
    latency_ms_total: float = 0.0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(
            self.checks + other.checks,
            self.failures + other.failures,
            self.latency_ms_total + other.latency_ms_total,
        )

    @property
    def uptime(self) -> float | None:
        """Percent of checks that passed (None: no check)."""
        if not self.checks:
            return None
        return round(100 * (self.checks - self.failures) / self.checks, 3)

    @property
    def latency_ms(self) -> float | None:
        return round(self.latency_ms_total / self.checks, 1) if self.checks else None


def window_counts(samples: Iterable[tuple[datetime, Counts]], now: datetime) -> dict[str, Counts]:
    """The counts of hourly samples over each window ending now (an hour counts when it
    started within the window, so 24 h reads 24 or 25 samples, never fewer)."""
    totals = {name: Counts() for name in WINDOWS}
    for hour, counts in samples:
        for name, length in WINDOWS.items():
            if hour_of(now - length) <= hour <= now:
                totals[name] = totals[name] + counts
    return totals


def first_due(now: datetime, interval: float, rng: random.Random) -> datetime:
    """A new target's first check, anywhere in its first interval: a thousand apps
    loaded at once are spread over the interval instead of firing together."""
    return now + timedelta(seconds=rng.uniform(0, interval))


def next_due(due: datetime, now: datetime, interval: float) -> datetime:
    """One interval after the last due time (the spread is kept), never in the past: a
    loop that fell behind does not fire a burst of late checks to catch up."""
    following = due + timedelta(seconds=interval)
    return following if following > now else now + timedelta(seconds=interval)

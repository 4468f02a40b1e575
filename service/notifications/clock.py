"""The time webhooks schedule by: UTC wall-clock time that tests can move forward."""

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        """Jump ahead (tests: a backoff is over without waiting for it)."""
        self.offset += timedelta(seconds=seconds)

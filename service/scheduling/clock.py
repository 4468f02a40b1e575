"""The scheduler's sense of time, injected so that tests can move it by hand."""

import asyncio
from contextlib import suppress
from datetime import UTC, datetime
from typing import Protocol

MAX_NAP = 60.0
"""The longest the system clock sleeps without looking again: a schedule set through
another instance, or a jump of the wall clock, is seen within this many seconds."""
SLACK = 0.01
"""Sleep a little past the due time, so that waking finds the occurrence already due."""


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime | None, wakeup: asyncio.Event) -> None:
        """Return at `when` (None: no set time), or earlier once `wakeup` is set."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime | None, wakeup: asyncio.Event) -> None:
        delay = MAX_NAP
        if when is not None:
            delay = min(max((when - self.now()).total_seconds() + SLACK, 0.0), MAX_NAP)
        with suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=delay)

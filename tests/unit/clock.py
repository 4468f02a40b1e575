"""A clock the tests move by hand, for the audit scheduler (no sleeps, no waiting for time)."""

import asyncio
from datetime import datetime, timedelta


class MovableClock:
    """`advance()` moves the time and returns once every scheduler loop has looked at the
    new time and gone back to sleep, so whatever it queues is queued by then. `loops` is
    how many scheduler loops run on this clock (each app has one)."""

    def __init__(self, start: datetime, loops: int = 1) -> None:
        self._now = start
        self.loops = loops
        self._moved = asyncio.Event()
        self._fell_asleep = asyncio.Event()
        self._woke_at: dict[asyncio.Task, datetime] = {}
        """Each loop that ever slept and the time it last woke up at (its pass saw that)."""
        self._asleep: dict[asyncio.Task, datetime] = {}

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime | None, wakeup: asyncio.Event) -> None:
        me = asyncio.current_task()
        if self._woke_at.get(me) != self._now:
            # Its pass may have read an older time (or it is the loop's first sleep): go round.
            self._woke_at[me] = self._now
            await asyncio.sleep(0)
            return
        moved = self._moved
        self._asleep[me] = self._now
        self._fell_asleep.set()
        waits = [asyncio.ensure_future(moved.wait()), asyncio.ensure_future(wakeup.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            del self._asleep[me]
            self._woke_at[me] = self._now

    async def advance(self, delta: timedelta = timedelta(0), timeout: float = 5) -> None:
        self._now += delta
        self._moved.set()
        self._moved = asyncio.Event()
        await self.settle(timeout)

    def jump(self, delta: timedelta) -> None:
        """Move the time with no loop told (the service is down meanwhile)."""
        self._now += delta

    async def settle(self, timeout: float = 5) -> None:
        """Wait until every live loop sleeps having started its last pass at the time now."""
        async with asyncio.timeout(timeout):
            while True:
                live = [loop for loop in self._woke_at if not loop.done()]
                if len(live) >= self.loops and all(
                    self._asleep.get(loop) == self._now for loop in live
                ):
                    return
                self._fell_asleep.clear()
                await self._fell_asleep.wait()

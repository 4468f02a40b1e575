"""The retention job: a purge shortly after start, then every `retention_interval` seconds.

Time comes from an injected clock, so tests move it instead of sleeping.
"""

import logging
import time

from service.clock import Clock, SystemClock
from service.config import Settings
from service.retention.purge import Purge

log = logging.getLogger(__name__)

FIRST_RUN_DELAY = 60.0
"""Seconds after start before the first purge: start-up (recovery, first requests) first."""


class RetentionJob:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()

    async def run_once(self, *, dry_run: bool = False) -> dict[str, int]:
        """Purge what the rules select now; the rows deleted (or due, dry run) per table."""
        started = time.perf_counter()
        deleted = await Purge(self.settings, self.clock.now(), dry_run=dry_run).run()
        log.info(
            "retention %s in %.2f s: %s",
            "dry run" if dry_run else "purge",
            time.perf_counter() - started,
            ", ".join(f"{count} {table}" for table, count in deleted.items()) or "nothing due",
        )
        return deleted

    async def run_forever(self) -> None:
        """Purge on schedule until cancelled; a failed purge is logged and tried next time."""
        await self.clock.sleep(FIRST_RUN_DELAY)
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("retention purge failed; it runs again at the next interval")
            await self.clock.sleep(self.settings.retention_interval)

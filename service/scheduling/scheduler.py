"""The audit scheduler: queues each server's scheduled audit once per cron occurrence.

An occurrence is fired by inserting its (server, occurrence) row into
`audit_fired_occurrences` before the task is queued; the unique key lets exactly one
instance, or one life of the service, fire it. Occurrences missed while the service was
down are not caught up one by one: the latest of them fires once.
"""

import asyncio
import logging
from contextlib import suppress
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

from service.clock import Clock, SystemClock
from service.models import AuditSchedule, FiredOccurrence, TaskKind
from service.scheduling.cron import latest_occurrence, next_occurrence
from service.tasks.engine import TaskEngine

log = logging.getLogger(__name__)

LOOP_NAME = "audit-scheduler"
"""The name of the scheduler's task (and of its naps on the clock)."""
KEEP_FIRED = timedelta(days=1)
"""Fired occurrences are kept this long behind a server's latest: older ones can no longer
be due anywhere (a schedule's `done_through` is past them), so the table stays small."""

MAX_NAP = 60.0
"""The longest the scheduler sleeps without looking again: a schedule set through another
instance, or a jump of the wall clock, is seen within this many seconds."""


class AuditScheduler:
    def __init__(self, engine: TaskEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self._wakeup = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name=LOOP_NAME)

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None

    def alive(self) -> bool:
        return self._loop is not None and not self._loop.done()

    def schedules_changed(self) -> None:
        """Look at the schedules again now (one was set or removed through this instance)."""
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                due = await self.fire_due()
            except Exception:
                log.exception("the audit scheduler could not fire due audits")
                due = None
            await self._nap(due)

    async def _nap(self, due: datetime | None) -> None:
        """Sleep on the clock until `due` (at most MAX_NAP), or until the schedules change."""
        delay = MAX_NAP
        if due is not None:
            delay = min(max((due - self.clock.now()).total_seconds(), 0.0), MAX_NAP)
        sleeping = asyncio.create_task(self.clock.sleep(delay), name=LOOP_NAME)
        woken = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait([sleeping, woken], return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            woken.cancel()

    async def fire_due(self) -> datetime | None:
        """Fire every schedule's latest due occurrence; the time the next one falls due."""
        now = self.clock.now()
        upcoming: list[datetime] = []
        for schedule in await AuditSchedule.all().select_related("server"):
            latest = latest_occurrence(schedule.cron, now)
            if latest > schedule.done_through:
                try:
                    await self._fire(schedule, latest)
                except Exception:  # e.g. its server deleted meanwhile: the others go on
                    log.exception("could not fire the audit of server %s", schedule.server_id)
            upcoming.append(next_occurrence(schedule.cron, now))
        return min(upcoming, default=None)

    async def _fire(self, schedule: AuditSchedule, occurrence: datetime) -> None:
        try:
            fired = await FiredOccurrence.create(
                server_id=schedule.server_id, occurrence=occurrence
            )
        except IntegrityError:
            fired = None  # another instance, or this service before a restart, fired it
        await AuditSchedule.filter(id=schedule.id, done_through__lt=occurrence).update(
            done_through=occurrence
        )
        await FiredOccurrence.filter(
            server_id=schedule.server_id, occurrence__lt=occurrence - KEEP_FIRED
        ).delete()
        if fired is None:
            return
        task = await self.engine.submit(
            TaskKind.AUDIT, schedule.server, {"scheduled_for": occurrence.isoformat()}
        )
        fired.task_id = task.id
        await fired.save(update_fields=["task_id"])
        log.info("queued scheduled audit task %s of server %s", task.id, schedule.server_id)

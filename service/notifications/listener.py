"""The engine's side of webhooks: a publisher that only queues what it hears.

Publisher calls are synchronous and run on the engine's path, so nothing here awaits or
touches the database: a report becomes an item on the outbox's queue, and the outbox turns
it into delivery rows in its own task.
"""

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.api.schemas import TaskSchema
from service.clock import Clock
from service.models import Server, Task, TaskKind
from service.models.tasks import FINISHED_STATUSES
from service.notifications.payloads import Occurrence

TASK = TaskSchema()


@dataclass(frozen=True)
class TaskFinished:
    """A finished task, as it was when it finished; the outbox finds the events it implies."""

    task: dict[str, Any]
    kind: TaskKind
    at: datetime


Report = TaskFinished | Occurrence


class WebhookListener:
    """A `Publisher` for the engine's FanOut: finished tasks and named notices."""

    def __init__(self, queue: asyncio.Queue[Report | None], clock: Clock) -> None:
        self.queue = queue
        self.clock = clock

    def task_status(self, task: Task) -> None:
        if task.status in FINISHED_STATUSES:
            self.queue.put_nowait(TaskFinished(TASK.dump(task), task.kind, self.clock.now()))

    def task_event(self, task: Task, seq: int, event: dict[str, Any]) -> None:
        """Runner events are for the live feed, not for webhooks."""

    def task_progress(self, task: Task, progress: dict[str, Any]) -> None:
        """Progress is for the live feed, not for webhooks."""

    def server_status(self, server: Server) -> None:
        """`server.locked` follows from the lockdown task's end, which names its servers."""

    def notice(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        server_id: int | None = None,
        app_id: int | None = None,
    ) -> None:
        servers = frozenset() if server_id is None else frozenset({server_id})
        self.queue.put_nowait(Occurrence(event, dict(payload), self.clock.now(), servers, app_id))

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
from service.models import Task, TaskKind
from service.models.tasks import FINISHED_STATUSES
from service.notifications.payloads import Occurrence
from service.tasks.publishers import Listener

TASK = TaskSchema()


@dataclass(frozen=True)
class TaskFinished:
    """A finished task, as it was when it finished; the outbox finds the events it implies."""

    task: dict[str, Any]
    kind: TaskKind
    at: datetime


Report = TaskFinished | Occurrence


class WebhookListener(Listener):
    """A `Publisher` for the engine's FanOut: finished tasks and named notices."""

    def __init__(self, queue: asyncio.Queue[Report | None], clock: Clock) -> None:
        self.queue = queue
        self.clock = clock

    def task_status(self, task: Task) -> None:
        if task.status in FINISHED_STATUSES:
            self.queue.put_nowait(TaskFinished(TASK.dump(task), task.kind, self.clock.now()))

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

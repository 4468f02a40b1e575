"""The live feed across instances.

`ClusterFeed` listens to this instance's engine and sends a note for each report;
`Forwarder` takes other instances' notes and publishes them to this instance's WebSocket
hub, reading what they name from the database: a task's status and events, a server's
record. Events are noted only once stored (`events_stored`), so the rows are there to be
read; each task's forwarded events are counted, so a batch is never sent twice and a note
lost meanwhile (a reconnect) is made up by the next one.
"""

from typing import Any, Protocol

from service.cluster.bus import Bus, Note
from service.domain.tokens import VerifiedTokens
from service.models import Server, Task, TaskEvent
from service.models.tasks import FINISHED_STATUSES
from service.tasks.publishers import Listener, Publisher
from service.ws.hub import Hub
from service.ws.publisher import HubPublisher, task_topics


class ClusterFeed(Listener):
    """This instance's reports, as notes to the others."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def task_status(self, task: Task) -> None:
        self.bus.send({"t": "status", "task": task.id})

    def events_stored(self, task: Task, first: int, last: int) -> None:
        self.bus.send(
            {"t": "events", "task": task.id, "topics": task_topics(task), "from": first, "to": last}
        )

    def task_progress(self, task: Task, progress: dict[str, Any]) -> None:
        self.bus.send(
            {"t": "progress", "task": task.id, "topics": task_topics(task), "progress": progress}
        )

    def server_status(self, server: Server) -> None:
        self.bus.send({"t": "server", "server": server.id})

    def notice(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        server_id: int | None = None,
        app_id: int | None = None,
    ) -> None:
        self.bus.send(
            {"t": "notice", "event": event, "payload": payload, "server": server_id, "app": app_id}
        )


class Engine(Protocol):
    def wake(self) -> None: ...
    def cancel_here(self, task_id: int) -> None: ...
    def finished_elsewhere(self, task_id: int) -> None: ...


class Forwarder:
    """Other instances' notes, acted on here: wake-ups and cancels for the engine, reports
    for the hub (never for this instance's webhooks: the instance that ran the task sends
    those)."""

    def __init__(self, engine: Engine, hub: Hub, verified_tokens: VerifiedTokens) -> None:
        self.engine = engine
        self.hub = hub
        self.verified_tokens = verified_tokens
        self.publisher = HubPublisher(hub)
        self.forwarded: dict[int, int] = {}
        """Per task, the last event seq published here."""
        self.status_listeners: list[Publisher] = []
        """Components here that follow other instances' task statuses too (the health
        checker reads an app's targets again after a deploy, wherever it ran)."""

    async def receive(self, note: Note) -> None:
        kind = note["t"]
        if kind in ("wake", "reconnected"):
            self.engine.wake()
        elif kind == "tokens":
            self.verified_tokens.forget()
        elif kind == "cancel":
            self.engine.cancel_here(note["task"])
        elif kind == "status":
            await self._status(note["task"])
        elif kind == "events":
            await self._events(note)
        elif kind == "progress":
            self.publisher.progress_on(note["topics"], note["task"], note["progress"])
        elif kind == "server":
            server = await Server.get_or_none(id=note["server"])
            if server is not None:
                self.publisher.server_status(server)
        elif kind == "notice":
            self.publisher.notice(
                note["event"], note["payload"], server_id=note["server"], app_id=note["app"]
            )

    async def _status(self, task_id: int) -> None:
        task = await Task.get_or_none(id=task_id)
        if task is None:
            return
        self.publisher.task_status(task)
        for listener in self.status_listeners:
            listener.task_status(task)
        if task.status in FINISHED_STATUSES:
            self.forwarded.pop(task.id, None)
            self.engine.finished_elsewhere(task.id)

    async def _events(self, note: Note) -> None:
        task_id = note["task"]
        after = self.forwarded.get(task_id, note["from"] - 1)
        if note["to"] > after and self.hub.subscribers:
            rows = await TaskEvent.filter(
                task_id=task_id, counter__gt=after, counter__lte=note["to"]
            ).order_by("counter")
            for row in rows:
                self.publisher.event_on(note["topics"], task_id, row.counter, row.data)
        self.forwarded[task_id] = max(after, note["to"])

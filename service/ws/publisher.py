"""The engine's reports, turned into typed WebSocket messages on the right topics."""

from typing import Any

from service.api.schemas import ServerSchema, TaskSchema
from service.models import Server, Task, TaskKind, TaskStatus
from service.tasks.events import event_message
from service.tasks.publishers import Listener
from service.ws.hub import ALL, Hub, task_topic

TASK = TaskSchema()
SERVER = ServerSchema()


def task_status_message(task: Task) -> dict[str, Any]:
    return {"type": "task.status", "task": TASK.dump(task)}


def task_topics(task: Task) -> list[str]:
    """The task's own topic, `all`, and those of its servers (each of them) and app."""
    topics = [task_topic(task.id), ALL]
    topics.extend(f"server:{server_id}" for server_id in task.servers_covered)
    if task.app_id:
        topics.append(f"app:{task.app_id}")
    if task.deployment_id:
        topics.append(f"deployment:{task.deployment_id}")
    return topics


class HubPublisher(Listener):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def task_status(self, task: Task) -> None:
        topics = task_topics(task)
        self.hub.publish(topics, task_status_message(task))
        if task.kind == TaskKind.SERVICE and task.status == TaskStatus.SUCCESSFUL:
            self._service_report(task, topics)

    def _service_report(self, task: Task, topics: list[str]) -> None:
        """A finished service task also speaks as `service.status` and one `log` per line."""
        result = task.result or {}
        unit = task.params.get("service_name")
        if result.get("status"):
            self.hub.publish(
                topics,
                {
                    "type": "service.status",
                    "server_id": task.server_id,
                    "service_name": unit,
                    "status": result["status"],
                    "checked_at": result.get("checked_at"),
                },
            )
        for entry in (result.get("logs") or {}).get("entries", []):
            self.hub.publish(
                topics,
                {"type": "log", "server_id": task.server_id, "service_name": unit, **entry},
            )

    def task_event(self, task: Task, seq: int, event: dict[str, Any]) -> None:
        self.event_on(task_topics(task), task.id, seq, event)

    def event_on(self, topics: list[str], task_id: int, seq: int, event: dict[str, Any]) -> None:
        """A task's event on its topics (known without the task: another instance's)."""
        self.hub.publish(topics, event_message(task_id, seq, event), seq=seq)

    def task_progress(self, task: Task, progress: dict[str, Any]) -> None:
        self.progress_on(task_topics(task), task.id, progress)

    def progress_on(self, topics: list[str], task_id: int, progress: dict[str, Any]) -> None:
        self.hub.publish(
            topics, {"type": "task.progress", "task_id": task_id, "progress": progress}
        )

    def server_status(self, server: Server) -> None:
        self.hub.publish(
            [f"server:{server.id}", ALL], {"type": "server.status", "server": SERVER.dump(server)}
        )

    def notice(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        server_id: int | None = None,
        app_id: int | None = None,
    ) -> None:
        topics = [ALL]
        if server_id is not None:
            topics.append(f"server:{server_id}")
        if app_id is not None:
            topics.append(f"app:{app_id}")
        self.hub.publish(topics, {"type": event, **payload})

"""The engine's reports, turned into typed WebSocket messages on the right topics."""

from typing import Any

from service.api.schemas import ServerSchema, TaskSchema
from service.models import Server, Task
from service.tasks.events import event_message
from service.ws.hub import ALL, Hub, task_topic

TASK = TaskSchema()
SERVER = ServerSchema()


def task_topics(task: Task) -> list[str]:
    topics = [task_topic(task.id), ALL]
    if task.server_id:
        topics.append(f"server:{task.server_id}")
    if task.app_id:
        topics.append(f"app:{task.app_id}")
    if task.deployment_id:
        topics.append(f"deployment:{task.deployment_id}")
    return topics


class HubPublisher:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def task_status(self, task: Task) -> None:
        self.hub.publish(task_topics(task), {"type": "task.status", "task": TASK.dump(task)})

    def task_event(self, task: Task, seq: int, event: dict[str, Any]) -> None:
        self.hub.publish(task_topics(task), event_message(task.id, seq, event), seq=seq)

    def task_progress(self, task: Task, progress: dict[str, Any]) -> None:
        self.hub.publish(
            task_topics(task), {"type": "task.progress", "task_id": task.id, "progress": progress}
        )

    def server_status(self, server: Server) -> None:
        self.hub.publish(
            [f"server:{server.id}", ALL], {"type": "server.status", "server": SERVER.dump(server)}
        )

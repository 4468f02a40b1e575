"""Background work: one playbook run per task, with its stored event stream.

Statuses reuse ansible-runner's names where they overlap, plus `queued` (waiting for a
worker or for the server to be free) and `interrupted` (the service died mid-run).
"""

from enum import StrEnum
from typing import Any, Literal

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.queryset import ValuesQuery

from service.models.base import TimestampedModel, json_field


class TaskKind(StrEnum):
    CONNECTION_TEST = "connection_test"
    SETUP = "setup"
    PACKAGES = "packages"
    LOCKDOWN = "lockdown"
    AUDIT = "audit"
    SERVICE = "service"
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    RECONCILE = "reconcile"
    RESTART = "restart"


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"


FINISHED_STATUSES = frozenset(
    {
        TaskStatus.SUCCESSFUL,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.TIMEOUT,
        TaskStatus.INTERRUPTED,
    }
)


class Task(TimestampedModel):
    kind = fields.CharEnumField(TaskKind, max_length=32)
    status = fields.CharEnumField(TaskStatus, max_length=16, default=TaskStatus.QUEUED)
    server = fields.ForeignKeyField(
        "models.Server", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    app = fields.ForeignKeyField(
        "models.App", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    deployment = fields.ForeignKeyField(
        "models.Deployment", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    params = json_field(default=dict)
    server_ids = json_field(default=list)
    """Every server the run touches (one task at a time per server)."""
    attempts = fields.IntField(default=0)
    max_attempts = fields.IntField(default=1)
    cancel_requested = fields.BooleanField(default=False)
    progress = json_field(default=dict)
    result = json_field(null=True)
    error = fields.TextField(null=True)
    limit_hosts = json_field(null=True)
    """Inventory host names to limit the run to (a "retry failed hosts only" run)."""
    retry_of = fields.ForeignKeyField(
        "models.Task", related_name="retries", null=True, on_delete=fields.SET_NULL
    )
    not_before = fields.DatetimeField(null=True)
    """Backoff: a queued task is not started before this time."""
    pid = fields.IntField(null=True)
    """ansible-playbook's pid while running, to kill a run orphaned by a service crash."""
    instance = fields.CharField(max_length=128, null=True)
    """The name of the service instance that claimed the task (see models/instances.py)."""
    last_seq = fields.IntField(default=0)
    """Sequence number of the task's last stored event (continues across attempts)."""
    created_by = fields.ForeignKeyField(
        "models.ApiToken", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    """The token that asked for it; null for the deploy hook or the scheduler (see `actor`)."""
    actor = fields.CharField(max_length=64, null=True)
    """Who asked: the token's name at that time, `deploy-hook` or `scheduler`."""
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    @property
    def servers_covered(self) -> list[int]:
        """Every server the task covers: its `server_ids`, or its one server for a task
        stored before it had them (none once that server is deleted)."""
        return self.server_ids or ([self.server_id] if self.server_id else [])

    async def save(self, *args: Any, **kwargs: Any) -> None:
        """A new task gets its `TaskServer` rows with it, however it is made."""
        new = not self._saved_in_db
        await super().save(*args, **kwargs)
        if new:
            await TaskServer.bulk_create(
                [TaskServer(task_id=self.id, server_id=i) for i in self.servers_covered],
                using_db=kwargs.get("using_db"),
            )

    class Meta:
        table = "tasks"
        ordering = ("id",)
        indexes = (
            Index(fields=("retry_of_id",)),
            Index(fields=("status", "id")),
            Index(fields=("kind", "id")),
            Index(fields=("app_id", "id")),
            Index(fields=("deployment_id", "id")),
        )
        """Deleting a task nulls its retries' `retry_of`: without that index, a scan of every
        task for each task deleted (a retention purge of 500 tasks took seconds). The others
        serve the list filters, a deployment's task and the workers' look at the queue
        (`status`), newest first, without a scan of every task (bench/data_scale.py shows the
        plans)."""


class TaskServer(Model):
    """One server a task runs on (its `server_ids`, as rows): what finds the tasks of a server
    and decides which tokens may see a task over several servers. The server is kept by id:
    a deleted server still counts, so no scope ever widens to a task it did not cover."""

    id = fields.BigIntField(primary_key=True)
    task = fields.ForeignKeyField("models.Task", related_name="servers", on_delete=fields.CASCADE)
    server_id = fields.IntField()

    class Meta:
        table = "task_servers"
        unique_together = (("server_id", "task"),)

    @classmethod
    def task_ids_on(cls, *server_ids: int) -> ValuesQuery[Literal[False]]:
        """The ids of the tasks that run on any of the servers (a subquery)."""
        return cls.filter(server_id__in=server_ids).values("task_id")


class TaskEvent(Model):
    """One ansible-runner event of a task, kept for replay (`after=counter`)."""

    id = fields.BigIntField(primary_key=True)
    task = fields.ForeignKeyField("models.Task", related_name="events", on_delete=fields.CASCADE)
    counter = fields.IntField()
    event = fields.CharField(max_length=64)
    host = fields.CharField(max_length=253, null=True)
    data = json_field(default=dict)
    created = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "task_events"
        ordering = ("task_id", "counter")
        unique_together = (("task", "counter"),)

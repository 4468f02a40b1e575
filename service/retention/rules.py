"""What retention deletes: one declarative rule per table, and what it must never delete.

A rule names a model, the timestamp its age is read from and the setting holding the age in
days; `where` narrows it (only finished tasks, say). Adding a table is one more entry in
`RULES` and one more setting, as the webhook deliveries' rule shows.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise.functions import Max
from tortoise.models import Model

from service.config import ENV_PREFIX, Settings
from service.domain import security_audits
from service.models import (
    AuditRecord,
    DeliveryStatus,
    Deployment,
    HealthSample,
    Task,
    TaskEvent,
    TaskKind,
    TaskStatus,
    WebhookDelivery,
)
from service.models.tasks import FINISHED_STATUSES

SERVICE_CHECKS_READ = 500
"""How many of a server's latest service checks `GET /services/{id}` reads for each unit's
last known state (service/api/services.py)."""


@dataclass(frozen=True)
class KeepNewest:
    """The newest `setting` rows of each `group` value are kept, however old they are."""

    group: str
    setting: str


@dataclass(frozen=True)
class RetentionRule:
    model: type[Model]
    timestamp: str
    """The field holding a row's age; rows older than the setting's days go."""
    setting: str
    """The Settings field with the age in days; 0 switches the rule off."""
    where: dict[str, Any] = field(default_factory=dict)
    """Only rows matching these filters (Tortoise lookups) are ever deleted."""
    keep_newest: KeepNewest | None = None
    in_use: Callable[[], Awaitable[set[int]]] | None = None
    """The ids of rows (or of their owners, see `owner`) the service still reads."""
    owner: str = "id"
    """The field `in_use` ids are matched against: the row's own id or its owner's."""
    children: tuple[tuple[type[Model], str], ...] = ()
    """Rows that point at this one (model, foreign key), deleted first and in batches too,
    so a database cascade never turns one statement into thousands of rows."""

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def describe(self, settings: Settings) -> str:
        """What the rule deletes under these settings, in words, for operators."""
        days = getattr(settings, self.setting)
        name = f"{ENV_PREFIX}{self.setting.upper()}"
        if not days:
            return f"{self.table}: kept for ever ({name}=0)"
        keep = self.keep_newest
        kept = getattr(settings, keep.setting) if keep else 0
        newest = f", except the newest {kept} per {keep.group}" if keep and kept else ""
        return f"{self.table}: deleted after {days} days ({name}){newest}"

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table the rule deletes from: its own, then its children's."""
        return (self.table, *(child._meta.db_table for child, _ in self.children))


async def tasks_in_use() -> set[int]:
    """Finished tasks the service still reads, however old: the task of every server's latest
    audit report (`GET /servers/{id}/security/audit`) and last state of each unit
    (`GET /services/{id}`), and the latest task of every app's latest deployment
    (`GET /deployments/{id}/status` shows its progress and log lines)."""
    latest_deployments = (
        Deployment.annotate(latest=Max("id")).group_by("app_id").values_list("latest", flat=True)
    )
    deployment_tasks = (
        Task.filter(deployment_id__in=await latest_deployments)
        .annotate(latest=Max("id"))
        .group_by("deployment_id")
        .values_list("latest", flat=True)
    )
    return {
        *await security_audits.latest_report_tasks(),
        *await deployment_tasks,
        *await _latest_service_checks(),
    }


async def _latest_service_checks() -> set[int]:
    checks = Task.filter(kind=TaskKind.SERVICE, status=TaskStatus.SUCCESSFUL)
    servers = await checks.distinct().order_by("server_id").values_list("server_id", flat=True)
    latest: set[int] = set()
    for server_id in filter(None, servers):  # a deleted server lists no services
        seen: set[str] = set()
        rows = (
            await checks.filter(server_id=server_id)
            .order_by("-id")
            .limit(SERVICE_CHECKS_READ)
            .values_list("id", "params")
        )
        for task_id, params in rows:
            unit = (params or {}).get("service_name", "")
            if unit not in seen:
                seen.add(unit)
                latest.add(task_id)
    return latest


RULES: tuple[RetentionRule, ...] = (
    RetentionRule(
        TaskEvent,
        "created",
        "event_retention_days",
        where={"task__status__in": list(FINISHED_STATUSES)},
        in_use=tasks_in_use,
        owner="task_id",
    ),
    RetentionRule(
        Task,
        "finished_at",
        "task_retention_days",
        where={"status__in": list(FINISHED_STATUSES)},
        keep_newest=KeepNewest(group="server_id", setting="keep_tasks_per_server"),
        in_use=tasks_in_use,
        children=((TaskEvent, "task_id"),),
    ),
    RetentionRule(AuditRecord, "at", "audit_log_retention_days"),
    RetentionRule(
        WebhookDelivery,
        "finished_at",
        "delivery_retention_days",
        where={"status__in": [DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]},
    ),
    RetentionRule(HealthSample, "hour", "health_retention_days"),
)
"""Applied in this order: old events of finished tasks, then old finished tasks, then old
audit log records, then old webhook deliveries that are done (pending ones always stay),
then old hourly health counts (uptime reads 7 days of them)."""

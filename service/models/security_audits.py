"""Security audits over time: a server's audit schedule, the occurrences it fired, and the
history of audit reports (kept apart from tasks, which a retention job may purge)."""

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from service.models.base import TimestampedModel, json_field


class AuditSchedule(TimestampedModel):
    """When a server is audited by itself: a 5-field cron expression, in UTC."""

    server = fields.OneToOneField(
        "models.Server", related_name="audit_schedule", on_delete=fields.CASCADE
    )
    cron = fields.CharField(max_length=100)
    done_through = fields.DatetimeField()
    """Occurrences up to this time are settled (fired, or before the schedule was set)."""

    class Meta:
        table = "audit_schedules"
        ordering = ("id",)


class FiredOccurrence(Model):
    """One occurrence of a server's schedule that was fired. Inserted before its task is
    queued: the unique key lets only one instance (or one life of the service) fire it."""

    id = fields.BigIntField(primary_key=True)
    server = fields.ForeignKeyField(
        "models.Server", related_name="fired_occurrences", on_delete=fields.CASCADE
    )
    occurrence = fields.DatetimeField()
    task = fields.ForeignKeyField(
        "models.Task", related_name="fired_occurrences", null=True, on_delete=fields.SET_NULL
    )
    created = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_fired_occurrences"
        unique_together = (("server", "occurrence"),)
        indexes = (Index(fields=("task_id",)),)
        """Deleting a task (retention) nulls the rows naming it: an index, not a scan."""


class AuditReport(Model):
    """One finished audit of a server: its score and, per finding, whether it passed."""

    id = fields.IntField(primary_key=True)
    server = fields.ForeignKeyField(
        "models.Server", related_name="audit_reports", on_delete=fields.CASCADE
    )
    task = fields.ForeignKeyField(
        "models.Task", related_name="audit_reports", null=True, on_delete=fields.SET_NULL
    )
    finished_at = fields.DatetimeField()
    score = fields.FloatField()
    passed = fields.IntField()
    failed = fields.IntField()
    findings = json_field(default=list)
    """[{id, title, severity, passed}] for each finding of the report."""
    drift = json_field(null=True)
    """The findings that changed since the server's previous report, when one regressed."""

    class Meta:
        table = "audit_reports"
        ordering = ("id",)
        indexes = (Index(fields=("task_id",)),)

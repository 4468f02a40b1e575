"""One attempt to put a version of an app live."""

from enum import StrEnum

from tortoise import fields

from service.models.base import TimestampedModel


class DeploymentStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Deployment(TimestampedModel):
    app = fields.ForeignKeyField("models.App", related_name="deployments", on_delete=fields.CASCADE)
    version = fields.ForeignKeyField(
        "models.Version", related_name="deployments", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(DeploymentStatus, max_length=16, default=DeploymentStatus.PENDING)
    logs = fields.TextField(default="")
    started_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "deployments"
        ordering = ("id",)

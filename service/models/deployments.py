"""One attempt to put a version of an app live."""

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index

from service.models.base import TimestampedModel, json_field


class DeploymentStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DeploymentKind(StrEnum):
    DEPLOY = "deploy"
    ROLLBACK = "rollback"


class DeployStrategy(StrEnum):
    ROLLING = "rolling"
    BLUE_GREEN = "blue-green"


class Deployment(TimestampedModel):
    app = fields.ForeignKeyField("models.App", related_name="deployments", on_delete=fields.CASCADE)
    version = fields.ForeignKeyField(
        "models.Version", related_name="deployments", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(DeploymentStatus, max_length=16, default=DeploymentStatus.PENDING)
    kind = fields.CharEnumField(DeploymentKind, max_length=16, default=DeploymentKind.DEPLOY)
    strategy = fields.CharEnumField(DeployStrategy, max_length=16, default=DeployStrategy.ROLLING)
    options = json_field(default=dict)
    """Health check, hooks, batch size and keep_releases for this deployment."""
    release_id = fields.CharField(max_length=160, null=True)
    current_step = fields.CharField(max_length=128, null=True)
    host_results = json_field(default=dict)
    error = fields.TextField(null=True)
    logs = fields.TextField(default="")
    created_by = fields.ForeignKeyField(
        "models.ApiToken", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    """The token that asked for it; null for the deploy hook or the scheduler (see `actor`)."""
    actor = fields.CharField(max_length=64, null=True)
    """Who asked: the token's name at that time, `deploy-hook` or `scheduler`."""
    started_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "deployments"
        ordering = ("id",)
        indexes = (
            Index(fields=("app_id", "id")),
            Index(fields=("status", "id")),
            Index(fields=("version_id",)),
        )
        """An app's deployments (its page, the one-at-a-time check, its latest), the status
        filter newest first, and a version's (the check before it is deleted), each without
        a scan of every deployment (bench/data_scale.py shows the plans)."""

"""Continuous app health: each host's current state, and hourly counts for the uptime."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from service.models.base import json_field


class HealthStatus(StrEnum):
    """An app's health over its hosts (`App.health_status`)."""

    RUNNING = "running"
    DEGRADED = "degraded"
    DOWN = "down"


class AppHostHealth(Model):
    """One row per (app, host): what the checker last concluded, and its recent failures.
    Written when the state changes (not on every check), so the table stays small."""

    id = fields.IntField(primary_key=True)
    app = fields.ForeignKeyField("models.App", related_name="host_health", on_delete=fields.CASCADE)
    server = fields.ForeignKeyField(
        "models.Server", related_name="app_health", on_delete=fields.CASCADE
    )
    up = fields.BooleanField(null=True)
    """True: up; False: down (N failed checks in a row); None: not known yet."""
    changed_at = fields.DatetimeField(null=True)
    checked_at = fields.DatetimeField(null=True)
    latency_ms = fields.FloatField(null=True)
    error = fields.TextField(null=True)
    recent_failures = json_field(default=list)
    """The latest failed checks (at, error, latency_ms), newest last, bounded."""

    class Meta:
        table = "app_host_health"
        unique_together = (("app", "server"),)
        ordering = ("id",)


class HealthSample(Model):
    """Checks of one app on one host in one UTC hour: the uptime is failures over checks."""

    id = fields.BigIntField(primary_key=True)
    app = fields.ForeignKeyField(
        "models.App", related_name="health_samples", on_delete=fields.CASCADE
    )
    server = fields.ForeignKeyField(
        "models.Server", related_name="health_samples", on_delete=fields.CASCADE
    )
    hour = fields.DatetimeField(db_index=True)
    checks = fields.IntField(default=0)
    failures = fields.IntField(default=0)
    latency_ms_total = fields.FloatField(default=0)

    class Meta:
        table = "app_health_samples"
        unique_together = (("app", "server", "hour"),)
        ordering = ("id",)

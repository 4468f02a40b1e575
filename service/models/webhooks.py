"""Outgoing webhooks: where to POST which events, and every delivery (the durable outbox)."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from service.models.base import TimestampedModel, json_field


class WebhookEvent(StrEnum):
    TASK_FINISHED = "task.finished"
    DEPLOYMENT_FINISHED = "deployment.finished"
    DEPLOYMENT_ROLLED_BACK = "deployment.rolled_back"
    SERVER_LOCKED = "server.locked"
    AUDIT_DRIFT = "audit.drift"
    APP_DOWN = "app.down"
    APP_UP = "app.up"


class WebhookFormat(StrEnum):
    JSON = "json"
    SLACK = "slack"
    DISCORD = "discord"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Webhook(TimestampedModel):
    url = fields.CharField(max_length=2048)
    events = json_field(default=list)
    """The `WebhookEvent` values it receives."""
    app = fields.ForeignKeyField(
        "models.App", related_name="webhooks", null=True, on_delete=fields.CASCADE
    )
    server = fields.ForeignKeyField(
        "models.Server", related_name="webhooks", null=True, on_delete=fields.CASCADE
    )
    format = fields.CharEnumField(WebhookFormat, max_length=16, default=WebhookFormat.JSON)
    secret = fields.TextField()
    """Signs every delivery; never returned by the API after the create response."""
    enabled = fields.BooleanField(default=True)

    class Meta:
        table = "webhooks"
        ordering = ("id",)


class WebhookDelivery(Model):
    """One event for one webhook: the exact body, and what each attempt to POST it got."""

    id = fields.BigIntField(primary_key=True)
    webhook = fields.ForeignKeyField(
        "models.Webhook", related_name="deliveries", on_delete=fields.CASCADE
    )
    event = fields.CharField(max_length=64)
    body = fields.TextField()
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    """When a pending delivery is due; while an attempt runs, the end of its lease."""
    response_code = fields.IntField(null=True)
    duration_ms = fields.FloatField(null=True)
    error = fields.TextField(null=True)
    history = json_field(default=list)
    """One entry per attempt: when, response code, duration, error."""
    created = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_deliveries"
        ordering = ("id",)

"""A Linux host the service provisions and deploys to over SSH."""

from tortoise import fields

from service.models.base import TimestampedModel


class Server(TimestampedModel):
    name = fields.CharField(max_length=64, unique=True)
    host = fields.CharField(max_length=253)
    port = fields.IntField(default=22)
    root_username = fields.CharField(max_length=32, default="root")
    app_username = fields.CharField(max_length=32, default="deploy")
    use_ssh_agent = fields.BooleanField(default=False)
    manual_key_path = fields.CharField(max_length=1024, null=True)
    setup_complete = fields.BooleanField(default=False)
    security_locked = fields.BooleanField(default=False)
    last_connection_ok = fields.BooleanField(null=True)
    last_connection_at = fields.DatetimeField(null=True)
    last_connection_error = fields.TextField(null=True)
    facts = fields.JSONField(null=True)
    """What the last connection test reported (distribution, Python, kernel, ...)."""

    class Meta:
        table = "servers"
        ordering = ("id",)

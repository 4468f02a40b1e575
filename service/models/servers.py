"""A Linux host the service provisions and deploys to over SSH."""

from tortoise import fields
from tortoise.models import Model

from service.models.base import TimestampedModel, json_field


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
    facts = json_field(null=True)
    """What the last connection test reported (distribution, Python, kernel, ...)."""

    class Meta:
        table = "servers"
        ordering = ("id",)


class UnitStatus(Model):
    """The last state the service saw of one systemd unit on one server: every service run
    (a read or a control action) writes it, so listing a server's services runs nothing."""

    id = fields.IntField(primary_key=True)
    server = fields.ForeignKeyField(
        "models.Server", related_name="unit_statuses", on_delete=fields.CASCADE
    )
    unit = fields.CharField(max_length=255)
    status = json_field()
    """As the read answers it (active_state, sub_state, since, main_pid, ...)."""
    checked_at = fields.DatetimeField()
    """When the run that saw it finished; an older run finishing later does not overwrite it."""
    task_id = fields.IntField(null=True)

    class Meta:
        table = "unit_statuses"
        unique_together = (("server", "unit"),)
        ordering = ("id",)


class ServerGroup(TimestampedModel):
    """A named set of servers that one operation can run on together.

    `group_id` in the body of `POST /servers/setup` (and of the other operations on several
    servers) names its servers at the moment of the request."""

    name = fields.CharField(max_length=64, unique=True)
    description = fields.TextField(default="")

    class Meta:
        table = "server_groups"
        ordering = ("id",)


class ServerGroupMember(Model):
    """One server of a group (deleting either deletes the membership)."""

    id = fields.IntField(primary_key=True)
    group = fields.ForeignKeyField(
        "models.ServerGroup", related_name="members", on_delete=fields.CASCADE
    )
    server = fields.ForeignKeyField(
        "models.Server", related_name="memberships", on_delete=fields.CASCADE
    )

    class Meta:
        table = "server_group_members"
        unique_together = (("group", "server"),)
        indexes = (("server_id",),)
        ordering = ("id",)

"""The service processes sharing one database, each with a heartbeat (see service/cluster/)."""

from tortoise import fields
from tortoise.models import Model


class Instance(Model):
    """One `pb-deployer serve` process: alive while its heartbeat is younger than the lease."""

    name = fields.CharField(max_length=128, primary_key=True)
    """`PBD_INSTANCE_NAME`, by default `hostname:port`: the same name after a restart, so
    the instance finds (and kills) what its previous life left running."""
    hostname = fields.CharField(max_length=255)
    pid = fields.IntField()
    started_at = fields.DatetimeField()
    heartbeat_at = fields.DatetimeField()
    stopped_at = fields.DatetimeField(null=True)
    """When it stopped cleanly, or when another instance found its lease expired."""
    stop_reason = fields.TextField(null=True)

    class Meta:
        table = "instances"

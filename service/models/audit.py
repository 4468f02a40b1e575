"""The audit log: one row per state-changing request and per WebSocket login.

Append-only: the API has no route that changes or deletes a row; only the retention
setting (`PBD_AUDIT_LOG_RETENTION_DAYS`) removes old ones. No body or secret is stored,
only the names of the body's fields.
"""

from tortoise import fields
from tortoise.models import Model

from service.models.base import json_field


class AuditRecord(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    token_id = fields.IntField(null=True, db_index=True)
    """The calling token (not a foreign key: a record never changes, whatever the token does)."""
    token_name = fields.CharField(max_length=64, null=True)
    role = fields.CharField(max_length=16, null=True)
    method = fields.CharField(max_length=8)
    route = fields.CharField(max_length=255)
    """The route's pattern, e.g. `/servers/{id}/setup` (ids are in the target)."""
    action = fields.CharField(max_length=64, db_index=True)
    target_kind = fields.CharField(max_length=32, null=True)
    target_id = fields.IntField(null=True)
    status = fields.IntField()
    request_id = fields.CharField(max_length=64)
    source = fields.CharField(max_length=64, null=True)
    changed_fields = json_field(default=list)
    """The top-level field names of the validated body, never their values."""

    class Meta:
        table = "audit_log"
        ordering = ("id",)
        indexes = (("target_kind", "target_id"),)

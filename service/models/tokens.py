"""API bearer tokens. Only a SHA-256 digest is stored; the token is shown once."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from service.models.base import json_field


class Role(StrEnum):
    """What a token may do; each role includes the ones before it."""

    VIEWER = "viewer"
    DEPLOYER = "deployer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, other: "Role") -> bool:
        return self.rank >= other.rank


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64)
    prefix = fields.CharField(max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    role = fields.CharEnumField(Role, max_length=16, default=Role.ADMIN)
    scope_apps = json_field(null=True)
    """App ids this token may see, or null: no limit (only when scope_servers is null too)."""
    scope_servers = json_field(null=True)
    created = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_tokens"
        ordering = ("id",)

"""API bearer tokens. Only a SHA-256 digest is stored; the token is shown once."""

from tortoise import fields
from tortoise.models import Model


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64)
    prefix = fields.CharField(max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    created = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_tokens"
        ordering = ("id",)

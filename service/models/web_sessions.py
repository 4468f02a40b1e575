"""Browser sessions of the web dashboard: a login with an API token, kept in a cookie.

Only a SHA-256 digest of the cookie's secret is stored, as for tokens; the session acts with
its token's role and scope, so revoking the token ends its sessions at once.
"""

from tortoise import fields
from tortoise.models import Model


class WebSession(Model):
    id = fields.IntField(primary_key=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    token: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.ApiToken", related_name="web_sessions", on_delete=fields.CASCADE
    )
    created = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "web_sessions"

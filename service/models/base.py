"""Fields every table shares."""

from tortoise import fields
from tortoise.models import Model


class TimestampedModel(Model):
    """Integer id plus created/updated timestamps (UTC, set by the ORM)."""

    id = fields.IntField(primary_key=True)
    created = fields.DatetimeField(auto_now_add=True)
    updated = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True

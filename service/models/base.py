"""Fields every table shares."""

import json
from functools import partial
from typing import Any

from tortoise import fields
from tortoise.models import Model


class TimestampedModel(Model):
    """Integer id plus created/updated timestamps (UTC, set by the ORM)."""

    id = fields.IntField(primary_key=True)
    created = fields.DatetimeField(auto_now_add=True)
    updated = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


def json_field(**kwargs: Any) -> fields.JSONField:
    """A JSON column stored with the stdlib's json, always. Tortoise switches its JSON fields
    to orjson when orjson is installed (the API's encoder), and orjson refuses integers past
    64 bits and reads back neither them nor `NaN` exactly, both of which the stdlib stores."""
    return fields.JSONField(
        encoder=partial(json.dumps, separators=(",", ":")), decoder=json.loads, **kwargs
    )

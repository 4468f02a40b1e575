"""The JSON the service sends: API bodies and WebSocket messages."""

import json
from datetime import date
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """`value` as JSON (UTF-8), datetimes as ISO 8601 text as `isoformat()` writes them.

    orjson writes a list page in a tenth of the stdlib's time. The stdlib writes what orjson
    refuses, an integer past 64 bits, which a stored event or fact may hold, so nothing that
    can be stored fails to go out.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, default=_iso, ensure_ascii=False).encode()


def dumps_text(value: Any) -> str:
    """`dumps` as text, for a WebSocket frame."""
    return dumps(value).decode()


def _iso(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")

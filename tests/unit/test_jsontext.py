"""The service's JSON encoder writes what the stdlib wrote, and what orjson refuses too."""

import json
from datetime import UTC, datetime, timedelta, timezone

from service.jsontext import dumps, dumps_text


def test_datetimes_are_written_as_isoformat_writes_them():
    times = [
        datetime(2026, 12, 4, 18, 52, 37, 123456, tzinfo=UTC),
        datetime(2026, 12, 4, 18, 52, 37, tzinfo=UTC),
        datetime(2026, 12, 4, 18, 52, 37, 5, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2026, 12, 4, 18, 52, 37),
    ]
    assert json.loads(dumps(times)) == [moment.isoformat() for moment in times]


def test_values_read_back_as_the_stdlib_reads_its_own():
    value = {"name": "wéb-1 ✓", "ports": [22, 80], "ok": True, "none": None, "ratio": 0.5}
    assert json.loads(dumps(value)) == json.loads(json.dumps(value))
    assert dumps_text(value) == dumps(value).decode()


def test_an_integer_past_64_bits_goes_out_exactly():
    value = {"size": 2**70, "at": datetime(2026, 1, 1, tzinfo=UTC), "name": "é"}
    assert json.loads(dumps(value)) == {
        "size": 2**70,
        "at": "2026-01-01T00:00:00+00:00",
        "name": "é",
    }


def test_integer_keys_become_text_as_with_the_stdlib():
    assert json.loads(dumps({1: "a"})) == {"1": "a"}

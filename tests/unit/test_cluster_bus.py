"""Notes between instances: packed under NOTIFY's payload limit, in order, coalesced."""

import json

from service.cluster.bus import MAX_PAYLOAD, asyncpg_dsn, coalesce, notes_in, pack


def test_notes_are_packed_in_order_into_payloads_under_the_limit():
    notes = [
        {"t": "events", "task": n, "topics": ["all"] * 20, "from": n, "to": n} for n in range(400)
    ]

    payloads = pack(notes)

    assert len(payloads) > 1
    assert all(len(payload.encode()) <= MAX_PAYLOAD for payload in payloads)
    assert [note for payload in payloads for note in json.loads(payload)] == notes


def test_a_note_too_big_for_one_payload_is_left_out(caplog):
    huge = {"t": "notice", "event": "audit.drift", "payload": {"text": "x" * MAX_PAYLOAD}}

    assert pack([{"t": "wake"}, huge, {"t": "cancel", "task": 3}]) == [
        '[{"t":"wake"},{"t":"cancel","task":3}]'
    ]
    assert "too big" in caplog.text


def test_only_the_last_progress_of_a_task_and_one_wake_are_sent():
    notes = [
        {"t": "wake"},
        {"t": "progress", "task": 1, "progress": {"tasks_started": 1}},
        {"t": "progress", "task": 2, "progress": {"tasks_started": 1}},
        {"t": "events", "task": 1, "from": 1, "to": 4},
        {"t": "progress", "task": 1, "progress": {"tasks_started": 2}},
        {"t": "wake"},
    ]

    assert coalesce(notes) == [notes[0], notes[2], notes[3], notes[4]]


def test_the_database_url_is_given_to_asyncpg_without_tortoise_options():
    url = "postgres://pbd:secret@db.internal:5432/pbd?minsize=2&maxsize=10"

    assert asyncpg_dsn(url) == "postgresql://pbd:secret@db.internal:5432/pbd"


def test_a_payload_that_is_not_a_list_of_notes_is_ignored(caplog):
    assert notes_in('[{"t":"wake"}]') == [{"t": "wake"}]
    for payload in ("not json", '{"t":"wake"}', '["wake"]', "[1, 2]"):
        assert notes_in(payload) == []
    assert "not a list of notes" in caplog.text

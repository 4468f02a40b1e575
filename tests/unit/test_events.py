"""Runner events as stored and sent: trimming, progress figures, numbered batched storage."""

import pytest

from service.models import Server, Task, TaskEvent, TaskKind
from service.tasks import events as task_events
from service.tasks.events import MAX_TEXT, EventLog, Progress, stored_batches, trim_event
from tests.unit.helpers import raw_event

# trim_event -------------------------------------------------------------------------------


def test_trim_keeps_names_host_and_the_short_result():
    raw = raw_event(
        "runner_on_failed",
        7,
        stdout="fatal: [web-1]: FAILED!",
        host="web-1",
        play="Setup",
        task="Install packages",
        task_action="ansible.builtin.apt",
        role="packages",
        duration=1.5,
        res={"msg": "No package matching 'nope'", "rc": 100, "failed": True, "invocation": {}},
    )

    assert trim_event(raw) == {
        "event": "runner_on_failed",
        "counter": 7,
        "created": "2025-01-01T00:00:00",
        "host": "web-1",
        "play": "Setup",
        "task": "Install packages",
        "task_action": "ansible.builtin.apt",
        "role": "packages",
        "duration": 1.5,
        "stdout": "fatal: [web-1]: FAILED!",
        "result": {"msg": "No package matching 'nope'", "rc": 100, "failed": True},
    }


def test_trim_omits_empty_values_and_falls_back_to_remote_addr():
    trimmed = trim_event(raw_event("runner_on_skipped", 3, remote_addr="10.0.0.5", role=""))

    assert trimmed == {
        "event": "runner_on_skipped",
        "counter": 3,
        "created": "2025-01-01T00:00:00",
        "host": "10.0.0.5",
    }


def test_trim_survives_an_event_without_event_data():
    assert trim_event({"event": "verbose", "stdout": "hi"}) == {"event": "verbose", "stdout": "hi"}


def test_trim_clips_long_stdout_and_result_text():
    long = "x" * (MAX_TEXT + 10)
    trimmed = trim_event(raw_event("runner_on_ok", 1, stdout=long, res={"stdout": long}))

    expected = "x" * MAX_TEXT + "... [10 more characters]"
    assert trimmed["stdout"] == expected
    assert trimmed["result"]["stdout"] == expected


def test_trim_keeps_text_of_exactly_the_limit():
    text = "y" * MAX_TEXT
    assert trim_event(raw_event("verbose", 1, stdout=text))["stdout"] == text


@pytest.mark.parametrize(
    ("kind", "result", "changed"),
    [
        ("runner_on_ok", {"changed": True}, True),
        ("runner_on_ok", {}, False),
        ("runner_on_failed", {"changed": True}, True),
    ],
)
def test_trim_marks_changed_for_ok_results_and_results_that_say_so(kind, result, changed):
    assert trim_event(raw_event(kind, 1, res=result))["changed"] is changed


def test_trim_has_no_changed_flag_when_a_failure_does_not_say():
    assert "changed" not in trim_event(raw_event("runner_on_failed", 1, res={"msg": "boom"}))


def test_trim_adds_every_stats_counter_for_playbook_on_stats():
    trimmed = trim_event(
        raw_event("playbook_on_stats", 9, ok={"web-1": 3}, changed={"web-1": 1}, dark=None)
    )

    assert trimmed["stats"] == {
        "ok": {"web-1": 3},
        "changed": {"web-1": 1},
        "failures": {},
        "dark": {},
        "skipped": {},
        "rescued": {},
        "ignored": {},
    }


# Progress ---------------------------------------------------------------------------------


def test_progress_counts_tasks_and_per_host_outcomes():
    progress = Progress(total_tasks=4)
    events = [
        {"event": "playbook_on_start"},
        {"event": "playbook_on_task_start", "task": "Ping"},
        {"event": "runner_on_ok", "host": "a", "changed": True},
        {"event": "runner_on_ok", "host": "b", "changed": False},
        {"event": "playbook_on_task_start", "task": "Install"},
        {"event": "runner_on_failed", "host": "a", "changed": True},
        {"event": "runner_on_skipped", "host": "b"},
        {"event": "runner_on_unreachable", "host": "c"},
    ]

    changed = [progress.update(event) for event in events]

    assert changed == [False, True, True, True, True, True, True, True]
    assert progress.as_dict() == {
        "tasks_started": 2,
        "total_tasks": 4,
        "current_task": "Install",
        "hosts": {
            "a": {"ok": 1, "changed": 1, "failed": 1, "skipped": 0, "unreachable": 0},
            "b": {"ok": 1, "changed": 0, "failed": 0, "skipped": 1, "unreachable": 0},
            "c": {"ok": 0, "changed": 0, "failed": 0, "skipped": 0, "unreachable": 1},
        },
    }


def test_progress_ignores_host_results_without_a_host():
    progress = Progress()

    assert progress.update({"event": "runner_on_ok"}) is False
    assert progress.hosts == {}


# EventLog ---------------------------------------------------------------------------------


@pytest.fixture
async def task(client) -> Task:
    """A task row (the `client` fixture has opened a fresh database)."""
    server = await Server.create(name="web-1", host="10.0.0.5")
    return await Task.create(kind=TaskKind.CONNECTION_TEST, server=server)


def event(kind: str, host: str | None = None) -> dict:
    return {"event": kind, **({"host": host} if host else {})}


async def test_event_log_numbers_events_contiguously_from_first_seq(task):
    log = EventLog(task.id, first_seq=5)

    assert [log.append(event("a")), log.append(event("b")), log.append(event("c"))] == [5, 6, 7]
    assert log.next_seq == 8


async def test_event_log_stores_pending_events_on_flush(task):
    log = EventLog(task.id, first_seq=1)
    log.append(event("playbook_on_start"))
    log.append(event("runner_on_ok", host="web-1"))
    await log.flush()
    log.append(event("playbook_on_stats"))
    await log.flush()

    rows = await TaskEvent.filter(task_id=task.id).order_by("counter")
    assert [(r.counter, r.event, r.host) for r in rows] == [
        (1, "playbook_on_start", None),
        (2, "runner_on_ok", "web-1"),
        (3, "playbook_on_stats", None),
    ]
    assert rows[1].data == {"event": "runner_on_ok", "host": "web-1"}
    assert log.pending == []
    assert [[seq for seq, _ in batch] async for batch in stored_batches(task.id, after=1)] == [
        [2, 3]
    ]


async def test_stored_events_come_a_batch_at_a_time(task, monkeypatch):
    monkeypatch.setattr(task_events, "REPLAY_BATCH", 2)
    log = EventLog(task.id, first_seq=1)
    for kind in ("a", "b", "c", "d", "e"):
        log.append(event(kind))
    await log.flush()

    batches = [[seq for seq, _ in batch] async for batch in stored_batches(task.id, after=0)]

    assert batches == [[1, 2], [3, 4], [5]]


async def test_event_log_keeps_events_pending_until_committed(task, monkeypatch):
    log = EventLog(task.id, first_seq=1)
    log.append(event("a"))

    async def failing_bulk_create(*args, **kwargs):
        raise ConnectionError("database is gone")

    monkeypatch.setattr(TaskEvent, "bulk_create", failing_bulk_create)
    with pytest.raises(ConnectionError):
        await log.flush()
    assert [seq for seq, _ in log.pending] == [1]
    assert [m["seq"] for _, m in log.pending_messages()] == [1]

    monkeypatch.undo()
    await log.flush()
    assert log.pending == []
    assert await TaskEvent.filter(task_id=task.id).count() == 1


async def test_event_log_keeps_events_appended_while_a_flush_is_in_flight(task, monkeypatch):
    log = EventLog(task.id, first_seq=1)
    log.append(event("a"))
    real_bulk_create = TaskEvent.bulk_create

    async def append_during_commit(objects, *args, **kwargs):
        log.append(event("b"))  # arrives while the batch is being written
        return await real_bulk_create(objects, *args, **kwargs)

    monkeypatch.setattr(TaskEvent, "bulk_create", append_during_commit)
    await log.flush()

    assert [seq for seq, _ in log.pending] == [2]
    assert [m["event"]["event"] for _, m in log.pending_messages()] == ["b"]
    assert await TaskEvent.filter(task_id=task.id).count() == 1


async def test_event_log_messages_are_typed_task_events(task):
    log = EventLog(task.id, first_seq=3)
    log.append(event("runner_on_ok", host="web-1"))

    assert log.pending_messages() == [
        (
            3,
            {
                "type": "task.event",
                "task_id": task.id,
                "seq": 3,
                "event": {"event": "runner_on_ok", "host": "web-1"},
            },
        )
    ]


def test_trim_keeps_plain_text_without_terminal_colours():
    raw = {
        "event": "runner_on_ok",
        "stdout": "\x1b[0;32mok: [web-1]\x1b[0m \x1b]0;title\x07done",
        "event_data": {
            "host": "web-1",
            "res": {"msg": "\x1b[1;31mred\x1b[0m", "stderr": "a\x1bMb"},
        },
    }

    event = trim_event(raw)

    assert event["stdout"] == "ok: [web-1] done"
    assert event["result"] == {"msg": "red", "stderr": "ab"}

"""Runner events as the service keeps and sends them: trimmed, numbered, stored in batches.

Each event of a task gets a `seq` that keeps growing across attempts, so `after=seq` replays
are exact. Events are published the moment they arrive and written to the database in
batches; until a batch is committed the event stays in `pending`, which replay reads too.
"""

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from service.jsontext import dumps_text
from service.models import TaskEvent

log = logging.getLogger(__name__)

MAX_TEXT = 4096
RESULT_KEYS = (
    "msg",
    "rc",
    "changed",
    "failed",
    "skipped",
    "unreachable",
    "stdout",
    "stderr",
    "skip_reason",
    "censored",
    "attempts",
)
HOST_RESULTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


TERMINAL_ESCAPE_RE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])"
)
"""ANSI/VT100 control sequences (CSI colours, OSC titles, two-byte escapes) that Ansible
writes to its terminal: kept text is plain, and clients colour it from the event type."""


def _clip(value: Any) -> Any:
    """Plain text of at most MAX_TEXT characters."""
    if not isinstance(value, str):
        return value
    value = TERMINAL_ESCAPE_RE.sub("", value)
    if len(value) > MAX_TEXT:
        return value[:MAX_TEXT] + f"... [{len(value) - MAX_TEXT} more characters]"
    return value


def trim_event(raw: dict[str, Any]) -> dict[str, Any]:
    """The part of an ansible-runner event worth keeping: names, host, status, short result."""
    data = raw.get("event_data") or {}
    event: dict[str, Any] = {
        "event": raw.get("event", ""),
        "counter": raw.get("counter"),
        "created": raw.get("created"),
        "host": data.get("host") or data.get("remote_addr"),
        "play": data.get("play"),
        "task": data.get("task"),
        "task_action": data.get("task_action"),
        "role": data.get("role"),
        "duration": data.get("duration"),
        "stdout": _clip(raw.get("stdout", "")),
    }
    result = data.get("res")
    if isinstance(result, dict):
        event["result"] = {key: _clip(result[key]) for key in RESULT_KEYS if key in result}
        if raw.get("event") == "runner_on_ok" or "changed" in result:
            event["changed"] = bool(result.get("changed"))
    if raw.get("event") == "playbook_on_stats":
        event["stats"] = {
            name: data.get(name) or {}
            for name in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")
        }
    return {key: value for key, value in event.items() if value not in (None, "")}


class Progress:
    """Running figures of a task: task count, current task, per-host outcome counters."""

    def __init__(self, total_tasks: int | None = None) -> None:
        self.tasks_started = 0
        self.total_tasks = total_tasks
        self.current_task: str | None = None
        self.hosts: dict[str, dict[str, int]] = {}

    def update(self, event: dict[str, Any]) -> bool:
        """Fold one trimmed event in; True when the figures changed."""
        kind = event.get("event")
        if kind == "playbook_on_task_start":
            self.tasks_started += 1
            self.current_task = event.get("task")
            return True
        outcome = HOST_RESULTS.get(kind or "")
        if outcome is None or not event.get("host"):
            return False
        counters = self.hosts.setdefault(
            event["host"], {"ok": 0, "changed": 0, "failed": 0, "skipped": 0, "unreachable": 0}
        )
        counters[outcome] += 1
        if outcome == "ok" and event.get("changed"):
            counters["changed"] += 1
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "tasks_started": self.tasks_started,
            "total_tasks": self.total_tasks,
            "current_task": self.current_task,
            "hosts": self.hosts,
        }


def event_message(task_id: int, seq: int, event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "task.event", "task_id": task_id, "seq": seq, "event": event}


class EventLog:
    """The events of one running task: numbered, published, then stored in batches."""

    def __init__(self, task_id: int, first_seq: int) -> None:
        self.task_id = task_id
        self.next_seq = first_seq
        self.pending: list[tuple[int, dict[str, Any]]] = []

    def append(self, event: dict[str, Any]) -> int:
        seq = self.next_seq
        self.next_seq += 1
        self.pending.append((seq, event))
        return seq

    async def flush(self) -> tuple[int, int] | None:
        """Store what is pending; entries leave `pending` only once committed. The seqs
        stored (first, last), or None if there was nothing."""
        if not self.pending:
            return None
        batch = list(self.pending)
        await TaskEvent.bulk_create(
            [
                TaskEvent(
                    task_id=self.task_id,
                    counter=seq,
                    event=event.get("event", "")[:64],
                    host=(event.get("host") or None) and str(event["host"])[:253],
                    data=event,
                )
                for seq, event in batch
            ]
        )
        del self.pending[: len(batch)]
        return batch[0][0], batch[-1][0]

    def pending_messages(self) -> list[tuple[int, dict[str, Any]]]:
        return [(seq, event_message(self.task_id, seq, event)) for seq, event in self.pending]


REPLAY_BATCH = 500
"""Stored events read at a time by a replay: one batch is all a replay of any length holds."""


async def stored_batches(task_id: int, after: int) -> AsyncIterator[list[tuple[int, str]]]:
    """The stored events of a task after seq `after`, oldest first, as (seq, message text),
    a batch at a time (keyset on the (task, counter) index)."""
    last = after
    while True:
        rows = (
            await TaskEvent.filter(task_id=task_id, counter__gt=last)
            .order_by("counter")
            .limit(REPLAY_BATCH)
            .values_list("counter", "data")
        )
        if not rows:
            return
        yield [(seq, dumps_text(event_message(task_id, seq, data))) for seq, data in rows]
        if len(rows) < REPLAY_BATCH:
            return
        last = rows[-1][0]


async def log_lines(task_id: int, limit: int) -> list[str]:
    """The console lines of a task's last `limit` events, oldest first."""
    rows = await TaskEvent.filter(task_id=task_id).order_by("-counter").limit(limit)
    return [
        line
        for row in reversed(rows)
        for line in (row.data.get("stdout") or "").splitlines()
        if line.strip()
    ]

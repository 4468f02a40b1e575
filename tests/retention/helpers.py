"""Rows of a given age (the API cannot backdate them) and a clock the tests move."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from service.models import Server, Task, TaskEvent, TaskKind, TaskStatus
from service.models.tasks import FINISHED_STATUSES

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def event_data(counter: int, host: str = "web-1") -> dict[str, Any]:
    """A stored event as big as a real one: a task result with a line of output."""
    return {
        "event": "runner_on_ok",
        "counter": counter,
        "created": "2026-06-01T12:00:00.000000",
        "host": host,
        "play": "Audit the server",
        "task": f"Read the state of check {counter}",
        "task_action": "ansible.builtin.command",
        "role": "audit",
        "duration": 0.42,
        "stdout": f'ok: [{host}] => {{"changed": false, "stdout": "check {counter} passed"}}',
        "result": {"rc": 0, "changed": False, "stdout": f"check {counter} passed " * 8},
        "changed": False,
    }


async def make_task(
    server: Server | None,
    *,
    age_days: float = 0,
    events: int = 0,
    kind: TaskKind = TaskKind.CONNECTION_TEST,
    status: TaskStatus = TaskStatus.SUCCESSFUL,
    now: datetime = NOW,
    **fields: Any,
) -> Task:
    """A task that finished (or was queued) `age_days` ago, with `events` events as old."""
    when = now - timedelta(days=age_days)
    task = await Task.create(
        kind=kind,
        status=status,
        server=server,
        server_ids=[server.id] if server else [],
        finished_at=when if status in FINISHED_STATUSES else None,
        **fields,
    )
    await TaskEvent.bulk_create(
        [
            TaskEvent(task=task, counter=n, event="runner_on_ok", host="web-1", data=event_data(n))
            for n in range(1, events + 1)
        ]
    )
    await Task.filter(id=task.id).update(created=when, last_seq=events)
    await TaskEvent.filter(task_id=task.id).update(created=when)
    return task


class MovableClock:
    """`now()` stands still until `advance`; each `sleep` ends once the clock has been moved
    past it. Every background component of the app sleeps on this clock; the sleeps of the
    one under test (the asyncio task named `sleeper`) are announced on `sleeps`."""

    def __init__(self, now: datetime = NOW, sleeper: str = "retention") -> None:
        self._now = now
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []
        self.sleeper = sleeper
        self.sleeps: asyncio.Queue[float] = asyncio.Queue()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        done = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + timedelta(seconds=seconds), done))
        task = asyncio.current_task()
        if task is not None and task.get_name() == self.sleeper:
            self.sleeps.put_nowait(seconds)
        await done

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        for wake, done in list(self._sleepers):
            if wake <= self._now:
                self._sleepers.remove((wake, done))
                if not done.done():
                    done.set_result(None)

    async def next_sleep(self) -> float:
        """The seconds of the next sleep the job starts (it has finished what came before)."""
        async with asyncio.timeout(30):
            return await self.sleeps.get()

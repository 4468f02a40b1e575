"""Shared pieces of the unit tests: a fake WebSocket, a fake Ansible run and polling helpers."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.ansible.runner import PlaybookSpec, RunControl, RunResult

FINISHED = {"successful", "failed", "cancelled", "timeout", "interrupted"}
SERVICE_PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForUnitTestsOnly000000000 pb-deployer"
)


class FakeWebSocket:
    """Just enough of `web.WebSocketResponse` for the hub: `closed`, `send_str`, `close`.

    `stuck=True` makes `send_str` never return, like a client that stopped reading.
    """

    def __init__(self, *, stuck: bool = False) -> None:
        self.sent: list[str] = []
        self.closed = False
        self.close_code: int | None = None
        self.close_message: bytes | None = None
        self.closes: list[tuple[int, bytes]] = []
        self._unblock = asyncio.Event()
        if not stuck:
            self._unblock.set()

    async def send_str(self, text: str) -> None:
        await self._unblock.wait()
        self.sent.append(text)

    async def close(self, *, code: int, message: bytes = b"") -> bool:
        self.closed, self.close_code, self.close_message = True, code, message
        self.closes.append((code, message))
        return True


async def settle(rounds: int = 5) -> None:
    """Let the tasks that are ready run (sender tasks, scheduled closes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def wait_until(predicate: Callable[[], Any], timeout: float = 5, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        await asyncio.sleep(0.01)


async def wait_for_task(api, task_id: int, statuses=FINISHED, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        reply = await api.get(f"/api/v1/tasks/{task_id}")
        assert reply.status == 200, reply.body
        if reply.body["status"] in statuses:
            return reply.body
        assert time.monotonic() < deadline, f"task {task_id} still {reply.body['status']}"
        await asyncio.sleep(0.02)


async def create_server(api, name: str = "web-1", host: str = "10.0.0.5") -> dict:
    reply = await api.post("/api/v1/servers", json={"name": name, "host": host})
    assert reply.status == 201, reply.body
    return reply.body


async def start_task(api, path: str, **kwargs: Any) -> dict:
    """POST an endpoint that queues a task; return the task."""
    reply = await api.post(path, **kwargs)
    assert reply.status == 202, reply.body
    return reply.body["task"]


# Synthetic ansible-runner output ---------------------------------------------------------


def raw_event(kind: str, counter: int, stdout: str = "", **event_data: Any) -> dict[str, Any]:
    """An event as ansible-runner hands it to the event handler."""
    return {
        "event": kind,
        "counter": counter,
        "pid": 123,
        "stdout": stdout,
        "created": "2025-01-01T00:00:00",
        "event_data": event_data,
    }


def playbook_events(host: str, outcome: str = "ok", message: str = "") -> list[dict[str, Any]]:
    """start, one task, one host outcome (`ok`, `failed`, `unreachable`), stats."""
    result = {"changed": False, **({"msg": message} if message else {})}
    counters = {"ok": "ok", "failed": "failures", "unreachable": "dark"}
    return [
        raw_event("playbook_on_start", 1),
        raw_event("playbook_on_task_start", 2, task="Ping", play="all"),
        raw_event(f"runner_on_{outcome}", 3, host=host, task="Ping", res=result),
        raw_event("playbook_on_stats", 4, **{counters[outcome]: {host: 1}}),
    ]


def run_result(
    status: str = "successful",
    *,
    ok: tuple[str, ...] = (),
    failures: tuple[str, ...] = (),
    dark: tuple[str, ...] = (),
    custom_stats: dict[str, Any] | None = None,
) -> RunResult:
    stats = {
        "ok": dict.fromkeys(ok, 1),
        "failures": dict.fromkeys(failures, 1),
        "dark": dict.fromkeys(dark, 1),
    }
    rc = 0 if status == "successful" else 2
    return RunResult(status=status, rc=rc, stats=stats, custom_stats=custom_stats or {})


@dataclass
class Outcome:
    """What one fake run emits and returns."""

    events: list[dict[str, Any]]
    result: RunResult


def success(host: str = "web-1", **reports: Any) -> Outcome:
    """A successful run; `reports` are set_stats data for `host` (e.g. ping=facts)."""
    custom_stats = {key: {host: value} for key, value in reports.items()}
    return Outcome(playbook_events(host), run_result(ok=(host,), custom_stats=custom_stats))


def unreachable(host: str = "web-1") -> Outcome:
    return Outcome(
        playbook_events(host, "unreachable", "ssh: connect to host: timed out"),
        run_result("failed", dark=(host,)),
    )


def failure(host: str = "web-1") -> Outcome:
    return Outcome(
        playbook_events(host, "failed", "package not found"),
        run_result("failed", failures=(host,)),
    )


@dataclass
class Call:
    spec: PlaybookSpec
    control: RunControl
    saw_cancel: bool = False


@dataclass
class FakeAnsible:
    """Stands in for `run_playbook`: emits scripted events and returns a scripted result.

    `outcomes` are used one per run (the last one repeats). While `gate` is set up and not
    open, a run waits, polling the cancel flag like ansible-runner's cancel_callback does.
    """

    outcomes: list[Outcome] = field(default_factory=lambda: [success()])
    gate: asyncio.Event | None = None
    calls: list[Call] = field(default_factory=list)

    def hold(self) -> None:
        self.gate = asyncio.Event()

    def release(self) -> None:
        assert self.gate is not None
        self.gate.set()

    async def __call__(
        self,
        spec: PlaybookSpec,
        run_dir: Path,
        on_event: Callable[[dict[str, Any]], None],
        control: RunControl,
    ) -> RunResult:
        call = Call(spec, control)
        self.calls.append(call)
        outcome = self.outcomes[min(len(self.calls), len(self.outcomes)) - 1]
        on_event(outcome.events[0])
        while self.gate is not None and not self.gate.is_set():
            if control.cancel_requested.is_set():
                call.saw_cancel = True
                return RunResult(status="canceled", rc=-9)
            await asyncio.sleep(0.01)
        for event in outcome.events[1:]:
            on_event(event)
        return outcome.result


def install_fake_ansible(monkeypatch, fake: FakeAnsible) -> FakeAnsible:
    """Route the engine's runs to `fake`; no SSH key is generated."""
    monkeypatch.setattr("service.tasks.engine.run_playbook", fake)
    monkeypatch.setattr(
        "service.tasks.engine.ensure_service_key", lambda settings: SERVICE_PUBLIC_KEY
    )
    return fake

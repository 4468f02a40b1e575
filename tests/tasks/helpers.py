"""Helpers for tests that run real playbooks through the API."""

import asyncio
import time
from typing import Any

FINISHED = {"successful", "failed", "cancelled", "timeout", "interrupted"}


async def wait_for_task(
    api, task_id: int, timeout: float = 180, statuses=FINISHED
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply = await api.get(f"/api/v1/tasks/{task_id}")
        assert reply.status == 200, reply.body
        if reply.body["status"] in statuses:
            return reply.body
        assert time.monotonic() < deadline, f"task {task_id} still {reply.body['status']}"
        await asyncio.sleep(0.2)


async def create_server(api, host, key_path, name=None, **extra) -> dict[str, Any]:
    reply = await api.post(
        "/api/v1/servers",
        json={
            "name": name or host.name,
            "host": host.ip,
            "port": host.port,
            "root_username": "root",
            "manual_key_path": str(key_path),
            **extra,
        },
    )
    assert reply.status == 201, reply.body
    return reply.body


async def start(api, path: str) -> dict[str, Any]:
    reply = await api.post(path)
    assert reply.status == 202, reply.body
    assert reply.headers["Location"] == f"/api/v1/tasks/{reply.body['task']['id']}"
    return reply.body["task"]


async def no_ansible_left(data_dir, timeout: float = 30) -> list[tuple[int, str]]:
    """Wait until no ansible-playbook process of `data_dir` is left; return what is left.

    A killed process disappears from the list once it has exited (its command line is then
    empty), which on a loaded machine can take a moment: wait on that, with a deadline.
    """
    deadline = time.monotonic() + timeout
    while (left := ansible_processes(data_dir)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return left


def ansible_processes(data_dir) -> list[tuple[int, str]]:
    """ansible-playbook processes (and their forks) of the service using `data_dir`.

    Their command line names the run's inventory, which lies under the data dir; other
    test runs or molecule on the same machine are not counted.
    """
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "ansible-playbook" in cmdline and str(data_dir) in cmdline:
            found.append((int(entry.name), cmdline))
    return found

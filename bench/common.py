"""Shared pieces of the benchmarks: percentiles and summaries."""

import os
import statistics
from pathlib import Path


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_with_children(pid: int) -> float:
    """`cpu_seconds` plus what its children that have ended (and been waited for) used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy (not idle or waiting) so far."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def summary(samples_ms: list[float]) -> str:
    return (
        f"n={len(samples_ms)} p50={percentile(samples_ms, 0.5):.2f}ms "
        f"p99={percentile(samples_ms, 0.99):.2f}ms mean={statistics.fmean(samples_ms):.2f}ms"
    )


# -- Shared by the benchmarks that run playbooks on target hosts -----------------------------
# (bench.engine_overhead, bench.event_latency, bench.api_under_load)

import asyncio  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402

BENCH_HOSTS_LAB = "4"
"""Our own lab of target hosts (pbd4-t*, 10.213.4.0/24), apart from the default one."""

FINISHED = frozenset({"successful", "failed", "cancelled", "timeout", "interrupted"})


@contextmanager
def lab_hosts(count: int) -> Iterator[tuple[Any, list[Any]]]:
    """Boot `count` target hosts in lab 4 (harness, hosts) and always remove them afterwards."""
    # tests.hosts reads the lab once, at import: set it before the first import.
    os.environ.setdefault("PBD_HOSTS_LAB", BENCH_HOSTS_LAB)
    from tests.hosts import TargetHosts
    from tests.hosts.system import LAB

    if not LAB:
        raise RuntimeError("PBD_HOSTS_LAB is empty: the benchmarks never use the default lab")
    harness = TargetHosts()
    started = time.perf_counter()
    try:
        hosts = harness.start(count)
        print(f"booted {count} target hosts (lab {LAB}) in {time.perf_counter() - started:.1f}s")
        yield harness, hosts
    finally:
        harness.stop()


class ServiceClient:
    """The few API calls the host benchmarks make, with the admin token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}
        self.session = aiohttp.ClientSession(headers=self.headers)

    async def close(self) -> None:
        await self.session.close()

    async def create_server(self, host: Any, key_path: object, name: str | None = None) -> dict:
        body = {
            "name": name or host.name,
            "host": host.ip,
            "port": host.port,
            "root_username": host.user,
            "manual_key_path": str(key_path),
        }
        async with self.session.post(f"{self.base_url}/api/v1/servers", json=body) as response:
            reply = await response.json()
            assert response.status == 201, reply
            return reply

    async def start(self, server_id: int, operation: str = "test-connection") -> dict:
        """POST an operation (`test-connection`, `security/audit`); the task as queued."""
        url = f"{self.base_url}/api/v1/servers/{server_id}/{operation}"
        async with self.session.post(url) as response:
            reply = await response.json()
            assert response.status == 202, reply
            return reply["task"]


class TaskWatcher:
    """One WebSocket subscribed to "all": when each task reached a final status, poll-free.

    Every `task.status` message is logged as (perf_counter at receipt, task id, status).
    """

    def __init__(self, client: ServiceClient) -> None:
        self.client = client
        self.log: list[tuple[float, int, str]] = []
        self._finished: dict[int, asyncio.Future[tuple[float, dict]]] = {}
        self.last_event: dict[int, float] = {}
        """perf_counter when the latest `task.event` of each task arrived."""
        self.updated = asyncio.Event()
        """Set on every `task.status` message; clear it, then wait for the next one."""
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "TaskWatcher":
        url = f"{self.client.base_url}/api/v1/ws"
        self._ws = await self.client.session.ws_connect(url, max_msg_size=0)
        assert (await self._ws.receive_json())["type"] == "hello"
        await self._ws.send_json({"type": "subscribe", "topic": "all"})
        assert (await self._ws.receive_json())["type"] == "subscribed"
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()

    def status_at(self, task_id: int, status: str) -> float | None:
        """perf_counter when the task's `status` message arrived (the first one), or None."""
        return next((at for at, tid, st in self.log if tid == task_id and st == status), None)

    def finished(self, task_id: int) -> "asyncio.Future[tuple[float, dict]]":
        """Resolves to (perf_counter when the final status arrived, the task)."""
        if task_id not in self._finished:
            self._finished[task_id] = asyncio.get_running_loop().create_future()
        return self._finished[task_id]

    async def _read(self) -> None:
        assert self._ws is not None
        async for frame in self._ws:
            received = time.perf_counter()
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            if message.get("type") == "task.event":
                self.last_event[message["task_id"]] = received
            if message.get("type") != "task.status":
                continue
            task = message["task"]
            self.log.append((received, task["id"], task["status"]))
            self.updated.set()
            if task["status"] in FINISHED:
                future = self.finished(task["id"])
                if not future.done():
                    future.set_result((received, task))


# -- Shared by the benchmarks that provision servers and deploy apps ---------------------------
# (bench.provisioning, bench.deploy)

TASK_TIMEOUT = 1800
"""Seconds a round of tasks may take before the benchmark gives up."""


async def api_json(
    client: ServiceClient, method: str, path: str, body: object = None, status: int = 200
) -> dict:
    """One call to /api/v1/<path> (JSON body when given); the reply, its status asserted."""
    url = f"{client.base_url}/api/v1/{path}"
    async with client.session.request(method, url, json=body) as response:
        reply = await response.json()
        assert response.status == status, (response.status, reply)
        return reply


async def run_together(
    client: ServiceClient,
    watcher: TaskWatcher,
    requests: list[tuple[str, object]],
) -> tuple[float, list[dict], list[dict]]:
    """POST every (path, body) at once (each answers 202 with a task); wait for them all.

    Returns the wall seconds from sending the POSTs to the last final `task.status` received,
    the 202 replies and the tasks as GET /tasks/{id} returns them, each one asserted successful.
    """
    started = time.perf_counter()
    replies = await asyncio.gather(
        *(api_json(client, "POST", path, body, status=202) for path, body in requests)
    )
    async with asyncio.timeout(TASK_TIMEOUT):
        done = await asyncio.gather(*(watcher.finished(reply["task"]["id"]) for reply in replies))
    wall = max(received for received, _ in done) - started
    tasks = [await api_json(client, "GET", f"tasks/{reply['task']['id']}") for reply in replies]
    for task in tasks:
        assert task["status"] == "successful", (task["id"], task["kind"], task["error"])
    return wall, replies, tasks


def run_on_lab_hosts(bench: Callable[..., Awaitable[Any]], args: Any) -> Any:
    """Boot `args.hosts` lab hosts, run `bench(harness, hosts, args)`, report load and time."""
    began = time.perf_counter()
    print(f"load average at start: {os.getloadavg()}")
    with lab_hosts(args.hosts) as (harness, hosts):
        result = asyncio.run(bench(harness, hosts, args))
    print(f"load average at end: {os.getloadavg()}; total time {time.perf_counter() - began:.0f}s")
    return result


async def run_command(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run `argv` to its end in `cwd`; fail with the tail of its output unless it succeeded."""
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()[-3000:]

"""GET /api/v1/servers latency while playbooks run, vs the same requests with no runs.

The real `pb-deployer serve` process with 1,000 seeded servers (plus one per target host).
`--clients` concurrent clients (closed loop: each sends its next request when the previous
answer is read) ask for random pages of 50. Phases of `--duration` seconds alternate:

  idle:   no task running (baseline, same run);
  loaded: one loop per host (4 by default) POSTs an operation (`security/audit`, read-only,
          or `test-connection`), waits for its final `task.status` over the WebSocket, and
          starts the next one at once, so 4 playbook runs stay active throughout. The phase
          starts once all 4 are running; the time-weighted mean of runs active is reported.

Everything (service, ansible-playbook processes, SSH, this load generator) shares the same
2 cores; the target hosts run there too.

    .venv/bin/python -m bench.api_under_load [--servers 1000] [--hosts 4] [--clients 5]
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.api_latency import get_pages, seed
from bench.common import (
    FINISHED,
    ServiceClient,
    TaskWatcher,
    percentile,
    run_on_lab_hosts,
    summary,
)
from tests.service_process import running_service

OPERATIONS = {"audit": "security/audit", "ping": "test-connection"}


async def measure(
    url: str, headers: dict[str, str], pages: int, clients: int, duration: float
) -> list[float]:
    """Closed-loop GETs of random pages for `duration` seconds; latencies in ms."""
    return await get_pages(url, headers, pages, clients, duration=duration)


class RunLoops:
    """One loop per server: start the operation, wait until it finishes, start it again."""

    def __init__(self, api: ServiceClient, watcher: TaskWatcher, operation: str) -> None:
        self.api, self.watcher, self.operation = api, watcher, operation
        self.stopping = False
        self.completed: list[dict] = []
        self.loops: list[asyncio.Task[None]] = []

    def start(self, server_ids: list[int]) -> None:
        self.stopping = False
        self.loops = [asyncio.create_task(self._loop(sid)) for sid in server_ids]

    async def stop(self) -> None:
        """Let the runs in flight finish (no new ones), so the next idle phase is idle."""
        self.stopping = True
        await asyncio.gather(*self.loops)

    async def once(self, server_ids: list[int]) -> None:
        """One run on every server at once (the warm-up), not counted."""
        await asyncio.gather(*(self._run(sid) for sid in server_ids))

    async def _loop(self, server_id: int) -> None:
        while not self.stopping:
            self.completed.append(await self._run(server_id))

    async def _run(self, server_id: int) -> dict:
        task = await self.api.start(server_id, self.operation)
        _, done = await asyncio.wait_for(self.watcher.finished(task["id"]), 900)
        assert done["status"] == "successful", done
        return done

    def running_now(self) -> int:
        state: dict[int, str] = {}
        for _, task_id, status in self.watcher.log:
            state[task_id] = status
        return sum(1 for status in state.values() if status == "running")


def active_runs(log: list[tuple[float, int, str]], start: float, end: float) -> float:
    """Time-weighted mean number of tasks in `running` between start and end."""
    began: dict[int, float] = {}
    busy = 0.0
    for at, task_id, status in log:
        if status == "running":
            began[task_id] = at
        elif task_id in began:
            t0 = began.pop(task_id)
            busy += max(0.0, min(at, end) - max(t0, start))
    busy += sum(max(0.0, end - max(t0, start)) for t0 in began.values())
    return busy / (end - start)


def run_durations(log: list[tuple[float, int, str]]) -> list[float]:
    """Seconds from `running` to the final status of every finished task."""
    began: dict[int, float] = {}
    durations = []
    for at, task_id, status in log:
        if status == "running":
            began[task_id] = at
        elif status in FINISHED and task_id in began:
            durations.append(at - began.pop(task_id))
    return durations


async def bench(harness, hosts, args: argparse.Namespace) -> None:
    operation = OPERATIONS[args.operation]
    with tempfile.TemporaryDirectory(prefix="pbd-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        await seed(data_dir, args.servers)
        extra = {"PBD_LOG_LEVEL": "WARNING"}
        async with running_service(data_dir, extra_env=extra) as service:
            api = ServiceClient(service.base_url, service.token)
            try:
                servers = [await api.create_server(h, harness.private_key) for h in hosts]
                server_ids = [s["id"] for s in servers]
                url = f"{service.base_url}/api/v1/servers"
                pages = -(-(args.servers + len(hosts)) // 50)
                idle: list[float] = []
                loaded: list[float] = []
                mean_active: list[float] = []
                async with TaskWatcher(api) as watcher:
                    loops = RunLoops(api, watcher, operation)
                    # Warm-up: host keys and ControlPersist, then the API itself.
                    await loops.once(server_ids)
                    await measure(url, api.headers, pages, args.clients, 3)
                    for _ in range(args.phases):
                        idle += await measure(url, api.headers, pages, args.clients, args.duration)
                        loops.start(server_ids)
                        while loops.running_now() < len(server_ids):
                            watcher.updated.clear()
                            await asyncio.wait_for(watcher.updated.wait(), 300)
                        started = time.perf_counter()
                        loaded += await measure(
                            url, api.headers, pages, args.clients, args.duration
                        )
                        mean_active.append(active_runs(watcher.log, started, time.perf_counter()))
                        await loops.stop()
                    runs = len(loops.completed)
                    durations = run_durations(watcher.log)
            finally:
                await api.close()

    setup = f"50/page of {args.servers + len(hosts)} rows, {args.clients} closed-loop clients"
    active = ", ".join(f"{value:.2f}" for value in mean_active)
    print(
        f"GET /api/v1/servers ({setup}); {args.phases} x {args.duration:.0f}s per side, "
        f"alternating; loaded = {args.operation} looping on {len(hosts)} hosts "
        f"({runs} runs finished; mean runs active per loaded phase: {active})"
    )
    seconds = args.phases * args.duration
    print(f"run wall time (running -> finished), median: {statistics.median(durations):.1f}s")
    print(f"idle (baseline): {summary(idle)} ({len(idle) / seconds:.0f} req/s)")
    print(f"under load:      {summary(loaded)} ({len(loaded) / seconds:.0f} req/s)")
    for fraction, label in ((0.5, "p50"), (0.99, "p99")):
        ratio = percentile(loaded, fraction) / percentile(idle, fraction)
        print(f"{label} ratio loaded/idle: {ratio:.2f}x")
    print(f"p99 under load {percentile(loaded, 0.99):.2f}ms (aim <= 50ms)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--operation", choices=sorted(OPERATIONS), default="audit")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--phases", type=int, default=2, help="idle/loaded pairs")
    args = parser.parse_args()
    run_on_lab_hosts(bench, args)


if __name__ == "__main__":
    main()

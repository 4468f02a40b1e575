"""Service reads: `GET /services/{id}/{unit}` (status) and `/logs` against a real host.

Each read is timed from sending the request to its answer, cold and warm:
  cold: no SSH master connection to the host (the service's ControlPersist masters are
        closed before each sample), as for the first click after a pause;
  warm: the call right after another one (the master is up), as when clicking through.
Next to them, in the same run, the baselines on the same host and the same unit:
  ssh:     plain `ssh host systemctl show UNIT` (journalctl for logs), warm over a
           ControlPersist master of its own, cold with a new connection each time;
  ansible: plain `ansible -m command -a 'systemctl show UNIT'` (ad-hoc, no facts) with the
           service's inventory for the server and its ControlPath directory (warm only).
Where a read's time goes is printed from its task (queued -> running, ansible-playbook start
-> first event, first -> last event, last event -> finished) and the per-task durations of its
events. `GET /services/{id}` (the list) is timed too, and a warm status read sent while a
security audit (a longer task) runs on the same server.

    PBD_HOSTS_LAB=6 .venv/bin/python -m bench.service_reads [--warm 10] [--cold 5] [--beside 3]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from bench.common import (
    ServiceClient,
    TaskWatcher,
    api_json,
    percentile,
    run_command,
    run_on_lab_hosts,
)
from service.ansible.content import ANSIBLE_CONFIG, PROJECT_DIR
from service.ansible.inventory import render_inventory
from service.ansible.sshkeys import control_dir
from service.config import Settings
from tests.service_process import running_service

UNIT = "ssh.service"
LOG_LINES = 50
SHOW = "systemctl show --property=Id,LoadState,ActiveState,SubState,MainPID -- " + UNIT
JOURNAL = f"journalctl --unit {UNIT} --lines {LOG_LINES} --no-pager --quiet --output json"


def close_masters(directory: Path) -> int:
    """Close every SSH master connection whose socket is in `directory`; how many there were."""
    closed = 0
    for socket in directory.iterdir():
        os.spawnvp(
            os.P_WAIT,
            "ssh",
            ["ssh", "-q", "-o", f"ControlPath={socket}", "-O", "exit", "placeholder"],
        )
        closed += 1
    return closed


async def run(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds to run `argv` to its end (asserted successful)."""
    started = time.perf_counter()
    await run_command(argv, PROJECT_DIR, env)
    return time.perf_counter() - started


def when(text: str) -> float:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # ansible-runner's `created` is naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class Phases:
    """Where the time of each read went, from its task record and its events."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.tasks: dict[str, list[float]] = defaultdict(list)

    async def add(self, client: ServiceClient, task_id: int, sent: float, total: float) -> None:
        """`sent`: time.time() when the request went out (same clock as the task's stamps)."""
        task = await api_json(client, "GET", f"tasks/{task_id}")
        items = (await api_json(client, "GET", f"tasks/{task_id}/events"))["items"]
        events = [item["event"] for item in items]
        started = when(task["started_at"])
        finished = when(task["finished_at"])
        stamps = [when(event["created"]) for event in events if event.get("created")]
        first, last = (min(stamps), max(stamps)) if stamps else (started, finished)
        self.samples["request sent -> running"].append(started - sent)
        self.samples["running -> first event (ansible-playbook start)"].append(first - started)
        self.samples["first -> last event (the play)"].append(last - first)
        self.samples["last event -> finished"].append(finished - last)
        self.samples["finished -> answer received"].append(sent + total - finished)
        for event in events:
            if event.get("event", "").startswith("runner_on_") and event.get("duration"):
                self.tasks[event.get("task") or "?"].append(float(event["duration"]))

    def print(self, title: str) -> None:
        print(f"  where {title} goes (median ms):")
        for name, values in self.samples.items():
            print(f"    {name:<50} {statistics.median(values) * 1000:8.0f}")
        for name, values in self.tasks.items():
            print(f"    task {name!r:<45} {statistics.median(values) * 1000:8.0f} (x{len(values)})")


def line(label: str, seconds: list[float]) -> str:
    ms = [value * 1000 for value in seconds]
    return (
        f"  {label:<34} n={len(ms):<3} p50={percentile(ms, 0.5):8.0f}ms "
        f"p99={percentile(ms, 0.99):8.0f}ms"
    )


async def bench(harness, hosts, args: argparse.Namespace) -> None:
    host = hosts[0]
    with tempfile.TemporaryDirectory(prefix="pbd-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        settings = Settings(data_dir=data_dir)
        masters = control_dir(settings)
        own_masters = Path(tmp) / "ssh"
        own_masters.mkdir(mode=0o700)
        ssh = harness.ssh_args(host)
        ssh_warm = [ssh[0], "-o", "ControlMaster=auto", "-o", "ControlPersist=120"]
        ssh_warm += ["-o", f"ControlPath={own_masters}/%C", *ssh[1:]]
        async with running_service(data_dir, extra_env={"PBD_LOG_LEVEL": "WARNING"}) as service:
            client = ServiceClient(service.base_url, service.token)
            try:
                server = await client.create_server(host, harness.private_key, name="reads")
                sid = server["id"]
                from bench.engine_overhead import server_record

                inventory = Path(tmp) / "inventory.yml"
                inventory.write_text(render_inventory([server_record(server)], settings))
                ansible = str(Path(sys.executable).parent / "ansible")
                env = {
                    **os.environ,
                    "ANSIBLE_CONFIG": str(ANSIBLE_CONFIG),
                    "ANSIBLE_SSH_CONTROL_PATH_DIR": str(masters),
                }
                adhoc = [ansible, "all", "-i", str(inventory), "-m", "command", "-a", SHOW]
                paths = {
                    "status": f"services/{sid}/{UNIT}",
                    "logs": f"services/{sid}/{UNIT}/logs?lines={LOG_LINES}",
                }

                async def read(kind: str, phases: Phases | None = None) -> float:
                    sent, started = time.time(), time.perf_counter()
                    reply = await api_json(client, "GET", paths[kind])
                    total = time.perf_counter() - started
                    if phases is not None:
                        await phases.add(client, reply["task_id"], sent, total)
                    return total

                await read("status")  # host key, first run: not measured
                results: dict[str, list[float]] = defaultdict(list)
                phases = {"warm status": Phases(), "cold status": Phases()}
                closed, overlapped = [], []
                for _ in range(args.cold):
                    for kind in ("status", "logs"):
                        closed.append(close_masters(masters))
                        results[f"API {kind} cold"].append(
                            await read(kind, phases.get(f"cold {kind}"))
                        )
                    results["ssh systemctl show cold"].append(await run([*ssh, SHOW]))
                    results["ssh journalctl cold"].append(await run([*ssh, JOURNAL]))
                await run([*ssh_warm, "true"])
                await read("status")
                for _ in range(args.warm):
                    for kind in ("status", "logs"):
                        results[f"API {kind} warm"].append(
                            await read(kind, phases.get(f"warm {kind}"))
                        )
                    results["ssh systemctl show warm"].append(await run([*ssh_warm, SHOW]))
                    results["ssh journalctl warm"].append(await run([*ssh_warm, JOURNAL]))
                    results["ansible -m command warm"].append(await run(adhoc, env))
                    started = time.perf_counter()
                    await api_json(client, "GET", f"services/{sid}")
                    results["API list (GET /services/ID)"].append(time.perf_counter() - started)
                async with TaskWatcher(client) as watcher:
                    for _ in range(args.beside):
                        audit = await client.start(sid, "security/audit")
                        while watcher.status_at(audit["id"], "running") is None:
                            watcher.updated.clear()
                            if watcher.status_at(audit["id"], "running") is None:
                                await watcher.updated.wait()
                        results["API status warm, audit running"].append(await read("status"))
                        overlapped.append(not watcher.finished(audit["id"]).done())
                        await watcher.finished(audit["id"])
            finally:
                await client.close()
        close_masters(own_masters)
    print(f"unit {UNIT} on {host.name}; logs: {LOG_LINES} lines; load {os.getloadavg()}")
    print(f"  SSH masters closed before each cold read: {closed}")
    for kind in ("status", "logs"):
        for temperature in ("warm", "cold"):
            print(line(f"API {kind} {temperature}", results[f"API {kind} {temperature}"]))
    print(line("API status warm, audit running", results["API status warm, audit running"]))
    print(f"    (the audit was still running when the read answered: {overlapped})")
    print("  baselines (same run, same host):")
    for name in (
        "ssh systemctl show warm",
        "ssh systemctl show cold",
        "ssh journalctl warm",
        "ssh journalctl cold",
        "ansible -m command warm",
    ):
        print(line(name, results[name]))
    print(line("API list (GET /services/ID)", results["API list (GET /services/ID)"]))
    for title, recorded in phases.items():
        recorded.print(title)
    warm = percentile([v * 1000 for v in results["API status warm"]], 0.5)
    logs = percentile([v * 1000 for v in results["API logs warm"]], 0.5)
    print(f"target: warm p50 <= 2000ms: status {warm:.0f}ms, logs {logs:.0f}ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=1)
    parser.add_argument("--warm", type=int, default=10)
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--beside", type=int, default=3, help="reads while an audit runs")
    args = parser.parse_args()
    run_on_lab_hosts(bench, args)


if __name__ == "__main__":
    main()

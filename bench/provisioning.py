"""Provisioning through the service: setup + lockdown + audit on 1 host vs N hosts at once.

Each round runs on fresh hosts (lab 4) and its own freshly started `pb-deployer serve`
(new data directory, so no pinned host key or SSH master of an earlier round is reused),
started with PBD_WORKERS=N.

  1-host round (baseline): setup ({"upgrade": false}), then lockdown, then audit on one host.
  N-host round: the same three steps on all N servers, each step as one task that runs one
    playbook over all of them (`POST /servers/setup` with `server_ids`, ...); with
    `--per-server`, as N tasks sent at once (`POST /servers/{id}/setup` each: N
    ansible-playbook processes side by side, as the service did before).
  Then a second, idempotent lockdown on the N hosts (changes nothing: reported per host).

Each step's wall time runs from sending its POST(s) to the last final `task.status`
received over a WebSocket subscribed to "all" (poll-free). Beside it, the CPU seconds the
service used with its ended children (ansible-playbook and its forks: the controller) and
the CPU seconds the whole machine was busy (the controller plus the target hosts, which run
on the same 2 cores): a step whose busy time is near 2 x its wall was bound by the cores.
The host of the 1-host round is then replaced by a fresh one (`reset_host`) for the N-host
round.

    .venv/bin/python -m bench.provisioning [--hosts 5] [--per-server]
"""

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.common import (
    ServiceClient,
    TaskWatcher,
    api_json,
    cpu_seconds_with_children,
    machine_busy_seconds,
    run_on_lab_hosts,
    run_together,
)
from tests.service_process import running_service

STEPS = [("setup", {"upgrade": False}), ("security/lockdown", None), ("security/audit", None)]


def step_requests(operation: str, body: dict | None, ids: list[int], per_server: bool) -> list:
    """The POST(s) of one step: one per server, or one naming them all."""
    if per_server or len(ids) == 1:
        return [(f"servers/{sid}/{operation}", body) for sid in ids]
    return [(f"servers/{operation}", {**(body or {}), "server_ids": ids})]


async def provision_round(harness, hosts, workers: int, label: str, per_server: bool) -> dict:
    """setup, lockdown, audit on `hosts` (each step on all of them at once) in a new service."""
    with tempfile.TemporaryDirectory(prefix=f"pbd-bench-prov-{label}-") as tmp:
        extra = {"PBD_LOG_LEVEL": "WARNING", "PBD_WORKERS": str(workers)}
        async with running_service(Path(tmp) / "data", extra_env=extra) as service:
            client = ServiceClient(service.base_url, service.token)
            try:
                servers = [
                    await client.create_server(h, harness.private_key, name=f"{label}-{h.name}")
                    for h in hosts
                ]
                ids = [server["id"] for server in servers]
                walls: dict[str, float] = {}
                cpu: dict[str, tuple[float, float]] = {}
                pid = service.process.pid
                async with TaskWatcher(client) as watcher:
                    for operation, body in STEPS:
                        requests = step_requests(operation, body, ids, per_server)
                        before = cpu_seconds_with_children(pid), machine_busy_seconds()
                        walls[operation], _, _ = await run_together(client, watcher, requests)
                        await asyncio.sleep(0.5)  # the run's processes are reaped
                        cpu[operation] = (
                            cpu_seconds_with_children(pid) - before[0],
                            machine_busy_seconds() - before[1],
                        )
                        wall = walls[operation]
                        print(
                            f"  {label}: {operation} on {len(ids)} host(s) {wall:.1f}s; "
                            f"controller {cpu[operation][0]:.1f} CPU-s, "
                            f"machine busy {cpu[operation][1]:.1f} CPU-s"
                        )
                    audits = [
                        await api_json(client, "GET", f"servers/{sid}/security/audit")
                        for sid in ids
                    ]
                    scores = [audit["report"]["score"] for audit in audits]
                    failing = sorted(
                        {
                            finding["id"]
                            for audit in audits
                            for finding in audit["report"]["findings"]
                            if not finding["passed"]
                        }
                    )
                    again = changed = None
                    if len(ids) > 1:
                        requests = step_requests("security/lockdown", None, ids, per_server)
                        again, _, tasks = await run_together(client, watcher, requests)
                        changed = [
                            t["result"]["stats"]["changed"].get(name, 0)
                            for t in tasks
                            for name in t["progress"]["hosts"]
                        ]
                        print(f"  {label}: second lockdown on {len(ids)} host(s) {again:.1f}s")
            finally:
                await client.close()
    return {
        "walls": walls,
        "cpu": cpu,
        "scores": scores,
        "failing": failing,
        "again": again,
        "changed": changed,
    }


async def bench(harness, hosts, args: argparse.Namespace) -> None:
    one = await provision_round(harness, hosts[:1], args.hosts, "one", args.per_server)
    started = time.perf_counter()
    await asyncio.to_thread(harness.reset_host, hosts[0])  # pristine again for the N-host round
    print(f"  reset {hosts[0].name} to a fresh host in {time.perf_counter() - started:.1f}s")
    many = await provision_round(harness, hosts, args.hosts, "many", args.per_server)
    report(args, one, many)


def report(args: argparse.Namespace, one: dict, many: dict) -> None:
    n = args.hosts
    how = f"{n} tasks side by side" if args.per_server else "one task (one playbook run)"
    print(
        f"setup (upgrade false) + lockdown + audit through the API, PBD_WORKERS={n}; "
        f"1 host alone (baseline), then {n} hosts at once, each step as {how} "
        "(fresh hosts each round)"
    )
    for operation, _ in STEPS:
        a, b = one["walls"][operation], many["walls"][operation]
        print(f"  {operation:<18} 1 host {a:7.1f}s   {n} hosts {b:7.1f}s   ratio {b / a:.2f}x")
    a, b = sum(one["walls"].values()), sum(many["walls"].values())
    print(f"  {'total':<18} 1 host {a:7.1f}s   {n} hosts {b:7.1f}s   ratio {b / a:.2f}x")
    for name, run in (("1 host", one), (f"{n} hosts", many)):
        controller = sum(c for c, _ in run["cpu"].values())
        busy = sum(m for _, m in run["cpu"].values())
        wall = sum(run["walls"].values())
        print(
            f"  CPU, {name}: controller {controller:.1f} CPU-s, machine busy {busy:.1f} CPU-s "
            f"over {wall:.1f}s wall = {busy / wall / (os.cpu_count() or 1):.0%} of "
            f"{os.cpu_count()} cores (targets and the rest: {busy - controller:.1f} CPU-s)"
        )
    print(f"audit scores after lockdown: 1 host {one['scores']}, {n} hosts {many['scores']}")
    print(f"  failing findings: 1 host {one['failing']}, {n} hosts {many['failing']}")
    print(
        f"second (idempotent) lockdown on {n} hosts: {many['again']:.1f}s "
        f"(first {many['walls']['security/lockdown']:.1f}s); "
        f"changed tasks per host: {many['changed']}"
    )
    print(f"ratio {n} hosts / 1 host (setup+lockdown+audit wall): {b / a:.2f}x (aim <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument(
        "--per-server", action="store_true", help="one task per server (the old way)"
    )
    args = parser.parse_args()
    if args.hosts < 2:
        parser.error("--hosts must be at least 2")
    run_on_lab_hosts(bench, args)


if __name__ == "__main__":
    main()

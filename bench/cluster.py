"""Several instances on one PostgreSQL: claim latency and cross-instance event latency,
one instance vs three, in one run (PostgreSQL started by the bench, loopback only).

1. Claim latency: POST /servers/{id}/test-connection on the first instance until its
   task's `task.status` "running" reaches a WebSocket client on the last one (with three
   instances any of them may claim the task). Each task is a connection test to a
   loopback port that never answers, cancelled once its first task has begun.
2. Event latency: each runner event's `created` (set by ansible-runner in
   ansible-playbook, this machine's clock) to its arrival at a WebSocket client; with one
   instance the client is on the instance that runs the task (the baseline: the hub's own
   delivery), with three on an instance that does not (NOTIFY, then a read of the rows).
3. Throughput (`--queue N`, needs target hosts: lab 4 unless PBD_HOSTS_LAB says otherwise):
   N connection tests (ping.yml) over 3 hosts submitted at once through random
   instances, submit to last finish, with 1 instance and with 3 (a run per server at a
   time either way: the hosts bound it, the instances share it).

    .venv/bin/python -m bench.cluster [--rounds 40] [--queue 300]
"""

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from bench.common import run_on_lab_hosts, summary
from bench.event_latency import created_at
from tests.cluster.instances import Cluster, cluster, silent_port
from tests.storage.postgres import postgres_server


async def claim_and_events(group: Cluster, port: int, rounds: int) -> tuple[list, list]:
    """`rounds` tasks submitted on the first instance, heard by a client on every instance."""
    submitter = group.instances[0]
    claims: list[float] = []
    events: list[float] = []
    sockets = [await instance.ws().__aenter__() for instance in group.instances]
    try:
        for ws in sockets:
            await ws.send_json({"type": "subscribe", "topic": "all"})
            while json.loads((await ws.receive()).data)["type"] != "subscribed":
                pass
        for n in range(rounds):
            server = {"name": f"s{n}", "host": "127.0.0.1", "port": port}
            server = await submitter.ok("POST", "servers", json=server)
            started = time.perf_counter()
            accepted = await submitter.ok("POST", f"servers/{server['id']}/test-connection")
            heard = await asyncio.gather(
                *(hear(ws, accepted["task"]["id"], started, submitter) for ws in sockets)
            )
            runner = next(runner for _, _, runner in heard if runner)
            for instance, (claimed, delays, _) in zip(group.instances, heard, strict=True):
                if instance is group.instances[-1]:
                    claims.append(claimed)
                if (instance.name == runner) == (len(group.instances) == 1):
                    events.extend(delays)
    finally:
        for ws in sockets:
            await ws.close()
    return claims, events


async def hear(ws, task_id: int, started: float, submitter) -> tuple[float, list[float], str]:
    """On one client: ms from POST to `running`, each event's delay, and who ran it; the
    task is cancelled once its first task (the SSH connection) has begun."""
    claimed, delays, runner = 0.0, [], ""
    async with asyncio.timeout(60):
        while True:
            message = json.loads((await ws.receive()).data)
            if message["type"] == "task.status" and message["task"]["id"] == task_id:
                status = message["task"]["status"]
                if status == "running" and not claimed:
                    claimed = (time.perf_counter() - started) * 1000
                    runner = message["task"]["instance"]
                if status == "cancelled":
                    return claimed, delays, runner
            elif message["type"] == "task.event" and message["task_id"] == task_id:
                delays.append((time.time() - created_at(message["event"])) * 1000)
                if message["event"]["event"] == "playbook_on_task_start":
                    await submitter.call("POST", f"tasks/{task_id}/cancel")


async def throughput(harness, hosts, args: argparse.Namespace) -> None:
    """Tasks per second through 1 and 3 instances, the same queue on the same hosts."""
    for count in (1, 3):
        with postgres_server() as url, tempfile.TemporaryDirectory() as data:
            async with cluster(Path(data), url, count) as group:
                servers = []
                for host in hosts:
                    record = {"name": host.name, "host": host.ip, "port": host.port}
                    record["manual_key_path"] = str(harness.private_key)
                    servers.append(await group.any().ok("POST", "servers", json=record))
                started = time.perf_counter()
                submitted = await asyncio.gather(
                    *(
                        group.any().ok("POST", f"servers/{servers[n % 3]['id']}/test-connection")
                        for n in range(args.queue)
                    )
                )
                tasks = [await group.wait_task(s["task"]["id"], timeout=3600) for s in submitted]
                wall = time.perf_counter() - started
        failed = [task["id"] for task in tasks if task["status"] != "successful"]
        print(
            f"  {count} instance(s): {args.queue} tasks in {wall:.1f}s = "
            f"{args.queue / wall:.2f} tasks/s; not successful: {failed}"
        )


async def bench(args: argparse.Namespace) -> None:
    results = {}
    with silent_port() as port:
        for count in (1, 3):
            with postgres_server() as url, tempfile.TemporaryDirectory() as data:
                async with cluster(Path(data), url, count) as group:
                    results[count] = await claim_and_events(group, port, args.rounds)
    print(f"claim latency (POST -> running at a WebSocket client), {args.rounds} tasks")
    for count, (claims, _) in results.items():
        print(f"  {count} instance(s): {summary(claims)}")
    print("event latency (runner event created -> WebSocket client)")
    for count, (_, events) in results.items():
        where = "on the instance that runs it (baseline)" if count == 1 else "on another instance"
        print(f"  {count} instance(s), client {where}: {summary(events)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--queue", type=int, default=0, help="tasks of the throughput run")
    args = parser.parse_args()
    asyncio.run(bench(args))
    if args.queue:
        args.hosts = 3
        print(f"throughput: {args.queue} connection tests over 3 hosts")
        run_on_lab_hosts(throughput, args)


if __name__ == "__main__":
    main()

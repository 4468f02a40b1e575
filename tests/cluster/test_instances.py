"""Three service processes on one PostgreSQL the test starts: every instance sees the
others, a cancel reaches the run wherever it runs, an instance that dies is taken over
within its lease, and a WebSocket on one instance hears the runs of another.

The runs are connection tests to a loopback port that never answers (see `silent_port`):
real ansible-playbook processes that last about ten seconds, without target hosts.
"""

import asyncio
import signal
import time

import pytest

from tests.cluster.instances import cluster, next_message, silent_port
from tests.storage.postgres import postgres_server
from tests.tasks.helpers import ansible_processes

LEASE = 4.0


@pytest.fixture
def postgres_url():
    """A server per test: the first instance on an empty database prints the admin token."""
    with postgres_server() as url:
        yield url


async def silent_test(instance, port: int, name: str) -> dict:
    server = await instance.ok(
        "POST", "servers", json={"name": name, "host": "127.0.0.1", "port": port}
    )
    accepted = await instance.ok("POST", f"servers/{server['id']}/test-connection")
    return accepted["task"]


async def test_instances_see_each_other_and_cancel_reaches_the_one_that_runs(
    tmp_path, postgres_url
):
    with silent_port() as port:
        async with cluster(tmp_path, postgres_url, 3) as group:
            health = await group.any().ok("GET", "health")
            listed = health["components"]["instances"]["instances"]
            assert sorted(i["name"] for i in listed if i["alive"]) == sorted(
                i.name for i in group.instances
            )
            leaders = [
                (await i.ok("GET", "health"))["components"]["instances"]["leads"]
                for i in group.instances
            ]
            assert leaders == [True, False, False], "the oldest instance alone checks the apps"

            task = await silent_test(group.any(), port, "silent")
            running = await group.wait_task(task["id"], {"running"})
            runner = running["instance"]
            assert runner in {i.name for i in group.instances}
            health = await group.any().ok("GET", "health")
            by_name = {i["name"]: i for i in health["components"]["instances"]["instances"]}
            assert by_name[runner]["running_tasks"] == [task["id"]]

            elsewhere = group.other_than(runner)
            asked = time.monotonic()
            await elsewhere.ok("POST", f"tasks/{task['id']}/cancel")
            ended = await group.wait_task(task["id"], timeout=10)
            took = time.monotonic() - asked
            assert ended["status"] == "cancelled", ended
            assert took < 2.0, f"the cancel took {took:.1f} s to reach {runner}"
            assert ansible_processes(tmp_path) == []


async def test_a_websocket_on_one_instance_hears_a_run_of_another(tmp_path, postgres_url):
    with silent_port() as port:
        async with cluster(tmp_path, postgres_url, 3, PBD_WORKERS="1") as group:
            listener = group.instances[0]
            async with listener.ws() as ws:
                await ws.send_json({"type": "subscribe", "topic": "all"})
                await next_message(ws, lambda m: m["type"] == "subscribed")
                # Submitted until another instance than the listener's runs one.
                seen: dict[int, list] = {}
                while True:
                    task = await silent_test(group.instances[1], port, f"s{len(seen)}")
                    running = await group.wait_task(task["id"], {"running"} | FINISHED_SET)
                    seen[task["id"]] = []
                    if running["instance"] != listener.name:
                        break
                    await group.wait_task(task["id"])
                remote = task["id"]
                statuses, events = [], []
                async with asyncio.timeout(60):
                    while not statuses or statuses[-1] not in FINISHED_SET:
                        message = await next_message(
                            ws, lambda m: m.get("task_id", m.get("task", {}).get("id")) == remote
                        )
                        if message["type"] == "task.status":
                            statuses.append(message["task"]["status"])
                        elif message["type"] == "task.event":
                            events.append(message["seq"])
                assert statuses[-1] == "failed", statuses
                stored = await group.any().ok("GET", f"tasks/{remote}")
                assert events == list(range(events[0], stored["last_seq"] + 1)), events
                assert events[0] <= 2, "the events from the run's start are heard"

            # Replay from another instance: the whole stream once, then `replayed`.
            async with group.instances[2].ws() as ws:
                await ws.send_json({"type": "subscribe", "topic": f"task:{remote}", "after": 0})
                replayed = []
                while True:
                    message = await next_message(
                        ws, lambda m: m["type"] in ("task.event", "replayed")
                    )
                    if message["type"] == "replayed":
                        break
                    replayed.append(message["seq"])
                assert replayed == list(range(1, stored["last_seq"] + 1))


FINISHED_SET = {"successful", "failed", "cancelled", "timeout", "interrupted"}


async def test_an_instance_killed_mid_run_is_taken_over_within_its_lease(tmp_path, postgres_url):
    with silent_port() as port:
        async with cluster(tmp_path, postgres_url, 3, PBD_INSTANCE_LEASE=str(LEASE)) as group:
            task = await silent_test(group.any(), port, "victim")
            running = await group.wait_task(task["id"], {"running"})
            victim = group.named(running["instance"])
            index = group.instances.index(victim)
            async with asyncio.timeout(30):
                while not ansible_processes(tmp_path):  # the run's ansible-playbook started
                    await asyncio.sleep(0.1)
            await victim.process.stop(signal.SIGKILL)
            killed = time.monotonic()
            survivor = group.other_than(victim.name)
            ended = await group.wait_task(task["id"], timeout=LEASE + 10)
            took = time.monotonic() - killed
            assert ended["status"] == "interrupted", ended
            assert victim.name in ended["error"] and "retry" in ended["error"]
            assert took <= LEASE + 4, f"taken over after {took:.1f} s (lease {LEASE} s)"
            health = await survivor.ok("GET", "health")
            by_name = {i["name"]: i for i in health["components"]["instances"]["instances"]}
            assert not by_name[victim.name]["alive"]
            assert "heartbeat stopped" in by_name[victim.name]["stop_reason"]

            # Its server is free again: the next task on it runs, on a survivor.
            again = await survivor.ok("POST", f"servers/{ended['server_id']}/test-connection")
            rerun = await group.wait_task(again["task"]["id"], {"running"} | FINISHED_SET)
            assert rerun["instance"] != victim.name
            await group.wait_task(again["task"]["id"])

            back = await group.restart(index)
            health = await back.ok("GET", "health")
            by_name = {i["name"]: i for i in health["components"]["instances"]["instances"]}
            assert by_name[victim.name]["alive"]
            assert ansible_processes(tmp_path) == []

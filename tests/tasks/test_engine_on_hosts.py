"""The engine against real target hosts: real SSH, real playbooks, real WebSocket clients."""

import asyncio
import json
import time

import pytest

from service.ansible.runner import RunControl
from service.app import create_app
from service.config import Settings
from service.domain import tokens
from service.keys import ENGINE
from tests.conftest import Api
from tests.hosts import network
from tests.hosts.system import SUBNET_OCTET
from tests.tasks.helpers import (
    ansible_processes,
    create_server,
    no_ansible_left,
    start,
    wait_for_task,
)

pytestmark = pytest.mark.hosts


def unused_address(last_octet: int) -> str:
    """An address on the hosts' bridge where no host runs: SSH fails fast ("no route")."""
    return f"10.213.{SUBNET_OCTET}.{last_octet}"


@pytest.fixture
async def api(aiohttp_client, data_dir, running_hosts):
    settings = Settings(data_dir=data_dir, retry_backoff=1, workers=3)
    client = await aiohttp_client(create_app(settings))
    api = Api(client, (await tokens.issue_token("t")).secret)
    api.data_dir = settings.data_dir
    return api


async def test_connection_test_succeeds_and_is_recorded(api, target_hosts):
    host = target_hosts.hosts[0]
    server = await create_server(api, host, target_hosts.private_key)
    task = await start(api, f"/api/v1/servers/{server['id']}/test-connection")
    assert task["status"] == "queued" and task["kind"] == "connection_test"
    done = await wait_for_task(api, task["id"])
    assert done["status"] == "successful", done
    assert done["attempts"] == 1
    assert done["result"]["rc"] == 0
    assert done["progress"]["hosts"][host.name]["failed"] == 0
    assert done["started_at"] and done["finished_at"]
    record = (await api.get(f"/api/v1/servers/{server['id']}")).body
    assert record["last_connection_ok"] is True
    assert record["facts"]["distribution"] == "Debian"
    assert record["facts"]["distribution_release"] == "bookworm"


async def test_unreachable_host_is_retried_then_fails(api, target_hosts):
    server = await create_server(api, target_hosts.hosts[0], target_hosts.private_key, name="ghost")
    await api.patch(f"/api/v1/servers/{server['id']}", json={"host": unused_address(250)})
    task = await start(api, f"/api/v1/servers/{server['id']}/test-connection")
    done = await wait_for_task(api, task["id"], timeout=240)
    assert done["status"] == "failed"
    assert done["attempts"] == done["max_attempts"] == 3
    assert done["result"]["unreachable_hosts"] == ["ghost"]
    assert "ghost" in done["error"]
    record = (await api.get(f"/api/v1/servers/{server['id']}")).body
    assert record["last_connection_ok"] is False
    assert record["last_connection_error"]


async def test_events_stream_in_order_over_a_websocket(api, target_hosts):
    host = target_hosts.hosts[1]
    server = await create_server(api, host, target_hosts.private_key)
    async with api.client.ws_connect("/api/v1/ws", headers=api.headers) as ws:
        assert (await ws.receive_json())["type"] == "hello"
        await ws.send_json({"type": "subscribe", "topic": f"server:{server['id']}"})
        assert (await ws.receive_json()) == {
            "type": "subscribed",
            "topic": f"server:{server['id']}",
        }
        task = await start(api, f"/api/v1/servers/{server['id']}/test-connection")
        events, statuses, progress = [], [], []
        async with asyncio.timeout(120):
            while not statuses or statuses[-1] not in ("successful", "failed"):
                message = await ws.receive_json()
                if message["type"] == "task.event":
                    assert message["task_id"] == task["id"]
                    events.append(message)
                elif message["type"] == "task.status":
                    statuses.append(message["task"]["status"])
                elif message["type"] == "task.progress":
                    progress.append(message["progress"])
    assert statuses[0] == "queued" and statuses[1] == "running" and statuses[-1] == "successful"
    seqs = [message["seq"] for message in events]
    assert seqs == list(range(1, len(seqs) + 1))
    kinds = [message["event"]["event"] for message in events]
    assert kinds[0] == "playbook_on_start" and kinds[-1] == "playbook_on_stats"
    assert "runner_on_ok" in kinds
    ok = next(m["event"] for m in events if m["event"]["event"] == "runner_on_ok")
    assert ok["host"] == host.name and ok["task"]
    assert progress[-1]["hosts"][host.name]["ok"] >= 3
    stored = await api.get(f"/api/v1/tasks/{task['id']}/events")
    assert [item["seq"] for item in stored.body["items"]] == seqs
    assert stored.body["finished"] is True
    assert [item["event"] for item in stored.body["items"]] == [m["event"] for m in events]


async def test_replay_after_a_sequence_number_then_live(api, target_hosts):
    host = target_hosts.hosts[2]
    server = await create_server(api, host, target_hosts.private_key)
    first = await start(api, f"/api/v1/servers/{server['id']}/test-connection")
    done = await wait_for_task(api, first["id"])
    total = done["last_seq"]
    assert total > 5
    async with api.client.ws_connect("/api/v1/ws", headers=api.headers) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "subscribe", "topic": f"task:{first['id']}", "after": 3})
        messages = []
        while True:
            message = await ws.receive_json(timeout=10)
            messages.append(message)
            if message["type"] == "replayed":
                break
    replayed = [m["seq"] for m in messages if m["type"] == "task.event"]
    assert replayed == list(range(4, total + 1))
    assert messages[-1]["last_seq"] == total

    # Subscribing in the middle of a live run: stored + live events, no gap, no duplicate.
    second = await start(api, f"/api/v1/servers/{server['id']}/test-connection")
    await wait_for_task(api, second["id"], statuses={"running"})
    await asyncio.sleep(1.0)
    async with api.client.ws_connect("/api/v1/ws", headers=api.headers) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "subscribe", "topic": f"task:{second['id']}", "after": 0})
        seqs, finished = [], False
        async with asyncio.timeout(120):
            while not finished:
                message = await ws.receive_json()
                if message["type"] == "task.event":
                    seqs.append(message["seq"])
                elif message["type"] == "task.status":
                    finished = message["task"]["status"] == "successful"
    assert seqs == list(range(1, len(seqs) + 1))
    assert seqs[-1] == (await api.get(f"/api/v1/tasks/{second['id']}")).body["last_seq"]


async def test_cancel_mid_run_kills_every_ansible_process(api, target_hosts):
    host = target_hosts.hosts[0]
    server = await create_server(api, host, target_hosts.private_key, name="cancel-me")
    task = await start(api, f"/api/v1/servers/{server['id']}/setup/packages")
    async with asyncio.timeout(120):
        while True:
            events = (await api.get(f"/api/v1/tasks/{task['id']}/events")).body["items"]
            if any(e["event"]["event"] == "runner_on_start" for e in events):
                break
            await asyncio.sleep(0.1)
    assert ansible_processes(api.data_dir), "the run should be under way"
    started = time.monotonic()
    reply = await api.post(f"/api/v1/tasks/{task['id']}/cancel")
    assert reply.status == 202
    done = await wait_for_task(api, task["id"], timeout=10)
    elapsed = time.monotonic() - started
    assert done["status"] == "cancelled"
    assert elapsed < 2.0, elapsed
    assert ansible_processes(api.data_dir) == []
    again = await api.post(f"/api/v1/tasks/{task['id']}/cancel")
    assert again.status == 409


async def test_retry_failed_hosts_only(api, target_hosts):
    host = target_hosts.hosts[1]
    server = await create_server(api, host, target_hosts.private_key, name="retry-me")
    await api.patch(f"/api/v1/servers/{server['id']}", json={"host": unused_address(251)})
    task = await start(api, f"/api/v1/servers/{server['id']}/test-connection")
    failed = await wait_for_task(api, task["id"], timeout=240)
    assert failed["status"] == "failed"
    await api.patch(f"/api/v1/servers/{server['id']}", json={"host": host.ip})
    reply = await api.post(f"/api/v1/tasks/{task['id']}/retry", json={"failed_hosts_only": True})
    assert reply.status == 202, reply.body
    retried = reply.body["task"]
    assert retried["retry_of_id"] == task["id"]
    assert retried["limit_hosts"] == ["retry-me"]
    done = await wait_for_task(api, retried["id"])
    assert done["status"] == "successful", done
    conflict = await api.post(f"/api/v1/tasks/{retried['id']}/retry", json={})
    assert conflict.status == 409


async def test_one_task_at_a_time_per_server(api, target_hosts):
    server = await create_server(
        api, target_hosts.hosts[2], target_hosts.private_key, name="serial"
    )
    first = await start(api, f"/api/v1/servers/{server['id']}/test-connection")
    second = await start(api, f"/api/v1/servers/{server['id']}/test-connection")
    first_done = await wait_for_task(api, first["id"])
    second_done = await wait_for_task(api, second["id"])
    assert first_done["status"] == second_done["status"] == "successful"
    assert second_done["started_at"] >= first_done["finished_at"]
    listed = await api.get("/api/v1/tasks", params={"server_id": server["id"]})
    assert [t["id"] for t in listed.body["items"]] == [second["id"], first["id"]]
    assert json.dumps(listed.body)  # serialisable as returned


async def wait_for_forks(api, task_id: int) -> None:
    """Until the run is under way on the host: a task started, so the forks exist."""
    async with asyncio.timeout(120):
        while True:
            events = (await api.get(f"/api/v1/tasks/{task_id}/events")).body["items"]
            if any(e["event"]["event"] == "runner_on_start" for e in events):
                return
            await asyncio.sleep(0.1)


async def test_cancel_right_after_the_claim_kills_the_run(api, target_hosts):
    """The cancel lands before the run's first event (its pid is not known yet)."""
    server = await create_server(api, target_hosts.hosts[0], target_hosts.private_key, name="early")
    engine = api.client.app[ENGINE]
    task = await start(api, f"/api/v1/servers/{server['id']}/setup/packages")
    async with asyncio.timeout(60):
        while task["id"] not in engine.running:
            await asyncio.sleep(0)
    assert engine.running[task["id"]].control.pid is None

    reply = await api.post(f"/api/v1/tasks/{task['id']}/cancel")

    assert reply.status == 202
    done = await wait_for_task(api, task["id"], timeout=60)
    assert done["status"] == "cancelled"
    assert await no_ansible_left(api.data_dir) == []


async def test_cancel_kills_the_forks_even_if_the_pid_never_arrived(api, target_hosts, monkeypatch):
    """As on a loaded machine where the first event comes late: the forks die too.

    The host's link goes down mid-task, so a fork left alive would wait on its SSH
    connection instead of ending with its task.
    """
    never_known = property(lambda self: None, lambda self, pid: None)
    monkeypatch.setattr(RunControl, "pid", never_known, raising=False)
    host = target_hosts.hosts[1]
    server = await create_server(api, host, target_hosts.private_key, name="late")
    task = await start(api, f"/api/v1/servers/{server['id']}/setup/packages")
    await wait_for_forks(api, task["id"])
    await set_link(host, "down")
    try:
        async with asyncio.timeout(60):  # a fork stuck on the dead link
            while len(ansible_processes(api.data_dir)) < 2:
                await asyncio.sleep(0.1)
        reply = await api.post(f"/api/v1/tasks/{task['id']}/cancel")

        assert reply.status == 202
        assert (await wait_for_task(api, task["id"], timeout=60))["status"] == "cancelled"
        assert await no_ansible_left(api.data_dir) == []
    finally:
        await set_link(host, "up")


async def set_link(host, state: str) -> None:
    """Take the host's side of a target's link down or up (its address and routes stay)."""
    command = ["ip", "link", "set", network.veth_name(host.name), state]
    process = await asyncio.create_subprocess_exec(*command)
    assert await process.wait() == 0, command


async def test_deleting_a_server_under_a_running_task(api, target_hosts):
    """The reported break-in, four rounds: 409, then cancel_tasks=true; the queue lives on."""
    for round_number in range(4):
        host = target_hosts.hosts[round_number % len(target_hosts.hosts)]
        name = f"deleted-{round_number}"
        server = await create_server(api, host, target_hosts.private_key, name=name)
        path = f"/api/v1/servers/{server['id']}"
        task = await start(api, f"{path}/setup/packages")
        await wait_for_forks(api, task["id"])

        refused = await api.delete(path)
        deleted = await api.delete(path, params={"cancel_tasks": "true"})

        assert refused.status == 409, refused.body
        assert refused.body["error"]["details"] == {"tasks": [task["id"]]}
        assert deleted.status == 204, deleted.body
        kept = (await api.get(f"/api/v1/tasks/{task['id']}")).body
        assert (kept["status"], kept["server_id"]) == ("cancelled", None)
        events = (await api.get(f"/api/v1/tasks/{task['id']}/events")).body["items"]
        assert [e["seq"] for e in events] == list(range(1, kept["last_seq"] + 1))
        assert await no_ansible_left(api.data_dir) == []
    health = await api.get("/api/v1/health")
    assert health.status == 200, health.body
    assert health.body["components"]["workers"]["restarts"] == 0
    server = await create_server(api, target_hosts.hosts[2], target_hosts.private_key, name="after")
    task = await start(api, f"/api/v1/servers/{server['id']}/test-connection")
    assert (await wait_for_task(api, task["id"]))["status"] == "successful"

"""Setup, lockdown and audit of two real hosts as one task each: one playbook over both."""

import asyncio
from dataclasses import replace

import pytest

from tests.provisioning.helpers import finished, finished_ok, ssh
from tests.tasks.helpers import ansible_processes, create_server, wait_for_task

pytestmark = pytest.mark.hosts


@pytest.fixture
def service_settings(service_settings):
    return replace(service_settings, unreachable_attempts=1)


@pytest.fixture
def two_hosts(target_hosts, running_hosts):
    """The last two hosts, handed back pristine afterwards (both get locked down)."""
    hosts = running_hosts[-2:]
    yield hosts
    for host in hosts:
        target_hosts.reset_host(host)


def host_runs(events: list[dict]) -> dict[str, set[str]]:
    """Each task name of the run, with the hosts it finished on."""
    ran: dict[str, set[str]] = {}
    for item in events:
        event = item["event"]
        if event["event"].startswith("runner_on_") and event.get("task"):
            ran.setdefault(event["task"], set()).add(event["host"])
    return ran


async def all_events(api, task_id: int) -> list[dict]:
    reply = await api.get(f"/api/v1/tasks/{task_id}/events", params={"limit": 5000})
    assert reply.status == 200, reply.body
    return reply.body["items"]


async def test_two_hosts_are_set_up_locked_down_and_audited_by_one_run_each(
    api, target_hosts, two_hosts
):
    servers = [
        await create_server(api, host, target_hosts.private_key, name=f"many-{n}")
        for n, host in enumerate(two_hosts)
    ]
    ids = [server["id"] for server in servers]
    names = {server["name"] for server in servers}

    setup = await finished_ok(
        api, "/api/v1/servers/setup", json={"server_ids": ids, "upgrade": False}
    )
    assert setup["server_ids"] == ids
    assert {entry["outcome"] for entry in setup["result"]["hosts"].values()} == {"ok"}
    assert set(setup["progress"]["hosts"]) == names
    ran = host_runs(await all_events(api, setup["id"]))
    assert ran["APP_USER | Write authorized_keys (exactly the given keys)"] == names

    locked = await finished_ok(api, "/api/v1/servers/security/lockdown", json={"server_ids": ids})
    assert set(locked["result"]["hosts"]) == names
    for server in servers:
        record = (await api.get(f"/api/v1/servers/{server['id']}")).body
        assert (record["setup_complete"], record["security_locked"]) == (True, True)

    audited = await finished_ok(api, "/api/v1/servers/security/audit", json={"server_ids": ids})
    for server in servers:
        latest = (await api.get(f"/api/v1/servers/{server['id']}/security/audit")).body
        assert latest["task_id"] == audited["id"]
        failing = {f["id"] for f in latest["report"]["findings"] if not f["passed"]}
        assert failing <= {"security_updates"}, failing  # setup ran without `upgrade`
        assert audited["result"]["hosts"][server["name"]]["report"] == latest["report"]

    for host in two_hosts:  # proved from outside: root is refused, the app user's key works
        assert ssh(target_hosts, host, "root", "true").returncode == 255
        assert ssh(target_hosts, host, "deploy", "sudo", "-n", "true").returncode == 0


async def test_one_unreachable_host_fails_only_its_own_part(api, target_hosts, running_hosts):
    host = running_hosts[0]
    reachable = await create_server(api, host, target_hosts.private_key, name="up")
    closed = await create_server(api, host, target_hosts.private_key, name="down", port=2)
    ids = [reachable["id"], closed["id"]]

    task = await finished(api, "/api/v1/servers/test-connection", json={"server_ids": ids})

    assert task["status"] == "failed"
    hosts = task["result"]["hosts"]
    assert hosts["up"] == {"server_id": reachable["id"], "outcome": "ok"}
    assert hosts["down"]["outcome"] == "unreachable"
    assert "Connection refused" in hosts["down"]["error"]
    up = (await api.get(f"/api/v1/servers/{reachable['id']}")).body
    down = (await api.get(f"/api/v1/servers/{closed['id']}")).body
    assert (up["last_connection_ok"], down["last_connection_ok"]) == (True, False)
    assert up["facts"]["distribution"] == "Debian" and down["facts"] is None
    assert "Connection refused" in down["last_connection_error"]


async def test_a_setup_of_two_hosts_cancelled_partway_leaves_both_unfinished_then_retries(
    api, service_settings, target_hosts, two_hosts
):
    """Cut while both hosts are mid-run: no host is marked set up, no ansible process stays,
    and a retry of the whole task sets up both."""
    servers = [
        await create_server(api, host, target_hosts.private_key, name=f"cut-{n}")
        for n, host in enumerate(two_hosts)
    ]
    ids = [server["id"] for server in servers]
    names = {server["name"] for server in servers}
    reply = await api.post("/api/v1/servers/setup", json={"server_ids": ids, "upgrade": False})
    assert reply.status == 202, reply.body
    task_id = reply.body["task"]["id"]
    async with asyncio.timeout(240):  # each host has finished a task of the run, not the run
        while not names <= {
            e["event"].get("host")
            for e in await all_events(api, task_id)
            if e["event"]["event"] == "runner_on_ok"
        }:
            await asyncio.sleep(0.2)

    assert (await api.post(f"/api/v1/tasks/{task_id}/cancel")).status == 202
    cancelled = await wait_for_task(api, task_id, timeout=30)

    assert cancelled["status"] == "cancelled"
    assert {name: entry["outcome"] for name, entry in cancelled["result"]["hosts"].items()} == {
        name: "unfinished" for name in names
    }
    assert ansible_processes(service_settings.data_dir) == []
    for server in servers:
        assert (await api.get(f"/api/v1/servers/{server['id']}")).body["setup_complete"] is False

    retry = await api.post(f"/api/v1/tasks/{task_id}/retry", json={})
    assert retry.status == 202, retry.body
    done = await wait_for_task(api, retry.body["task"]["id"], timeout=600)
    assert done["status"] == "successful", done.get("error")
    assert {entry["outcome"] for entry in done["result"]["hosts"].values()} == {"ok"}
    for server in servers:
        assert (await api.get(f"/api/v1/servers/{server['id']}")).body["setup_complete"] is True

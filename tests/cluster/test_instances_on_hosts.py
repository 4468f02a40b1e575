"""Three service processes on one PostgreSQL, running real playbooks on three target hosts.

- 30 connection tests over 3 hosts, each submitted through a random instance: on each
  host, the module runs that Ansible logs in the host's own journal fall, two by two,
  inside one task's run window, and those windows never overlap (one run per server at a
  time, whichever instance runs it); per server, tasks start in the order they were queued.
- A WebSocket on instance A follows a deploy that instance B runs, with a reconnect to
  instance C half-way: every event once, in order, none missing.
"""

import itertools
import json
import random
import subprocess
from datetime import datetime

import pytest

from tests.cluster.instances import FINISHED, cluster, next_message
from tests.roles.fixtures import build_zip
from tests.storage.postgres import postgres_server

pytestmark = pytest.mark.hosts
ZIP = {"Content-Type": "application/zip"}


@pytest.fixture
def postgres_url():
    with postgres_server() as url:
        yield url


def module_runs(target_hosts, host, since: float) -> list[tuple[float, str]]:
    """(time, module) of each Ansible module invocation the host logged since `since`."""
    command = [
        *target_hosts.ssh_args(host),
        f"journalctl --no-pager -o json --since=@{int(since)} -g 'Invoked with'",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    runs = []
    for line in output.splitlines():
        entry = json.loads(line)
        module = str(entry.get("MESSAGE", "")).split(" ", 1)[0]  # "ansible-ping Invoked with"
        if module.endswith(("ping", "setup")):
            name = module.rsplit(".", 1)[-1].removeprefix("ansible-")
            runs.append((int(entry["__REALTIME_TIMESTAMP"]) / 1e6, name))
    return sorted(runs)


def server_record(name: str, host, target_hosts) -> dict:
    key = str(target_hosts.private_key)
    return {"name": name, "host": host.ip, "port": host.port, "manual_key_path": key}


def stamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


async def test_one_run_per_host_across_instances(
    tmp_path, postgres_url, target_hosts, running_hosts
):
    begun = datetime.now().timestamp() - 1
    async with cluster(tmp_path, postgres_url, 3) as group:
        servers = []
        for host in running_hosts:
            servers.append(
                await group.any().ok(
                    "POST", "servers", json=server_record(host.name, host, target_hosts)
                )
            )
        submitted = []
        for _ in range(30):
            server = random.choice(servers)
            accepted = await group.any().ok("POST", f"servers/{server['id']}/test-connection")
            submitted.append(accepted["task"]["id"])
        tasks = [await group.wait_task(task_id, timeout=600) for task_id in submitted]

    assert {task["status"] for task in tasks} == {"successful"}, [t["error"] for t in tasks]
    ran_on = {task["instance"] for task in tasks}
    assert len(ran_on) >= 2, f"the queue is worked by several instances, not only {ran_on}"
    for server, host in zip(servers, running_hosts, strict=True):
        mine = sorted((t for t in tasks if t["server_id"] == server["id"]), key=lambda t: t["id"])
        windows = [(stamp(t["started_at"]), stamp(t["finished_at"])) for t in mine]
        assert windows == sorted(windows), f"{host.name}: tasks started out of queue order"
        for (_, end), (start, _) in itertools.pairwise(windows):
            assert end <= start, f"{host.name}: two runs at once"
        runs = module_runs(target_hosts, host, begun)
        assert len(runs) == 2 * len(mine), (host.name, runs)
        for start, end in windows:
            inside = [module for at, module in runs if start <= at <= end]
            assert sorted(inside) == ["ping", "setup"], (host.name, start, end, runs)


async def upload(instance, app_id: int, version: str, tmp_path) -> dict:
    record = await instance.ok(
        "POST", "versions", json={"app_id": app_id, "version_number": version}
    )
    data = build_zip(version, directory=tmp_path).read_bytes()
    await instance.ok("POST", f"versions/{record['id']}/upload", data=data, headers=ZIP)
    return record


async def test_a_deploy_run_by_one_instance_is_followed_live_on_others(
    tmp_path, postgres_url, target_hosts, running_hosts
):
    host = running_hosts[2]
    try:
        async with cluster(tmp_path, postgres_url, 3, PBD_WORKERS="1") as group:
            a, b, _ = group.instances
            server = await a.ok(
                "POST", "servers", json=server_record("app-host", host, target_hosts)
            )
            setup = await b.ok("POST", f"servers/{server['id']}/setup")
            assert (await group.wait_task(setup["task"]["id"], timeout=900))[
                "status"
            ] == "successful"
            shop = {"name": "shop", "server_id": server["id"], "remote_path": "/srv/apps/shop"}
            app = await a.ok("POST", "apps", json={**shop, "service_name": "shop"})
            version = await upload(b, app["id"], "1.0.0", tmp_path)

            # Whichever instance claims the deploy, the two others follow it: one from the
            # start, then (a reconnect) the other from the last event the first one got.
            accepted = await b.ok(
                "POST", f"apps/{app['id']}/deploy", json={"version_id": version["id"]}
            )
            task_id = accepted["task"]["id"]
            running = await group.wait_task(task_id, {"running"} | FINISHED)
            runner = running["instance"]
            followers = [i for i in group.instances if i.name != runner]
            seqs: list[int] = []
            async with followers[0].ws() as ws:
                await ws.send_json({"type": "subscribe", "topic": f"task:{task_id}", "after": 0})
                while len(seqs) < 15:
                    message = await next_message(ws, lambda m: m["type"] == "task.event")
                    seqs.append(message["seq"])
            statuses = []
            async with followers[1].ws() as ws:
                await ws.send_json(
                    {"type": "subscribe", "topic": f"task:{task_id}", "after": seqs[-1]}
                )
                while not statuses or statuses[-1] not in FINISHED:
                    message = await next_message(
                        ws, lambda m: m["type"] in ("task.event", "task.status"), timeout=600
                    )
                    if message["type"] == "task.event":
                        seqs.append(message["seq"])
                    else:
                        statuses.append(message["task"]["status"])
            final = await group.wait_task(task_id)
            assert final["status"] == "successful", final
            assert final["instance"] == runner
            assert seqs == list(range(1, final["last_seq"] + 1)), "no gap, no duplicate"
    finally:
        target_hosts.reset_host(host)

"""One operation over several servers (`POST /servers/setup` with `server_ids`, ...): one
task, one playbook over all of them, each host's outcome in the result and on its server.
ansible-runner is replaced by a scripted fake; tests/provisioning runs the real thing."""

from dataclasses import replace
from typing import Any

import pytest
import yaml

from service.config import Settings
from tests.unit.helpers import (
    SERVICE_PUBLIC_KEY,
    FakeAnsible,
    Outcome,
    create_server,
    install_fake_ansible,
    raw_event,
    run_result,
    start_task,
    wait_for_task,
    wait_until,
)

NAMES = ("web-1", "web-2", "web-3")


@pytest.fixture
def settings(settings) -> Settings:
    return replace(settings, retry_backoff=0, workers=2)


@pytest.fixture
def fake(monkeypatch) -> FakeAnsible:
    return install_fake_ansible(monkeypatch, FakeAnsible(outcomes=[hosts_outcome(ok=NAMES)]))


@pytest.fixture
async def servers(api) -> list[dict]:
    return [await create_server(api, name, f"10.0.0.{n}") for n, name in enumerate(NAMES, 1)]


def hosts_outcome(
    *, ok: tuple[str, ...] = (), failed: tuple[str, ...] = (), dark: tuple[str, ...] = (), **reports
) -> Outcome:
    """One task over several hosts: each host's result event, then the recap; `reports` are
    set_stats data by host (e.g. audit={"web-1": {...}})."""
    events = [raw_event("playbook_on_start", 1), raw_event("playbook_on_task_start", 2, task="T")]
    outcomes = [(host, "ok") for host in ok]
    outcomes += [(host, "failed") for host in failed] + [(host, "unreachable") for host in dark]
    for counter, (host, outcome) in enumerate(outcomes, 3):
        result = {"changed": False, "msg": f"{host} broke"}
        events.append(raw_event(f"runner_on_{outcome}", counter, host=host, task="T", res=result))
    events.append(raw_event("playbook_on_stats", len(events) + 1))
    status = "failed" if failed or dark else "successful"
    return Outcome(
        events, run_result(status, ok=ok, failures=failed, dark=dark, custom_stats=reports)
    )


def inventory_hosts(inventory: str) -> dict[str, dict[str, Any]]:
    """The rendered inventory's hosts and their variables (each host's mapping is !unsafe)."""
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_constructor("!unsafe", lambda load, node: load.construct_mapping(node, deep=True))
    return yaml.load(inventory, Loader=loader)["all"]["hosts"]


async def server_record(api, server: dict) -> dict:
    return (await api.get(f"/api/v1/servers/{server['id']}")).body


async def test_setup_of_three_servers_is_one_run_with_each_servers_own_variables(
    api, fake, servers
):
    await api.patch(f"/api/v1/servers/{servers[1]['id']}", json={"app_username": "ops"})
    ids = [server["id"] for server in servers]
    keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEXTRAKEYEXTRAKEYEXTRAKEYEXTRAKEYEXTRAKEY x@y"]

    started = await start_task(
        api, "/api/v1/servers/setup", json={"server_ids": ids, "authorized_keys": keys}
    )
    task = await wait_for_task(api, started["id"])

    assert task["status"] == "successful"
    assert (task["kind"], task["server_id"], task["server_ids"]) == ("setup", ids[0], ids)
    assert "server_ids" not in task["params"]
    assert len(fake.calls) == 1
    spec = fake.calls[0].spec
    assert (spec.playbook, spec.forks, spec.limit) == ("setup.yml", 3, None)
    hosts = inventory_hosts(spec.inventory)
    assert list(hosts) == list(NAMES)
    assert [hosts[name]["app_user_name"] for name in NAMES] == ["deploy", "ops", "deploy"]
    for name in NAMES:
        assert hosts[name]["app_user_authorized_keys"] == [SERVICE_PUBLIC_KEY, *keys]
    # Nothing that differs per server is an extra var: it would override every host's value.
    assert not {"app_user_name", "app_user_authorized_keys"} & set(spec.extravars)
    assert spec.extravars["app_user_enabled"] is spec.extravars["packages_enabled"] is True
    assert spec.extravars["app_user_authorized_keys_exclusive"] is True
    assert task["result"]["hosts"] == {
        name: {"server_id": server["id"], "outcome": "ok"}
        for name, server in zip(NAMES, servers, strict=True)
    }
    assert [(await server_record(api, s))["setup_complete"] for s in servers] == [True] * 3


async def test_each_server_follows_its_own_outcome(api, fake, servers):
    fake.outcomes = [hosts_outcome(ok=("web-1",), failed=("web-2",), dark=("web-3",))]
    ids = [server["id"] for server in servers]

    started = await start_task(api, "/api/v1/servers/setup", json={"server_ids": ids})
    task = await wait_for_task(api, started["id"])

    assert task["status"] == "failed"
    assert len(fake.calls) == 1  # a failed host: never retried on its own
    hosts = task["result"]["hosts"]
    assert {name: entry["outcome"] for name, entry in hosts.items()} == {
        "web-1": "ok",
        "web-2": "failed",
        "web-3": "unreachable",
    }
    assert hosts["web-2"]["error"] == "web-2: T: web-2 broke"
    assert hosts["web-3"]["error"] == "web-3: T: web-3 broke"
    assert "error" not in hosts["web-1"]
    assert [(await server_record(api, s))["setup_complete"] for s in servers] == [
        True,
        False,
        False,
    ]
    progress = task["progress"]["hosts"]
    assert (progress["web-1"]["ok"], progress["web-2"]["failed"]) == (1, 1)
    assert progress["web-3"]["unreachable"] == 1


async def test_lockdown_of_several_servers_names_those_not_set_up(api, fake, servers):
    ids = [server["id"] for server in servers]
    alone = await start_task(api, f"/api/v1/servers/{ids[0]}/setup", json={})
    await wait_for_task(api, alone["id"])

    refused = await api.post("/api/v1/servers/security/lockdown", json={"server_ids": ids})

    assert refused.status == 409
    assert refused.body["error"]["details"] == {"server_ids": ids[1:]}
    assert f"{ids[1]} ('deploy')" in refused.body["error"]["message"]
    setup = await start_task(api, "/api/v1/servers/setup", json={"server_ids": ids[1:]})
    assert (await wait_for_task(api, setup["id"]))["status"] == "successful"
    ports = [{"port": 8080}]
    locked = await start_task(
        api, "/api/v1/servers/security/lockdown", json={"server_ids": ids, "allowed_ports": ports}
    )
    assert (await wait_for_task(api, locked["id"]))["status"] == "successful"
    spec = fake.calls[-1].spec
    hosts = inventory_hosts(spec.inventory)
    assert [hosts[name]["ssh_hardening_access_host"] for name in NAMES] == [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
    ]
    assert spec.extravars == {"firewall_allowed_ports": [{"port": 8080, "proto": "tcp"}]}
    assert [(await server_record(api, s))["security_locked"] for s in servers] == [True] * 3


async def test_each_server_keeps_its_own_audit_report_and_drift(api, fake, servers):
    ids = [server["id"] for server in servers[:2]]
    passing = {"id": "firewall_active", "title": "Firewall", "severity": "high", "passed": True}
    reports = {
        name: {"score": score, "passed": 1, "failed": 0, "findings": [passing]}
        for name, score in (("web-1", 100.0), ("web-2", 90.0))
    }
    fake.outcomes = [hosts_outcome(ok=("web-1", "web-2"), audit=reports)]
    first = await start_task(api, "/api/v1/servers/security/audit", json={"server_ids": ids})
    await wait_for_task(api, first["id"])
    worse = {**reports["web-2"], "score": 0.0, "findings": [{**passing, "passed": False}]}
    fake.outcomes = [hosts_outcome(ok=("web-1", "web-2"), audit={**reports, "web-2": worse})]

    second = await start_task(api, "/api/v1/servers/security/audit", json={"server_ids": ids})
    task = await wait_for_task(api, second["id"])

    for server, report in zip(servers[:2], (reports["web-1"], worse), strict=True):
        latest = (await api.get(f"/api/v1/servers/{server['id']}/security/audit")).body
        assert (latest["task_id"], latest["report"]) == (task["id"], report)
    hosts = task["result"]["hosts"]
    assert "drift" not in hosts["web-1"]
    assert [f["id"] for f in hosts["web-2"]["drift"]["findings"]] == ["firewall_active"]
    assert task["result"]["report"] == reports["web-1"]  # the primary server's, as before
    assert (await api.get(f"/api/v1/servers/{servers[2]['id']}/security/audit")).status == 404


async def test_a_connection_test_of_several_servers_stores_each_ones_facts(api, fake, servers):
    ids = [server["id"] for server in servers]
    facts = {name: {"hostname": name} for name in NAMES[:2]}
    fake.outcomes = [hosts_outcome(ok=NAMES[:2], dark=NAMES[2:], ping=facts)]

    started = await start_task(api, "/api/v1/servers/test-connection", json={"server_ids": ids})
    task = await wait_for_task(api, started["id"])

    assert task["attempts"] == task["max_attempts"] == 3  # unreachable: the whole run again
    stored = [await server_record(api, server) for server in servers]
    assert [record["last_connection_ok"] for record in stored] == [True, True, False]
    assert [record["facts"] for record in stored] == [facts["web-1"], facts["web-2"], None]
    assert stored[2]["last_connection_error"] == "web-3: T: web-3 broke"


async def test_a_retry_of_the_failed_hosts_only_updates_those(api, fake, servers):
    ids = [server["id"] for server in servers]
    fake.outcomes = [hosts_outcome(ok=("web-1", "web-3"), failed=("web-2",))]
    started = await start_task(api, "/api/v1/servers/setup", json={"server_ids": ids})
    failed = await wait_for_task(api, started["id"])
    await api.patch(f"/api/v1/servers/{ids[0]}", json={"root_username": "admin"})
    fake.outcomes = [hosts_outcome(ok=("web-2",))]

    retried = await start_task(
        api, f"/api/v1/tasks/{failed['id']}/retry", json={"failed_hosts_only": True}
    )
    task = await wait_for_task(api, retried["id"])

    assert fake.calls[-1].spec.limit == "web-2"
    assert task["result"]["hosts"] == {"web-2": {"server_id": ids[1], "outcome": "ok"}}
    assert [(await server_record(api, s))["setup_complete"] for s in servers] == [True] * 3


async def test_a_task_on_several_servers_waits_for_each_and_keeps_their_order(api, fake, servers):
    ids = [server["id"] for server in servers]
    fake.hold()
    busy = await start_task(api, f"/api/v1/servers/{ids[2]}/test-connection")
    await wait_until(lambda: len(fake.calls) == 1)
    many = await start_task(api, "/api/v1/servers/setup", json={"server_ids": ids})
    later = await start_task(api, f"/api/v1/servers/{ids[0]}/test-connection")

    assert (await api.get(f"/api/v1/tasks/{many['id']}")).body["status"] == "queued"
    assert (await api.get(f"/api/v1/tasks/{later['id']}")).body["status"] == "queued"
    fake.release()

    for task in (busy, many, later):
        assert (await wait_for_task(api, task["id"]))["status"] == "successful"
    assert [call.spec.playbook for call in fake.calls] == ["ping.yml", "setup.yml", "ping.yml"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "server_ids"),
        ({"server_ids": []}, "server_ids"),
        ({"server_ids": [1, 1]}, "server_ids"),
        ({"server_ids": [True]}, "server_ids"),
        ({"server_ids": ["1"]}, "server_ids"),
        ({"server_ids": [0]}, "server_ids"),
        ({"server_ids": list(range(1, 502))}, "server_ids"),
        ({"server_ids": [1, 999]}, "server_ids"),
        ({"server_ids": [1], "upgrade": "yes"}, "upgrade"),
    ],
)
async def test_a_bad_server_selection_is_a_422_naming_the_field(api, fake, servers, body, field):
    reply = await api.post("/api/v1/servers/setup", json=body)

    assert reply.status == 422, reply.body
    assert field in reply.body["error"]["details"]
    assert fake.calls == []

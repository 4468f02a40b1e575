"""Service reads without hosts: the fast read's output parsed, the last known state kept per
unit (newest wins), and reads running beside a server's other tasks while control actions
keep the server's order."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.ansible.runner import RunResult
from service.domain import services
from service.domain.unit_status import parse_read
from service.keys import ENGINE
from service.models import Server, UnitStatus
from tests.unit.helpers import (
    SERVICE_PUBLIC_KEY,
    create_server,
    playbook_events,
    run_result,
    start_task,
    wait_for_task,
    wait_until,
)

SHOW = (
    "Id=shop-green.service\nDescription=Shop (green)\nLoadState=loaded\nActiveState=active\n"
    "SubState=running\nUnitFileState=enabled\nActiveEnterTimestamp=Wed 2026-12-02 10:00:00 UTC\n"
    "MainPID=4242\nMemoryCurrent=31457280\nNRestarts=2\n"
)
JOURNAL = "\n".join(
    json.dumps(entry)
    for entry in (
        {"__REALTIME_TIMESTAMP": "1764669600000001", "MESSAGE": "started", "PRIORITY": "6",
         "_PID": "4242"},
        {"__REALTIME_TIMESTAMP": "1764669601500000", "MESSAGE": [255, 254], "PRIORITY": "3"},
    )
)  # fmt: skip


def test_the_read_output_becomes_the_roles_status_and_logs_shapes():
    read = parse_read(f"{SHOW}--journal--\n{JOURNAL}\n", "shop-green.service", 50, "-1h")

    assert read["status"] == {
        "unit": "shop-green.service",
        "description": "Shop (green)",
        "load_state": "loaded",
        "active_state": "active",
        "sub_state": "running",
        "unit_file_state": "enabled",
        "since": "Wed 2026-12-02 10:00:00 UTC",
        "main_pid": 4242,
        "memory_current": 31457280,
        "restarts": 2,
    }
    assert read["logs"] == {
        "unit": "shop-green.service",
        "lines": 50,
        "since": "-1h",
        "entries": [
            {"time": "2025-12-02T10:00:00.000001Z", "priority": 6, "pid": 4242,
             "message": "started"},
            {"time": "2025-12-02T10:00:01.500000Z", "priority": 3, "pid": None,
             "message": "[binary message, 2 bytes]"},
        ],
    }  # fmt: skip


def test_a_status_read_has_no_logs_and_unset_values_are_none():
    show = "Id=x.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nMainPID=0\n"
    read = parse_read(
        show + "ActiveEnterTimestamp=\nMemoryCurrent=18446744073709551615\n", "x", 1, None
    )

    assert "logs" not in read
    status = read["status"]
    assert (status["main_pid"], status["since"], status["memory_current"]) == (None, None, None)
    assert status["restarts"] == 0


# The last known state ---------------------------------------------------------------------


async def test_the_newest_state_of_a_unit_is_kept_whatever_order_runs_finish_in(api):
    server = await Server.get(id=(await create_server(api))["id"])
    now = datetime.now(UTC)
    active, stopped = {"active_state": "active"}, {"active_state": "inactive"}

    assert await services.record_status(server.id, "a.service", active, now, 1)
    assert await services.record_status(server.id, "a.service", stopped, now + timedelta(1), 2)
    assert not await services.record_status(server.id, "a.service", active, now, 3)  # older
    assert await services.record_status(server.id, "b.service", active, now, 4)

    known = await services.known_statuses(server)
    assert set(known) == {"a.service", "b.service"}
    assert (known["a.service"].status, known["a.service"].task_id) == (stopped, 2)
    await server.delete()
    assert not await UnitStatus.exists()  # they go with their server


# Reads beside other tasks -----------------------------------------------------------------


class HeldControl:
    """A fake run: control actions (service.yml) wait until released; reads answer at once."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started: list[str] = []

    async def __call__(self, spec, run_dir: Path, on_event, control) -> RunResult:
        action = spec.extravars["app_service_action"]
        self.started.append(action)
        for event in playbook_events("web-1")[:-1]:
            on_event(event)
        if spec.playbook == "service_read.yml":
            state = "inactive" if "stop" in self.started else "active"
            output = SHOW.replace("ActiveState=active", f"ActiveState={state}")
            return run_result(ok=("web-1",), custom_stats={"service_read": {"web-1": output}})
        await self.gate.wait()
        status = {"unit": "shop-green.service", "active_state": "inactive", "load_state": "loaded"}
        return run_result(ok=("web-1",), custom_stats={"service_status": {"web-1": status}})


@pytest.fixture
def held(monkeypatch) -> HeldControl:
    fake = HeldControl()
    monkeypatch.setattr("service.tasks.engine.run_playbook", fake)
    monkeypatch.setattr("service.tasks.engine.ensure_service_key", lambda s: SERVICE_PUBLIC_KEY)
    return fake


async def test_a_read_runs_beside_a_control_action_which_keeps_the_servers_order(api, held):
    server = await create_server(api)
    unit = f"/api/v1/services/{server['id']}/shop-green.service"
    stop = await start_task(api, unit, json={"action": "stop"})
    await wait_until(lambda: held.started == ["stop"], what="the stop running")
    start = await start_task(api, unit, json={"action": "start"})

    read = await api.get(unit)  # while the stop still runs on the server

    assert read.status == 200, read.body
    assert read.body["status"]["active_state"] == "inactive"
    assert (await api.get(f"/api/v1/tasks/{stop['id']}")).body["status"] == "running"
    assert (await api.get(f"/api/v1/tasks/{start['id']}")).body["status"] == "queued"
    assert set(api.client.app[ENGINE].running) == {stop["id"]}
    held.gate.set()
    for task in (stop, start):
        assert (await wait_for_task(api, task["id"]))["status"] == "successful"
    assert held.started == ["stop", "status", "start"]


async def test_every_service_run_keeps_the_units_state_for_the_list(api, held):
    server = await create_server(api)
    from tests.api.test_services import _deployed

    await _deployed(api, server["id"], "green")
    held.gate.set()
    listed = await api.get(f"/api/v1/services/{server['id']}")
    assert listed.body["items"][0]["status"] is None  # nothing seen yet, and nothing run
    assert held.started == []

    read = await api.get(f"/api/v1/services/{server['id']}/shop")
    after_read = (await api.get(f"/api/v1/services/{server['id']}")).body["items"][0]
    stop = await start_task(api, f"/api/v1/services/{server['id']}/shop", json={"action": "stop"})
    await wait_for_task(api, stop["id"])
    after_stop = (await api.get(f"/api/v1/services/{server['id']}")).body["items"][0]

    assert read.status == 200, read.body
    assert after_read["status"] == read.body["status"]
    assert after_read["checked_at"] is not None
    assert after_stop["status"]["active_state"] == "inactive"
    assert after_stop["checked_at"] > after_read["checked_at"]
    assert held.started == ["status", "stop"]  # the lists ran nothing

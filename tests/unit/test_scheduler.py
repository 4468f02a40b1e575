"""Scheduled audits through the API, with the fake runner and a clock the tests move."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from service.keys import CLOCK, ENGINE
from service.models import AuditSchedule, FiredOccurrence, Role, Task, TaskKind
from service.scheduling.scheduler import LOOP_NAME, AuditScheduler
from tests.conftest import Api
from tests.retention.helpers import MovableClock
from tests.unit.helpers import (
    FakeAnsible,
    create_server,
    install_fake_ansible,
    start_task,
    success,
    wait_for_task,
)
from tests.unit.test_ws_handler import connect, receive, subscribe

START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
EVERY_TEN_MINUTES = "*/10 * * * *"


@pytest.fixture
def settings(settings) -> Settings:
    """No retention job: the scheduler is the only one sleeping on the test's clock."""
    return replace(settings, retention_interval=0)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START, sleeper=LOOP_NAME)


async def move(clock: MovableClock, naps: int = 1, **delta: float) -> None:
    """Move the clock past the scheduler's nap, and wait until it has looked at the new time
    (fired what was due) and taken its next nap; `naps`: schedulers on the clock."""
    clock.advance(timedelta(**delta).total_seconds())
    for _ in range(naps):
        await clock.next_sleep()


@pytest.fixture
def fake(monkeypatch) -> FakeAnsible:
    return install_fake_ansible(monkeypatch, FakeAnsible(outcomes=[success(audit=report(100.0))]))


class Service:
    """The service in-process on one database file: started, stopped and started again."""

    def __init__(self, aiohttp_client, settings, clock: MovableClock) -> None:
        self.aiohttp_client, self.settings, self.clock = aiohttp_client, settings, clock
        self.client = None
        self.secret: str | None = None

    async def start(self) -> Api:
        app = create_app(self.settings)
        app[CLOCK] = self.clock
        self.client = await self.aiohttp_client(app)
        await self.clock.next_sleep()  # its first look at the schedules is done
        if self.secret is None:
            self.secret = (await tokens.issue_token("test")).secret
        return Api(self.client, self.secret)

    async def stop(self) -> None:
        await self.client.close()

    async def restart(self) -> Api:
        await self.stop()
        return await self.start()


@pytest.fixture
def service(aiohttp_client, settings, clock, fake) -> Service:
    return Service(aiohttp_client, settings, clock)


@pytest.fixture
async def api(service) -> Api:
    return await service.start()


@pytest.fixture
async def server(api) -> dict:
    return await create_server(api)


def finding(finding_id: str, passed: bool) -> dict:
    return {
        "id": finding_id,
        "title": f"{finding_id} is fine",
        "severity": "high",
        "expected": "no",
        "actual": "no" if passed else "yes",
        "passed": passed,
    }


def report(score: float, **failing: bool) -> dict:
    """A report of three findings; those named in `failing` fail."""
    names = ("ssh_password_authentication", "firewall_active", "ssh_permit_root_login")
    findings = [finding(name, not failing.get(name)) for name in names]
    passed = sum(1 for item in findings if item["passed"])
    return {"score": score, "passed": passed, "failed": 3 - passed, "findings": findings}


def schedule_path(server: dict) -> str:
    return f"/api/v1/servers/{server['id']}/audit-schedule"


async def put_schedule(
    api, server: dict, cron: str = EVERY_TEN_MINUTES, clock: MovableClock | None = None
) -> dict:
    """Set the schedule; with the `clock`, also wait until the scheduler has looked at it."""
    reply = await api.put(schedule_path(server), json={"cron": cron})
    assert reply.status == 200, reply.body
    if clock is not None:
        await clock.next_sleep()
    return reply.body


async def scheduled_audits() -> list[Task]:
    return await Task.filter(kind=TaskKind.AUDIT).order_by("id")


# The schedule resource ---------------------------------------------------------------------


async def test_a_schedule_is_set_read_replaced_and_deleted(api, server):
    path = schedule_path(server)
    assert (await api.get(path)).status == 404

    created = await put_schedule(api, server)
    assert created["server_id"] == server["id"]
    assert created["cron"] == EVERY_TEN_MINUTES
    assert created["next_run_at"] == "2026-01-05T10:10:00+00:00"
    assert (await api.get(path)).body == created

    replaced = await put_schedule(api, server, "30 3 * * 1")
    assert replaced["next_run_at"] == "2026-01-12T03:30:00+00:00"
    assert (await api.get(path)).body["cron"] == "30 3 * * 1"

    assert (await api.delete(path)).status == 204
    missing = await api.get(path)
    assert missing.status == 404
    assert missing.body["error"]["code"] == "not_found"
    assert (await api.delete(path)).status == 404


async def test_a_schedule_for_a_missing_server_is_404(api):
    reply = await api.put("/api/v1/servers/999/audit-schedule", json={"cron": "0 * * * *"})

    assert reply.status == 404
    assert reply.body["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "cron",
    ["", "not a cron", "61 * * * *", "* * * * * *", "0 0 30 2 *", "@daily", "x" * 101, 5, None],
)
async def test_a_bad_cron_expression_is_422_naming_the_field(api, server, cron):
    reply = await api.put(schedule_path(server), json={"cron": cron})

    assert reply.status == 422, reply.body
    assert reply.body["error"]["code"] == "validation_failed"
    assert list(reply.body["error"]["details"]) == ["cron"]
    assert (await api.get(schedule_path(server))).status == 404


async def test_a_schedule_needs_exactly_a_cron_field(api, server):
    for wrong in ({}, {"cron": "0 * * * *", "timezone": "UTC"}):
        reply = await api.put(schedule_path(server), json=wrong)
        assert reply.status == 422, reply.body
        assert reply.body["error"]["code"] == "validation_failed"


# Firing ------------------------------------------------------------------------------------


async def test_each_occurrence_queues_one_normal_audit_task(api, server, clock, fake):
    await put_schedule(api, server, clock=clock)

    await move(clock, minutes=9, seconds=59)
    assert await scheduled_audits() == []

    await move(clock, seconds=1)
    [task] = await scheduled_audits()
    assert task.server_id == server["id"]
    assert task.params == {"scheduled_for": "2026-01-05T10:10:00+00:00"}
    done = await wait_for_task(api, task.id)
    assert done["status"] == "successful"
    assert [call.spec.playbook for call in fake.calls] == ["audit.yml"]

    await move(clock, minutes=5)
    assert len(await scheduled_audits()) == 1

    await move(clock, minutes=5)
    assert [task.params["scheduled_for"] for task in await scheduled_audits()] == [
        "2026-01-05T10:10:00+00:00",
        "2026-01-05T10:20:00+00:00",
    ]


async def test_occurrences_before_the_schedule_was_set_do_not_fire(api, server, clock):
    await move(clock, minutes=15)
    await put_schedule(api, server, clock=clock)

    assert await scheduled_audits() == []


async def test_a_fired_occurrence_does_not_fire_again_after_a_restart(service, api, server, clock):
    await put_schedule(api, server, clock=clock)
    await move(clock, minutes=10)
    assert len(await scheduled_audits()) == 1
    # As if the service died right after firing, before it marked the schedule: only the
    # fired occurrence's row remembers it.
    await AuditSchedule.all().update(done_through=START)

    await service.restart()  # same database file, same time
    await move(clock, minutes=5)

    assert len(await scheduled_audits()) == 1
    assert await FiredOccurrence.all().count() == 1


async def test_occurrences_missed_while_down_fire_once_for_the_latest(service, api, server, clock):
    await put_schedule(api, server, clock=clock)
    await service.stop()
    clock.advance(timedelta(hours=1, minutes=5).total_seconds())  # six occurrences, no service

    await service.start()

    [task] = await scheduled_audits()
    assert task.params == {"scheduled_for": "2026-01-05T11:00:00+00:00"}
    await service.restart()
    await move(clock, minutes=4)
    assert len(await scheduled_audits()) == 1


async def test_fired_occurrences_older_than_a_day_are_forgotten(api, server, clock):
    await put_schedule(api, server, "0 * * * *", clock=clock)
    for _ in range(30):
        await move(clock, hours=1)

    assert len(await scheduled_audits()) == 30
    kept = await FiredOccurrence.all().order_by("occurrence").values_list("occurrence", flat=True)
    assert kept[-1] == START + timedelta(hours=30)
    assert kept[0] == START + timedelta(hours=6)  # a day before the latest


async def test_two_schedulers_on_one_database_fire_an_occurrence_once(api, server, client, clock):
    engine = client.server.app[ENGINE]
    second = AuditScheduler(engine, clock)
    second.start()
    try:
        await clock.next_sleep()
        await put_schedule(api, server, clock=clock)
        await move(clock, naps=2, minutes=10)
        assert len(await scheduled_audits()) == 1

        # Both look at the same due occurrence at the same moment.
        clock.advance(timedelta(minutes=10).total_seconds())
        third = AuditScheduler(engine, clock)
        await asyncio.gather(second.fire_due(), third.fire_due())
    finally:
        await second.stop()

    assert len(await scheduled_audits()) == 2
    assert await FiredOccurrence.all().count() == 2


async def test_a_deleted_server_takes_its_schedule_and_the_scheduler_goes_on(api, server, clock):
    await put_schedule(api, server, clock=clock)
    other = await create_server(api, "web-2", "10.0.0.6")
    await put_schedule(api, other, clock=clock)
    assert (await api.delete(f"/api/v1/servers/{server['id']}")).status == 204

    await move(clock, minutes=10)

    assert [task.server_id for task in await scheduled_audits()] == [other["id"]]
    health = await api.get("/api/v1/health")
    assert health.body["components"]["scheduler"]["ok"] is True


# History and drift -------------------------------------------------------------------------


async def run_audit(api, server: dict) -> dict:
    task = await start_task(api, f"/api/v1/servers/{server['id']}/security/audit")
    done = await wait_for_task(api, task["id"])
    assert done["status"] == "successful", done
    return done


async def messages_until_pong(ws) -> list[dict]:
    """Everything published before now, up to the reply to a ping."""
    await ws.send_json({"type": "ping"})
    received = []
    while (message := await receive(ws))["type"] != "pong":
        received.append(message)
    return received


async def test_a_finding_that_fails_now_emits_audit_drift_on_the_servers_topic(api, server, fake):
    fake.outcomes = [
        success(audit=report(100.0)),
        success(audit=report(60.0, ssh_password_authentication=True)),
        success(audit=report(60.0, ssh_password_authentication=True)),
    ]
    ws = await connect(api)
    await subscribe(ws, f"server:{server['id']}")

    first = await run_audit(api, server)
    assert "drift" not in first["result"]
    second = await run_audit(api, server)
    third = await run_audit(api, server)

    drifts = [m for m in await messages_until_pong(ws) if m["type"] == "audit.drift"]
    assert len(drifts) == 1
    [drift] = drifts
    assert drift["server_id"] == server["id"]
    assert drift["task_id"] == second["id"]
    assert drift["score"] == 60.0
    assert drift["previous_score"] == 100.0
    assert drift["findings"] == [
        {
            "id": "ssh_password_authentication",
            "title": "ssh_password_authentication is fine",
            "severity": "high",
            "passed": False,
            "previously_passed": True,
        }
    ]
    assert second["result"]["drift"]["findings"] == drift["findings"]
    assert "drift" not in third["result"]  # still failing: nothing changed since
    await ws.close()


async def test_a_lower_score_alone_is_drift_and_a_fix_is_not(api, server, fake):
    fake.outcomes = [
        success(audit=report(100.0)),
        success(audit=report(90.0)),
        success(audit=report(95.0, firewall_active=True)),
        success(audit=report(100.0)),
    ]
    results = [(await run_audit(api, server))["result"] for _ in range(4)]

    assert [result.get("drift", {}).get("findings") for result in results] == [
        None,
        [],
        [
            {
                "id": "firewall_active",
                "title": "firewall_active is fine",
                "severity": "high",
                "passed": False,
                "previously_passed": True,
            }
        ],
        None,
    ]


async def test_the_history_lists_every_audit_with_its_score_page_by_page(api, server, fake):
    fake.outcomes = [
        success(audit=report(100.0)),
        success(audit=report(80.0, firewall_active=True)),
        success(audit=report(90.0)),
    ]
    tasks = [await run_audit(api, server) for _ in range(3)]
    path = f"/api/v1/servers/{server['id']}/security/audits"

    page = (await api.get(path)).body
    assert page["total_items"] == 3
    assert page["total_pages"] == 1
    assert [item["task_id"] for item in page["items"]] == [t["id"] for t in reversed(tasks)]
    assert [item["score"] for item in page["items"]] == [90.0, 80.0, 100.0]
    newest, drifted, first = page["items"]
    assert (drifted["passed"], drifted["failed"]) == (2, 1)
    assert drifted["drift"]["findings"][0]["id"] == "firewall_active"
    assert first["drift"] is None
    assert {finding["id"] for finding in first["findings"]} == {
        "ssh_password_authentication",
        "firewall_active",
        "ssh_permit_root_login",
    }
    assert set(first["findings"][0]) == {"id", "title", "severity", "passed"}
    assert newest["finished_at"]

    second_page = (await api.get(path, params={"per_page": 1, "page": 2})).body
    assert [item["score"] for item in second_page["items"]] == [80.0]
    assert second_page["total_pages"] == 3
    by_score = (await api.get(path, params={"sort": "score"})).body
    assert [item["score"] for item in by_score["items"]] == [80.0, 90.0, 100.0]
    latest = await api.get(f"/api/v1/servers/{server['id']}/security/audit")
    assert latest.body["task_id"] == tasks[-1]["id"]


async def test_the_history_of_a_missing_server_is_404_and_bad_paging_is_422(api, server):
    missing = await api.get("/api/v1/servers/999/security/audits")
    assert missing.status == 404
    assert missing.body["error"]["code"] == "not_found"
    bad = await api.get(f"/api/v1/servers/{server['id']}/security/audits", params={"sort": "title"})
    assert bad.status == 422
    assert bad.body["error"]["code"] == "validation_failed"
    empty = await api.get(f"/api/v1/servers/{server['id']}/security/audits")
    assert empty.body["items"] == [] and empty.body["total_items"] == 0


async def test_a_scheduled_audit_lands_in_the_history(api, server, clock):
    await put_schedule(api, server, clock=clock)
    await move(clock, minutes=10)
    [task] = await scheduled_audits()
    await wait_for_task(api, task.id)

    history = (await api.get(f"/api/v1/servers/{server['id']}/security/audits")).body
    assert [item["task_id"] for item in history["items"]] == [task.id]


# Roles and scope ---------------------------------------------------------------------------


async def test_viewers_read_schedules_and_history_admins_change_schedules(api, server):
    viewer = Api(api.client, (await tokens.issue_token("v", Role.VIEWER)).secret)
    deployer = Api(api.client, (await tokens.issue_token("d", Role.DEPLOYER)).secret)
    await put_schedule(api, server)

    assert (await viewer.get(schedule_path(server))).status == 200
    assert (await viewer.get(f"/api/v1/servers/{server['id']}/security/audits")).status == 200
    for refused in (
        await deployer.put(schedule_path(server), json={"cron": "0 * * * *"}),
        await deployer.delete(schedule_path(server)),
    ):
        assert refused.status == 403
        assert refused.body["error"]["code"] == "forbidden"
    assert (await api.delete(schedule_path(server))).status == 204


async def test_a_token_scoped_to_another_server_does_not_see_this_ones_schedule(api, server):
    other = await create_server(api, "web-2", "10.0.0.6")
    await put_schedule(api, server)
    scoped = Api(
        api.client, (await tokens.issue_token("s", Role.ADMIN, servers=[other["id"]])).secret
    )

    assert (await scoped.get(schedule_path(server))).status == 404
    assert (await scoped.put(schedule_path(server), json={"cron": "0 * * * *"})).status == 404
    assert (await scoped.get(f"/api/v1/servers/{server['id']}/security/audits")).status == 404
    assert (await scoped.get(schedule_path(other))).status == 404  # it has none

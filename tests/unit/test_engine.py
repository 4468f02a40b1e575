"""The task engine driven through the API, with ansible-runner replaced by a scripted fake."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from service.app import create_app
from service.config import Settings
from service.keys import ENGINE
from service.models import Server, Task, TaskKind, TaskStatus
from service.storage.db import database
from tests.unit.helpers import (
    FakeAnsible,
    Outcome,
    create_server,
    failure,
    install_fake_ansible,
    playbook_events,
    run_result,
    start_task,
    success,
    unreachable,
    wait_for_task,
    wait_until,
)

FACTS = {"distribution": "Debian", "python": "3.11.2"}


@pytest.fixture
def settings(settings, request) -> Settings:
    """No backoff and two workers unless a test asks otherwise (indirect parametrization)."""
    return replace(settings, **{"retry_backoff": 0, "workers": 2, **getattr(request, "param", {})})


@pytest.fixture
def fake(monkeypatch) -> FakeAnsible:
    return install_fake_ansible(monkeypatch, FakeAnsible(outcomes=[success(ping=FACTS)]))


@pytest.fixture
def quick_poll(monkeypatch) -> None:
    """Idle workers look for due tasks every 20 ms instead of every second."""
    monkeypatch.setattr("service.tasks.engine.IDLE_POLL", 0.02)


@pytest.fixture
async def server(api) -> dict:
    return await create_server(api)


async def queue_connection_test(api, server) -> dict:
    return await start_task(api, f"/api/v1/servers/{server['id']}/test-connection")


# Outcomes ---------------------------------------------------------------------------------


async def test_successful_run_stores_numbered_events_and_the_servers_facts(api, fake, server):
    task = await wait_for_task(api, (await queue_connection_test(api, server))["id"])

    assert task["status"] == "successful"
    assert task["attempts"] == 1
    assert task["error"] is None
    assert task["last_seq"] == 4
    assert task["result"]["runner_status"] == "successful"
    assert task["progress"]["tasks_started"] == 1
    assert task["progress"]["hosts"]["web-1"]["ok"] == 1
    events = (await api.get(f"/api/v1/tasks/{task['id']}/events")).body
    assert [item["seq"] for item in events["items"]] == [1, 2, 3, 4]
    assert [item["event"]["event"] for item in events["items"]] == [
        "playbook_on_start",
        "playbook_on_task_start",
        "runner_on_ok",
        "playbook_on_stats",
    ]
    assert events["finished"] is True
    stored = (await api.get(f"/api/v1/servers/{server['id']}")).body
    assert stored["last_connection_ok"] is True
    assert stored["facts"] == FACTS
    assert fake.calls[0].spec.playbook == "ping.yml"
    assert fake.calls[0].spec.limit is None


async def test_unreachable_host_is_retried_until_max_attempts_then_fails(api, fake, server):
    fake.outcomes = [unreachable()]

    task = await wait_for_task(api, (await queue_connection_test(api, server))["id"])

    assert task["status"] == "failed"
    assert task["attempts"] == task["max_attempts"] == 3
    assert len(fake.calls) == 3
    assert task["result"]["unreachable_hosts"] == ["web-1"]
    assert task["result"]["failed_hosts"] == []
    assert task["error"] == "web-1: Ping: ssh: connect to host: timed out"
    events = (await api.get(f"/api/v1/tasks/{task['id']}/events")).body
    assert [item["seq"] for item in events["items"]] == list(range(1, 13))  # across attempts
    stored = (await api.get(f"/api/v1/servers/{server['id']}")).body
    assert stored["last_connection_ok"] is False
    assert stored["last_connection_error"] == task["error"]


async def test_unreachable_then_reachable_succeeds_on_the_second_attempt(api, fake, server):
    fake.outcomes = [unreachable(), success()]

    task = await wait_for_task(api, (await queue_connection_test(api, server))["id"])

    assert task["status"] == "successful"
    assert task["attempts"] == 2
    assert task["error"] is None


@pytest.mark.parametrize("settings", [{"retry_backoff": 60}], indirect=True)
async def test_retry_waits_an_exponential_backoff(quick_poll, api, fake, server):
    engine = api.client.app[ENGINE]
    fake.outcomes = [unreachable()]
    task_id = (await queue_connection_test(api, server))["id"]

    for attempt, delay in [(1, 60), (2, 120), (3, 240)]:
        await wait_until(
            lambda n=attempt: len(fake.calls) == n and not engine.running,
            what=f"attempt {attempt} finished",
        )
        row = await Task.get(id=task_id)
        assert (row.status, row.attempts) == (TaskStatus.QUEUED, attempt)
        assert_delay(row.not_before, delay)
        if attempt < 3:  # skip the wait; a 4th attempt lets the 3rd delay show the doubling
            await Task.filter(id=task_id).update(not_before=datetime.now(UTC), max_attempts=4)
    assert len(fake.calls) == 3


async def test_failed_host_is_not_retried(api, fake, server):
    fake.outcomes = [failure()]

    task = await wait_for_task(api, (await queue_connection_test(api, server))["id"])

    assert task["status"] == "failed"
    assert task["attempts"] == 1
    assert len(fake.calls) == 1
    assert task["result"]["failed_hosts"] == ["web-1"]
    assert task["error"] == "web-1: Ping: package not found"


async def test_failed_and_unreachable_hosts_together_are_not_retried(api, fake, server):
    both = failure()
    both.result.stats["dark"] = {"db-1": 1}
    fake.outcomes = [both]

    task = await wait_for_task(api, (await queue_connection_test(api, server))["id"])

    assert task["status"] == "failed"
    assert len(fake.calls) == 1
    assert task["result"]["unreachable_hosts"] == ["db-1"]


async def test_timeout_ends_the_task_timed_out_without_retry(api, fake, server):
    fake.outcomes = [Outcome(playbook_events("web-1")[:2], run_result("timeout"))]

    task = await wait_for_task(api, (await queue_connection_test(api, server))["id"])

    assert task["status"] == "timeout"
    assert task["error"] == "The run exceeded 3600 s."
    assert len(fake.calls) == 1


async def test_a_run_that_cannot_start_fails_with_a_message(api, fake, server):
    engine = api.client.app[ENGINE]
    row = await Server.get(id=server["id"])
    broken = await engine.submit(TaskKind.SERVICE, row, {})  # no service_name: prepare raises

    task = await wait_for_task(api, broken.id)

    assert task["status"] == "failed"
    assert task["error"].startswith("The run could not start:")
    assert "service_name" in task["error"]
    assert fake.calls == []
    assert engine.workers_alive() == engine.settings.workers + 1  # workers + flusher
    after = await wait_for_task(api, (await queue_connection_test(api, server))["id"])
    assert after["status"] == "successful"


# Cancel and retry -------------------------------------------------------------------------


async def test_cancel_of_a_queued_task_is_immediate_and_it_never_runs(api, fake, server):
    fake.hold()
    first = await queue_connection_test(api, server)
    await wait_until(lambda: len(fake.calls) == 1, what="first run")
    second = await queue_connection_test(api, server)  # waits: the server is busy

    reply = await api.post(f"/api/v1/tasks/{second['id']}/cancel")

    assert reply.status == 202
    assert reply.body["status"] == "cancelled"
    assert reply.body["error"] == "Cancelled on request."
    fake.release()
    assert (await wait_for_task(api, first["id"]))["status"] == "successful"
    await wait_until(lambda: not api.client.app[ENGINE].running, what="workers idle")
    assert len(fake.calls) == 1
    assert (await api.get(f"/api/v1/tasks/{second['id']}")).body["status"] == "cancelled"


async def test_cancel_of_a_running_task_stops_the_run(api, fake, server):
    fake.hold()
    task = await queue_connection_test(api, server)
    await wait_until(lambda: len(fake.calls) == 1, what="run started")

    reply = await api.post(f"/api/v1/tasks/{task['id']}/cancel")

    assert reply.status == 202
    done = await wait_for_task(api, task["id"])
    assert done["status"] == "cancelled"
    assert done["error"] == "Cancelled on request."
    assert fake.calls[0].saw_cancel
    assert len(fake.calls) == 1


async def test_a_task_cancelled_while_running_still_shows_cancel_requested(api, fake, server):
    fake.hold()
    task = await queue_connection_test(api, server)
    await wait_until(lambda: len(fake.calls) == 1, what="run started")

    accepted = await api.post(f"/api/v1/tasks/{task['id']}/cancel")
    assert accepted.body["cancel_requested"] is True
    done = await wait_for_task(api, task["id"])

    assert done["status"] == "cancelled"
    assert done["cancel_requested"] is True


async def test_cancel_of_a_finished_task_is_a_conflict(api, fake, server):
    task = await wait_for_task(api, (await queue_connection_test(api, server))["id"])

    reply = await api.post(f"/api/v1/tasks/{task['id']}/cancel")

    assert reply.status == 409


async def test_retry_of_a_successful_task_is_a_conflict(api, fake, server):
    task = await wait_for_task(api, (await queue_connection_test(api, server))["id"])

    reply = await api.post(f"/api/v1/tasks/{task['id']}/retry", json={})

    assert reply.status == 409
    assert len(fake.calls) == 1


async def test_retry_of_a_running_task_is_a_conflict(api, fake, server):
    fake.hold()
    task = await queue_connection_test(api, server)
    await wait_until(lambda: len(fake.calls) == 1, what="run started")

    reply = await api.post(f"/api/v1/tasks/{task['id']}/retry", json={})

    assert reply.status == 409
    fake.release()
    await wait_for_task(api, task["id"])


async def test_retry_failed_hosts_only_runs_a_new_task_limited_to_them(api, fake, server):
    fake.outcomes = [failure(), success()]
    failed = await wait_for_task(api, (await queue_connection_test(api, server))["id"])

    retry = await start_task(
        api, f"/api/v1/tasks/{failed['id']}/retry", json={"failed_hosts_only": True}
    )

    assert retry["id"] != failed["id"]
    assert retry["retry_of_id"] == failed["id"]
    assert retry["limit_hosts"] == ["web-1"]
    assert (await wait_for_task(api, retry["id"]))["status"] == "successful"
    assert fake.calls[1].spec.limit == "web-1"


async def test_retry_failed_hosts_only_without_failed_hosts_is_a_conflict(api, fake, server):
    engine = api.client.app[ENGINE]
    broken = await engine.submit(TaskKind.SERVICE, await Server.get(id=server["id"]), {})
    await wait_for_task(api, broken.id)

    reply = await api.post(f"/api/v1/tasks/{broken.id}/retry", json={"failed_hosts_only": True})

    assert reply.status == 409


# Scheduling -------------------------------------------------------------------------------


async def test_one_task_per_server_at_a_time_while_servers_run_in_parallel(api, fake, server):
    engine = api.client.app[ENGINE]
    other = await create_server(api, "web-2", "10.0.0.6")
    fake.hold()
    first = await queue_connection_test(api, server)
    await wait_until(lambda: len(fake.calls) == 1, what="first run")
    second = await queue_connection_test(api, server)
    parallel = await queue_connection_test(api, other)
    await wait_until(lambda: len(fake.calls) == 2, what="run on the other server")

    assert set(engine.running) == {first["id"], parallel["id"]}
    assert (await api.get(f"/api/v1/tasks/{second['id']}")).body["status"] == "queued"
    fake.release()
    for task in (first, second, parallel):
        assert (await wait_for_task(api, task["id"]))["status"] == "successful"
    assert len(fake.calls) == 3


# Setup, lockdown, audit -------------------------------------------------------------------


async def test_lockdown_is_refused_before_setup_and_accepted_after_it(api, fake, server):
    lockdown = f"/api/v1/servers/{server['id']}/security/lockdown"
    assert (await api.post(lockdown, json={})).status == 409

    setup = await start_task(api, f"/api/v1/servers/{server['id']}/setup", json={})
    assert (await wait_for_task(api, setup["id"]))["status"] == "successful"
    assert (await api.get(f"/api/v1/servers/{server['id']}")).body["setup_complete"] is True

    locked = await start_task(api, lockdown, json={})
    assert (await wait_for_task(api, locked["id"]))["status"] == "successful"
    assert (await api.get(f"/api/v1/servers/{server['id']}")).body["security_locked"] is True
    assert [call.spec.playbook for call in fake.calls] == ["setup.yml", "lockdown.yml"]


async def test_failed_setup_does_not_unlock_lockdown(api, fake, server):
    fake.outcomes = [failure()]
    setup = await start_task(api, f"/api/v1/servers/{server['id']}/setup", json={})
    await wait_for_task(api, setup["id"])

    reply = await api.post(f"/api/v1/servers/{server['id']}/security/lockdown", json={})

    assert reply.status == 409


async def test_audit_report_is_stored_and_served(api, fake, server):
    audit = f"/api/v1/servers/{server['id']}/security/audit"
    assert (await api.get(audit)).status == 404
    report = {"score": 100.0, "passed": 18, "failed": 0, "findings": []}
    fake.outcomes = [success(audit=report)]

    task = await wait_for_task(api, (await start_task(api, audit))["id"])

    assert task["result"]["report"] == report
    latest = await api.get(audit)
    assert latest.status == 200
    assert latest.body["task_id"] == task["id"]
    assert latest.body["report"] == report
    assert latest.body["finished_at"]


# Crash recovery ---------------------------------------------------------------------------


async def test_recover_marks_a_task_left_running_as_interrupted(
    aiohttp_client, settings, monkeypatch
):
    killed: list[int] = []
    monkeypatch.setattr(
        "service.ansible.processes.command_line", lambda pid: "python3 ansible-playbook ping.yml"
    )
    monkeypatch.setattr("service.ansible.processes.kill_tree", killed.append)
    async with database(settings.database_url):
        server = await Server.create(name="web-1", host="10.0.0.5")
        orphan = await Task.create(
            kind=TaskKind.SETUP, server=server, status=TaskStatus.RUNNING, pid=4242, attempts=1
        )
        queued = await Task.create(kind=TaskKind.SETUP, server=server, not_before=far_future())
    leftover = settings.artifacts_dir / "runs" / f"task-{orphan.id}-attempt-1"
    leftover.mkdir(parents=True)

    await aiohttp_client(create_app(settings))

    row = await Task.get(id=orphan.id)
    assert row.status == TaskStatus.INTERRUPTED
    assert "retry" in row.error
    assert row.finished_at is not None
    assert row.pid is None
    assert killed == [4242]
    assert not leftover.exists()
    assert (await Task.get(id=queued.id)).status == TaskStatus.QUEUED


async def test_recover_kills_nothing_when_the_pid_is_not_ansible(
    aiohttp_client, settings, monkeypatch
):
    killed: list[int] = []
    monkeypatch.setattr("service.ansible.processes.command_line", lambda pid: "/usr/bin/vim")
    monkeypatch.setattr("service.ansible.processes.kill_tree", killed.append)
    async with database(settings.database_url):
        server = await Server.create(name="web-1", host="10.0.0.5")
        orphan = await Task.create(
            kind=TaskKind.SETUP, server=server, status=TaskStatus.RUNNING, pid=4242
        )

    await aiohttp_client(create_app(settings))

    assert (await Task.get(id=orphan.id)).status == TaskStatus.INTERRUPTED
    assert killed == []


def assert_delay(not_before: datetime, seconds: int) -> None:
    delay = not_before - datetime.now(UTC)
    assert timedelta(seconds=seconds - 5) < delay <= timedelta(seconds=seconds)


def far_future() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)

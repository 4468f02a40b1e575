"""The task engine driven through the API, with ansible-runner replaced by a scripted fake."""

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tortoise.exceptions import IntegrityError

from service.app import create_app
from service.cluster.instances import instance_name
from service.config import Settings
from service.keys import ENGINE
from service.models import Server, Task, TaskKind, TaskStatus
from service.storage.db import database
from service.tasks.engine import next_claimable, runs_dir
from service.tasks.events import EventLog
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
    assert engine.workers_alive() == engine.settings.workers + 2  # workers, flusher, heartbeat
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


@pytest.mark.parametrize("settings", [{"workers": 1}], indirect=True)
async def test_a_task_queued_while_the_worker_looks_at_the_queue_starts_at_once(
    api, fake, server, monkeypatch
):
    """The wake-up of a submit that lands during a claim which found nothing is kept: the
    worker looks again at once, not after its idle poll (made a minute here)."""
    from service.tasks import engine as engine_module

    engine = api.client.app[ENGINE]
    looking = next_claimable
    queued: list[Task] = []

    async def submit_while_looking(now):
        found = await looking(now)
        if found is None and not queued:
            queued.append(await engine.submit(TaskKind.CONNECTION_TEST, await Server.get()))
        return found

    monkeypatch.setattr(engine_module, "IDLE_POLL", 60.0)
    monkeypatch.setattr(engine_module, "next_claimable", submit_while_looking)
    await wait_until(lambda: queued, what="a claim that found nothing")

    assert (await wait_for_task(api, queued[0].id))["status"] == "successful"


@pytest.mark.parametrize("settings", [{"retry_backoff": 0.3}], indirect=True)
async def test_a_task_backing_off_keeps_its_place_in_its_servers_queue(
    quick_poll, api, fake, server, monkeypatch
):
    """47 fails unreachable and backs off; 50 and 51 (same server) wait for its retry."""
    order: list[int] = []

    async def recording_run(spec, run_dir: Path, on_event, control):
        order.append(int(run_dir.name.split("-")[1]))
        return await fake(spec, run_dir, on_event, control)

    monkeypatch.setattr("service.tasks.engine.run_playbook", recording_run)
    other = await create_server(api, "web-2", "10.0.0.6")
    fake.outcomes = [unreachable(), success()]
    fake.hold()
    first = await queue_connection_test(api, server)
    await wait_until(lambda: len(fake.calls) == 1, what="first attempt")
    later = [await queue_connection_test(api, server) for _ in range(2)]
    elsewhere = await queue_connection_test(api, other)
    fake.release()

    for task in (first, *later, elsewhere):
        assert (await wait_for_task(api, task["id"]))["status"] == "successful"
    on_server = [task_id for task_id in order if task_id != elsewhere["id"]]
    assert on_server == [first["id"], first["id"], later[0]["id"], later[1]["id"]]
    assert order.index(elsewhere["id"]) < order.index(first["id"], 1)  # other servers go on


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
    leftover = runs_dir(settings, instance_name(settings)) / f"task-{orphan.id}-attempt-1"
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


# Nothing a task does kills a worker -------------------------------------------------------


def failing_once(original, error: Exception):
    """`original` (a coroutine function) that raises `error` on its first call."""
    calls: list[int] = []

    async def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise error
        return await original(*args, **kwargs)

    return failing


async def assert_engine_works(api, server) -> None:
    """Workers all alive, none restarted, /health 200, and a new task runs."""
    engine = api.client.app[ENGINE]
    task = await wait_for_task(api, (await queue_connection_test(api, server))["id"])
    assert task["status"] == "successful"
    assert engine.workers_alive() == engine.workers_expected() == engine.settings.workers + 2
    health = await api.get("/api/v1/health")
    assert health.status == 200, health.body
    assert health.body["components"]["workers"]["restarts"] == engine.restarts


def engine_tracebacks(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "service.tasks.engine" and r.exc_info]


@pytest.mark.parametrize("point", ["_execute", "_finish"])
async def test_an_engine_error_fails_the_task_and_the_worker_goes_on(
    api, fake, server, monkeypatch, caplog, point
):
    engine = api.client.app[ENGINE]
    original = getattr(engine, point)
    monkeypatch.setattr(engine, point, failing_once(original, RuntimeError("injected failure")))

    task = await wait_for_task(api, (await queue_connection_test(api, server))["id"])

    assert task["status"] == "failed"
    assert task["error"] == "The engine failed during this task: injected failure"
    assert task["finished_at"]
    assert "injected failure" in engine_tracebacks(caplog)[0].exc_text
    await assert_engine_works(api, server)
    assert engine.restarts == 0


async def test_a_failed_event_flush_fails_the_task_and_the_worker_goes_on(
    api, fake, server, monkeypatch, caplog
):
    """As when the events of a deleted server's task were stored (FOREIGN KEY failed)."""
    broken: set[int] = set()
    original = EventLog.flush

    async def flush(self: EventLog) -> None:
        if self.task_id in broken:
            raise IntegrityError("FOREIGN KEY constraint failed")
        await original(self)

    monkeypatch.setattr(EventLog, "flush", flush)
    fake.hold()
    doomed = await queue_connection_test(api, server)
    await wait_until(lambda: len(fake.calls) == 1, what="run started")
    broken.add(doomed["id"])
    fake.release()

    task = await wait_for_task(api, doomed["id"])

    assert task["status"] == "failed"
    assert "FOREIGN KEY constraint failed" in task["error"]
    assert engine_tracebacks(caplog)
    await assert_engine_works(api, server)
    assert api.client.app[ENGINE].restarts == 0


async def test_a_failed_claim_is_logged_and_the_task_still_runs(
    api, fake, server, monkeypatch, caplog
):
    monkeypatch.setattr(
        "service.tasks.engine.next_claimable",
        failing_once(next_claimable, RuntimeError("database hiccup")),
    )

    task = await wait_for_task(api, (await queue_connection_test(api, server))["id"])

    assert task["status"] == "successful"
    assert "database hiccup" in engine_tracebacks(caplog)[0].exc_text
    await assert_engine_works(api, server)


async def test_a_worker_that_ends_is_restarted_and_counted_in_health(
    api, fake, server, monkeypatch
):
    monkeypatch.setattr("service.tasks.engine.RESTART_DELAY", 0)
    engine = api.client.app[ENGINE]
    expected = engine.workers_expected()
    for worker in list(engine._workers.values()):  # every worker and the flusher
        worker.cancel()

    await wait_until(
        lambda: engine.restarts == expected and engine.workers_alive() == expected,
        what="workers restarted",
    )

    await assert_engine_works(api, server)
    health = await api.get("/api/v1/health")
    assert health.body["components"]["workers"]["restarts"] == expected


async def test_health_names_the_workers_when_one_is_dead(api, fake, server):
    engine = api.client.app[ENGINE]
    engine._supervisor.cancel()
    next(iter(engine._workers.values())).cancel()
    await wait_until(lambda: engine.workers_alive() < engine.workers_expected(), what="death")

    reply = await api.get("/api/v1/health")

    assert reply.status == 503
    assert reply.body["error"]["details"]["failing"] == ["workers"]
    workers = reply.body["error"]["details"]["workers"]
    assert workers["alive"] == workers["expected"] - 1
    assert workers["supervisor"] is False


# Deleting a server or an app under its tasks ----------------------------------------------


async def hold_two_tasks(api, fake, server) -> list[dict]:
    """One task running (held) and one queued behind it on `server`."""
    fake.hold()
    running = await queue_connection_test(api, server)
    await wait_until(lambda: len(fake.calls) == 1, what="run started")
    return [running, await queue_connection_test(api, server)]


async def test_deleting_a_server_with_unfinished_tasks_is_a_conflict(api, fake, server):
    tasks = await hold_two_tasks(api, fake, server)

    reply = await api.delete(f"/api/v1/servers/{server['id']}")

    assert reply.status == 409
    error = reply.body["error"]
    assert error["code"] == "conflict"
    assert error["details"] == {"tasks": [task["id"] for task in tasks]}
    assert "cancel_tasks=true" in error["message"]
    assert (await api.get(f"/api/v1/servers/{server['id']}")).status == 200
    fake.release()
    for task in tasks:
        assert (await wait_for_task(api, task["id"]))["status"] == "successful"


async def test_deleting_a_server_with_cancel_tasks_keeps_their_history(api, fake, server):
    """Four rounds of the reported break-in: the queue stays alive."""
    for round_number in range(4):
        target = await create_server(api, f"doomed-{round_number}", "10.0.0.9")
        tasks = await hold_two_tasks(api, fake, target)

        reply = await api.delete(f"/api/v1/servers/{target['id']}", params={"cancel_tasks": "true"})

        assert reply.status == 204, reply.body
        assert fake.calls[-1].saw_cancel
        assert (await api.get(f"/api/v1/servers/{target['id']}")).status == 404
        for task in tasks:
            kept = (await api.get(f"/api/v1/tasks/{task['id']}")).body
            assert kept["status"] == "cancelled"
            assert kept["server_id"] is None
            assert kept["server_ids"] == [target["id"]]
        events = (await api.get(f"/api/v1/tasks/{tasks[0]['id']}/events")).body
        assert [item["event"]["event"] for item in events["items"]] == ["playbook_on_start"]
        fake.calls.clear()
        fake.gate = None
    await assert_engine_works(api, server)


async def test_deleting_an_app_with_unfinished_tasks(api, fake, server, app_record):
    engine = api.client.app[ENGINE]
    fake.hold()
    task = await engine.submit(
        TaskKind.CONNECTION_TEST, await Server.get(id=server["id"]), app_id=app_record["id"]
    )
    await wait_until(lambda: len(fake.calls) == 1, what="run started")
    path = f"/api/v1/apps/{app_record['id']}"

    refused = await api.delete(path)
    deleted = await api.delete(path, params={"cancel_tasks": "true"})

    assert refused.status == 409
    assert refused.body["error"]["details"] == {"tasks": [task.id]}
    assert deleted.status == 204
    kept = (await api.get(f"/api/v1/tasks/{task.id}")).body
    assert (kept["status"], kept["app_id"], kept["server_id"]) == ("cancelled", None, server["id"])
    assert (await api.get(path)).status == 404
    fake.gate = None
    await assert_engine_works(api, server)


async def test_retry_of_a_task_whose_server_was_deleted_is_a_conflict(api, fake, server):
    fake.outcomes = [failure()]
    target = await create_server(api, "gone", "10.0.0.9")
    failed = await wait_for_task(api, (await queue_connection_test(api, target))["id"])
    assert (await api.delete(f"/api/v1/servers/{target['id']}")).status == 204

    reply = await api.post(f"/api/v1/tasks/{failed['id']}/retry", json={})

    assert reply.status == 409
    assert "deleted" in reply.body["error"]["message"]

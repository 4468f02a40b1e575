"""What a purge deletes and what it keeps, seen through the API afterwards."""

import logging
from dataclasses import replace

import pytest

from service.config import ConfigError, Settings
from service.models import (
    App,
    Deployment,
    DeploymentStatus,
    Server,
    Task,
    TaskEvent,
    TaskKind,
    TaskStatus,
    Version,
)
from service.retention import Purge
from tests.retention.helpers import NOW, make_task


@pytest.fixture
async def web1(api) -> Server:
    return await Server.create(name="web-1", host="10.0.0.5")


async def events_of(api, task_id: int) -> list[int]:
    reply = await api.get(f"/api/v1/tasks/{task_id}/events")
    assert reply.status == 200, reply.body
    return [item["seq"] for item in reply.body["items"]]


async def exists(api, task_id: int) -> bool:
    status = (await api.get(f"/api/v1/tasks/{task_id}")).status
    assert status in (200, 404)
    return status == 200


async def test_old_events_of_finished_tasks_go_and_the_tasks_stay(api, settings, web1):
    old = await make_task(web1, age_days=31, events=4)
    recent = await make_task(web1, age_days=29, events=4)
    running = await make_task(web1, age_days=31, events=4, status=TaskStatus.RUNNING)

    deleted = await Purge(settings, NOW).run()

    assert deleted == {"task_events": 4}
    assert await events_of(api, old.id) == []
    assert await exists(api, old.id)
    assert await events_of(api, recent.id) == [1, 2, 3, 4]
    assert await events_of(api, running.id) == [1, 2, 3, 4], "a task still running keeps all"


async def test_old_finished_tasks_go_but_each_servers_newest_are_kept(api, settings, web1):
    web2 = await Server.create(name="web-2", host="10.0.0.6")
    first = [await make_task(web1, age_days=200 - n, events=2) for n in range(6)]
    other = [await make_task(web2, age_days=300, events=2) for _ in range(2)]
    queued = await make_task(web1, age_days=400, status=TaskStatus.QUEUED, events=2)
    orphan = [await make_task(None, age_days=300) for _ in range(4)]
    settings = replace(settings, event_retention_days=0)

    deleted = await Purge(settings, NOW).run()

    # web-1's newest three (the queued one among them); web-2 has only two; and of the
    # tasks whose server was deleted, the newest three too.
    assert deleted == {"tasks": 4 + 1, "task_events": 4 * 2}
    assert [await exists(api, t.id) for t in first] == [False] * 4 + [True] * 2
    assert [await exists(api, t.id) for t in other] == [True, True]
    assert await exists(api, queued.id)
    assert [await exists(api, t.id) for t in orphan] == [False, True, True, True]
    assert await TaskEvent.filter(task_id__in=[t.id for t in first[:4]]).count() == 0
    assert (await api.get(f"/api/v1/servers/{web1.id}")).status == 200


async def test_a_purge_keeps_what_the_service_still_reads(api, settings, web1):
    """The latest audit, each unit's last state, the latest deployment's task; an old task
    that a newer one retries goes, and the retry stays whole."""
    settings = replace(settings, keep_tasks_per_server=0)
    audit = {"report": {"score": 80, "findings": []}}
    older_audit = await make_task(web1, age_days=300, kind=TaskKind.AUDIT, result=audit)
    latest_audit = await make_task(web1, age_days=200, kind=TaskKind.AUDIT, result=audit)
    await make_task(web1, age_days=100, kind=TaskKind.AUDIT, status=TaskStatus.FAILED)
    unit = {"service_name": "nginx"}
    state = {"status": {"active_state": "active"}}
    older_check = await make_task(web1, age_days=300, kind=TaskKind.SERVICE, params=unit)
    check = await make_task(web1, age_days=200, kind=TaskKind.SERVICE, params=unit, result=state)
    shop = await App.create(name="shop", server=web1, remote_path="/srv/shop", service_name="shop")
    version = await Version.create(app=shop, version_number="1.0.0")
    earlier = await Deployment.create(app=shop, version=version, status=DeploymentStatus.FAILED)
    live = await Deployment.create(app=shop, version=version, status=DeploymentStatus.COMPLETED)
    earlier_run = await make_task(web1, age_days=300, kind=TaskKind.DEPLOY, deployment=earlier)
    failed_run = await make_task(
        web1, age_days=250, kind=TaskKind.DEPLOY, deployment=live, status=TaskStatus.FAILED
    )
    live_run = await make_task(
        web1, age_days=240, kind=TaskKind.DEPLOY, deployment=live, retry_of=failed_run, events=3
    )

    deleted = await Purge(settings, NOW).run()

    assert deleted["tasks"] == 5  # older audit, failed audit, older check, two old runs
    for gone in (older_audit, older_check, earlier_run, failed_run):
        assert not await exists(api, gone.id)
    reply = await api.get(f"/api/v1/servers/{web1.id}/security/audit")
    assert reply.status == 200 and reply.body["task_id"] == latest_audit.id
    services = (await api.get(f"/api/v1/services/{web1.id}")).body
    assert services["server_id"] == web1.id
    assert await exists(api, check.id)
    status = await api.get(f"/api/v1/deployments/{live.id}/status")
    assert status.status == 200 and status.body["task"]["id"] == live_run.id
    assert status.body["task"]["retry_of_id"] is None
    assert await events_of(api, live_run.id) == [1, 2, 3], "its events stay as well"
    earlier_status = await api.get(f"/api/v1/deployments/{earlier.id}/status")
    assert earlier_status.status == 200 and earlier_status.body["task"] is None
    assert (await api.get(f"/api/v1/apps/{shop.id}")).status == 200


async def test_a_dry_run_counts_exactly_what_the_purge_then_deletes(settings, web1):
    for age in (300, 200, 100, 100, 100, 40, 10):
        await make_task(web1, age_days=age, events=3)

    counted = await Purge(settings, NOW, dry_run=True).run()
    assert await Task.all().count() == 7 and await TaskEvent.all().count() == 21
    deleted = await Purge(settings, NOW).run()

    assert counted == deleted == {"task_events": 3 * 6, "tasks": 4}


async def test_no_statement_deletes_more_than_a_batch(settings, web1, caplog):
    settings = replace(settings, retention_batch=7, keep_tasks_per_server=0)
    for _ in range(20):
        await make_task(web1, age_days=100, events=9)
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")

    deleted = await Purge(settings, NOW).run()

    assert deleted == {"task_events": 180, "tasks": 20}
    deletes = [r.args for r in caplog.records if r.args and str(r.args[0]).startswith("DELETE")]
    assert deletes, "the purge's statements are logged"
    assert max(len(values) for _, values in deletes) <= 7
    assert len(deletes) >= (180 + 20) // 7


async def test_zero_or_an_empty_variable_switches_a_rule_off(settings, web1):
    await make_task(web1, age_days=1000, events=3)
    off = Settings.load(environ={"PBD_EVENT_RETENTION_DAYS": "", "PBD_TASK_RETENTION_DAYS": "0"})
    assert (off.event_retention_days, off.task_retention_days) == (0, 0)
    assert Settings.load(environ={}).task_retention_days == 90, "unset: the default"
    off = replace(settings, event_retention_days=0, task_retention_days=0, keep_tasks_per_server=0)

    assert await Purge(off, NOW).run() == {}
    assert await TaskEvent.all().count() == 3


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PBD_TASK_RETENTION_DAYS", "-1"),
        ("PBD_RETENTION_BATCH", "0"),
        ("PBD_RETENTION_BATCH", "10001"),
    ],
)
def test_a_retention_setting_out_of_range_is_refused(variable, value):
    with pytest.raises(ConfigError, match=r"must be at (least|most)"):
        Settings.load(environ={variable: value})

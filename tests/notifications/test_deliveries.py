"""Deliveries through a real local receiver: signed, per format, filtered, per event."""

from datetime import UTC, datetime, timedelta

import pytest

from service.keys import ENGINE
from service.models import WebhookDelivery
from service.retention import Purge
from tests.notifications.conftest import add_webhook, deliveries, wait_for_deliveries
from tests.unit.helpers import (
    Outcome,
    create_server,
    playbook_events,
    run_result,
    start_task,
    wait_for_task,
)
from tests.unit.test_deployments import deploy, new_version


async def finished_task(api, server_id: int) -> dict:
    task = await start_task(api, f"/api/v1/servers/{server_id}/test-connection")
    return await wait_for_task(api, task["id"])


async def delivered(api, webhook_id: int, count: int = 1) -> list[dict]:
    """The webhook's deliveries once `count` of them are delivered."""
    return await wait_for_deliveries(
        api, webhook_id, lambda found: sum(d["status"] == "delivered" for d in found) >= count
    )


async def test_a_finished_task_is_posted_signed_and_recorded(api, fake, receiver):
    server = await create_server(api)
    hook = await add_webhook(api, receiver.url, ["task.finished"])
    task = await finished_task(api, server["id"])

    (received,) = await receiver.wait_for(1)
    assert received.signed
    assert received.headers["X-PBD-Event"] == "task.finished"
    assert received.headers["Content-Type"] == "application/json"
    assert received.body["event"] == "task.finished"
    assert received.body["timestamp"].endswith("+00:00")
    assert received.body["data"]["task"] | {"updated": None} == task | {"updated": None}
    (record,) = await delivered(api, hook["id"])
    assert record["id"] == int(received.headers["X-PBD-Delivery"])
    assert (record["event"], record["attempts"], record["response_code"]) == (
        "task.finished", 1, 200,
    )  # fmt: skip
    assert record["duration_ms"] >= 0 and record["error"] is None
    assert record["finished_at"] and len(record["history"]) == 1


@pytest.mark.parametrize(("format", "key"), [("slack", "text"), ("discord", "content")])
async def test_chat_formats_carry_one_line(api, fake, receiver, client, format, key):
    server = await create_server(api)
    await add_webhook(api, receiver.url, ["task.finished", "audit.drift"], format=format)
    task = await finished_task(api, server["id"])
    message = "<!channel> & @everyone: sshd allows passwords"
    client.app[ENGINE].publisher.notice("audit.drift", {"message": message}, server_id=1)
    finished, drift = sorted(  # in either order: two attempts may run at once
        await receiver.wait_for(2), key=lambda r: r.headers["X-PBD-Event"] == "audit.drift"
    )
    assert finished.signed and drift.signed
    assert (
        finished.body[key]
        == f"pb-deployer: task {task['id']} (connection_test) on server 1 successful"
    )
    if format == "slack":  # Slack would read <!channel> as a mention
        escaped = "&lt;!channel&gt; &amp; @everyone: sshd allows passwords"
        assert drift.body == {"text": f"pb-deployer: audit.drift (server 1): {escaped}"}
    else:
        assert drift.body == {
            "content": f"pb-deployer: audit.drift (server 1): {message}",
            "allowed_mentions": {"parse": []},
        }


async def test_server_and_app_filters(api, fake, receiver):
    web1 = await create_server(api, name="web-1")
    web2 = await create_server(api, name="web-2", host="10.0.0.6")
    only_web2 = await add_webhook(api, receiver.url, ["task.finished"], server_id=web2["id"])
    everything = await add_webhook(api, receiver.url, ["task.finished"])
    disabled = await add_webhook(api, receiver.url, ["task.finished"], enabled=False)
    await finished_task(api, web1["id"])
    task2 = await finished_task(api, web2["id"])
    await receiver.wait_for(3)
    assert [d["event"] for d in await delivered(api, everything["id"], 2)] == ["task.finished"] * 2
    (only,) = await delivered(api, only_web2["id"])
    assert only["id"] in {int(r.headers["X-PBD-Delivery"]) for r in receiver.received}
    assert [r.body["data"]["task"]["id"] for r in receiver.received].count(task2["id"]) == 2
    assert await deliveries(api, disabled["id"]) == []


async def test_notices_are_delivered_by_their_name(api, fake, receiver, client):
    server = await create_server(api)
    hook = await add_webhook(api, receiver.url, ["audit.drift"], server_id=server["id"])
    publisher = client.app[ENGINE].publisher
    publisher.notice("audit.drift", {"message": "sshd allows passwords"}, server_id=server["id"])
    publisher.notice("audit.drift", {"message": "elsewhere"}, server_id=server["id"] + 1)
    publisher.notice("something.else", {"message": "nobody asked"}, server_id=server["id"])
    (received,) = await receiver.wait_for(1)
    assert received.signed
    assert received.body["event"] == "audit.drift"
    assert received.body["data"] == {"message": "sshd allows passwords"}
    assert len(await delivered(api, hook["id"])) == 1


async def test_lockdown_reports_server_locked(api, fake, receiver):
    server = await create_server(api)
    hook = await add_webhook(api, receiver.url, ["server.locked"])
    await wait_for_task(api, (await start_task(api, f"/api/v1/servers/{server['id']}/setup"))["id"])
    lockdown = await start_task(api, f"/api/v1/servers/{server['id']}/security/lockdown")
    await wait_for_task(api, lockdown["id"])
    (received,) = await receiver.wait_for(1)
    assert received.body["event"] == "server.locked"
    assert received.body["data"]["server"]["id"] == server["id"]
    assert received.body["data"]["server"]["security_locked"] is True
    assert received.body["data"]["task"]["id"] == lockdown["id"]
    assert [d["event"] for d in await delivered(api, hook["id"])] == ["server.locked"]


def deploy_report(status: str) -> Outcome:
    report = {"deploy": {"web-1": {"release_id": "r1", "status": status, "step": "post_hooks"}}}
    result = run_result("successful" if status == "deployed" else "failed", custom_stats=report)
    return Outcome(playbook_events("web-1"), result)


async def test_deploys_report_finished_and_rolled_back(api, fake, receiver, app_record):
    hook = await add_webhook(
        api,
        receiver.url,
        ["deployment.finished", "deployment.rolled_back"],
        app_id=app_record["id"],
    )
    fake.outcomes = [deploy_report("deployed"), deploy_report("deployed")]
    deployments = []
    for number in ("1.0.0", "2.0.0", "3.0.0"):
        if number == "3.0.0":  # its post hook fails after the switch: the host switches back
            fake.outcomes.append(deploy_report("rolled_back"))
        version = await new_version(api, app_record["id"], number)
        accepted = await deploy(api, app_record["id"], version["id"])
        await wait_for_task(api, accepted["task"]["id"])
        deployments.append(accepted["deployment"]["id"])
    received = await receiver.wait_for(4)  # in any order: two attempts may run at once
    by_event = {(r.body["event"], r.body["data"]["deployment"]["id"]): r.body for r in received}
    assert sorted(by_event) == [
        ("deployment.finished", deployments[0]),
        ("deployment.finished", deployments[1]),
        ("deployment.finished", deployments[2]),
        ("deployment.rolled_back", deployments[2]),
    ]
    assert by_event["deployment.finished", deployments[0]]["data"]["deployment"]["status"] == (
        "completed"
    )
    rolled_back = by_event["deployment.rolled_back", deployments[2]]["data"]
    assert (rolled_back["deployment"]["status"], rolled_back["task"]["status"]) == (
        "failed", "failed",
    )  # fmt: skip
    assert all(r.signed for r in received)

    fake.outcomes.append(Outcome(playbook_events("web-1"), run_result()))
    rollback = await api.post(f"/api/v1/apps/{app_record['id']}/rollback", json={})
    assert rollback.status == 202, rollback.body
    await wait_for_task(api, rollback.body["task"]["id"])
    received = await receiver.wait_for(6)
    assert sorted(
        (r.body["event"], r.body["data"]["deployment"]["kind"]) for r in received[4:]
    ) == [
        ("deployment.finished", "rollback"),
        ("deployment.rolled_back", "rollback"),
    ]
    assert len(await delivered(api, hook["id"], 6)) == 6


async def test_old_finished_deliveries_are_purged_and_pending_ones_stay(
    api, fake, receiver, settings
):
    server = await create_server(api)
    hook = await add_webhook(api, receiver.url, ["task.finished"])
    for _ in range(2):
        await finished_task(api, server["id"])
    old, recent = sorted(d["id"] for d in await delivered(api, hook["id"], count=2))
    now = datetime.now(UTC)
    await WebhookDelivery.filter(id=old).update(finished_at=now - timedelta(days=31))
    stuck = await WebhookDelivery.create(
        webhook_id=hook["id"],
        event="task.finished",
        body="{}",
        next_attempt_at=now + timedelta(days=1),
    )
    await WebhookDelivery.filter(id=stuck.id).update(created=now - timedelta(days=400))

    assert await Purge(settings, now).run() == {"webhook_deliveries": 1}
    assert sorted(d["id"] for d in await deliveries(api, hook["id"])) == [recent, stuck.id]

"""Deployments through the API with a scripted Ansible: records, rules, rollback, stats."""

import io
import zipfile
from dataclasses import replace

import pytest

from service.models import Deployment, DeploymentStatus
from tests.unit.helpers import (
    FakeAnsible,
    Outcome,
    create_server,
    failure,
    install_fake_ansible,
    playbook_events,
    run_result,
    wait_for_task,
    wait_until,
)

ZIP = {"Content-Type": "application/zip"}


def deployed(host: str, release: str) -> Outcome:
    report = {"deploy": {host: {"release_id": release, "status": "deployed", "step": "cleanup"}}}
    return Outcome(playbook_events(host), run_result(ok=(host,), custom_stats=report))


def app_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bin/start", "#!/bin/sh\nexec python3 server.py\n")
    return buffer.getvalue()


@pytest.fixture
def settings(settings):
    return replace(settings, retry_backoff=0, workers=2)


@pytest.fixture
def fake(monkeypatch) -> FakeAnsible:
    return install_fake_ansible(monkeypatch, FakeAnsible(outcomes=[deployed("web-1", "r1")]))


@pytest.fixture
async def shop(api) -> dict:
    server = await create_server(api)
    reply = await api.post(
        "/api/v1/apps",
        json={"name": "shop", "server_id": server["id"], "remote_path": "/srv/apps/shop",
              "service_name": "shop", "domain": "shop.example.com"},
    )  # fmt: skip
    return reply.body


async def new_version(api, app_id: int, number: str, *, upload: bool = True) -> dict:
    version = (
        await api.post("/api/v1/versions", json={"app_id": app_id, "version_number": number})
    ).body
    if upload:
        reply = await api.post(
            f"/api/v1/versions/{version['id']}/upload", data=app_zip(), headers=ZIP
        )
        assert reply.status == 201, reply.body
    return version


async def deploy(api, app_id: int, version_id: int, **options) -> dict:
    reply = await api.post(
        f"/api/v1/apps/{app_id}/deploy", json={"version_id": version_id, **options}
    )
    assert reply.status == 202, reply.body
    assert (
        reply.headers["Location"] == f"/api/v1/deployments/{reply.body['deployment']['id']}/status"
    )
    return reply.body


async def test_a_deploy_runs_the_deploy_playbook_and_updates_app_and_deployment(api, fake, shop):
    version = await new_version(api, shop["id"], "1.0.0")
    accepted = await deploy(
        api, shop["id"], version["id"],
        health={"path": "/healthz", "retries": 5}, hooks={"pre": [["bin/migrate", "--yes"]]},
    )  # fmt: skip
    assert accepted["deployment"]["status"] == "pending"
    await wait_for_task(api, accepted["task"]["id"])
    status = await api.get(f"/api/v1/deployments/{accepted['deployment']['id']}/status")
    deployment = status.body["deployment"]
    assert deployment["status"] == "completed"
    assert deployment["started_at"] and deployment["completed_at"]
    assert deployment["host_results"]["web-1"]["status"] == "deployed"
    assert deployment["current_step"] == "cleanup"
    assert deployment["release_id"].startswith("1.0.0-")
    app = (await api.get(f"/api/v1/apps/{shop['id']}")).body
    assert (app["status"], app["current_version"]) == ("running", "1.0.0")

    spec = fake.calls[0].spec
    assert spec.playbook == "deploy.yml"
    variables = spec.extravars
    assert variables["app_deploy_version"] == "1.0.0"
    assert variables["app_deploy_release_id"] == deployment["release_id"]
    assert variables["app_deploy_zip"].endswith(f"version-{version['id']}.zip")
    assert variables["app_deploy_health_path"] == "/healthz"
    assert variables["app_deploy_health_retries"] == 5
    assert variables["app_deploy_pre_hooks"] == [["bin/migrate", "--yes"]]
    assert variables["app_deploy_domain"] == "shop.example.com"
    assert "app_deploy_health_command" not in variables
    assert "app_deploy_user" in spec.inventory  # a host variable: it differs per server


async def test_a_failed_deploy_keeps_the_live_version(api, fake, shop):
    first = await new_version(api, shop["id"], "1.0.0")
    await wait_for_task(api, (await deploy(api, shop["id"], first["id"]))["task"]["id"])
    fake.outcomes.append(failure("web-1"))
    broken = await new_version(api, shop["id"], "2.0.0")
    accepted = await deploy(api, shop["id"], broken["id"])
    await wait_for_task(api, accepted["task"]["id"])
    deployment = (await api.get(f"/api/v1/deployments/{accepted['deployment']['id']}/status")).body
    assert deployment["deployment"]["status"] == "failed"
    assert deployment["deployment"]["error"]
    app = (await api.get(f"/api/v1/apps/{shop['id']}")).body
    assert (app["status"], app["current_version"]) == ("running", "1.0.0")


async def test_deploy_refusals(api, fake, shop):
    no_zip = await new_version(api, shop["id"], "1.0.0", upload=False)
    assert (
        await api.post(f"/api/v1/apps/{shop['id']}/deploy", json={"version_id": no_zip["id"]})
    ).status == 409
    body = {"name": "other", "server_id": shop["server_id"], "remote_path": "/srv/o",
            "service_name": "o"}  # fmt: skip
    other = await api.post("/api/v1/apps", json=body)
    foreign = await new_version(api, other.body["id"], "1.0.0")
    reply = await api.post(f"/api/v1/apps/{shop['id']}/deploy", json={"version_id": foreign["id"]})
    assert reply.status == 422 and "version_id" in reply.body["error"]["details"]
    bad = await api.post(
        f"/api/v1/apps/{shop['id']}/deploy", json={"version_id": 1, "strategy": "yolo"}
    )
    assert bad.status == 422
    hooks = await api.post(
        f"/api/v1/apps/{shop['id']}/deploy", json={"version_id": 1, "hooks": {"pre": ["not argv"]}}
    )
    assert hooks.status == 422
    assert (await api.post("/api/v1/apps/999/deploy", json={"version_id": 1})).status == 404


async def test_one_deploy_at_a_time_and_cancel(api, fake, shop):
    fake.hold()
    version = await new_version(api, shop["id"], "1.0.0")
    accepted = await deploy(api, shop["id"], version["id"])
    await wait_until(lambda: fake.calls, what="the run to start")
    again = await api.post(f"/api/v1/apps/{shop['id']}/deploy", json={"version_id": version["id"]})
    assert again.status == 409
    reply = await api.post(f"/api/v1/deployments/{accepted['deployment']['id']}/cancel")
    assert reply.status == 202
    await wait_for_task(api, accepted["task"]["id"])
    record = await Deployment.get(id=accepted["deployment"]["id"])
    assert record.status == DeploymentStatus.CANCELLED
    assert (await api.get(f"/api/v1/apps/{shop['id']}")).body["status"] == "error"  # nothing live


async def test_rollback_to_previous_release_and_version_guard(api, fake, shop):
    v1 = await new_version(api, shop["id"], "1.0.0")
    v2 = await new_version(api, shop["id"], "2.0.0")
    assert (await api.post(f"/api/v1/apps/{shop['id']}/rollback", json={})).status == 409
    first = await deploy(api, shop["id"], v1["id"])
    await wait_for_task(api, first["task"]["id"])
    await wait_for_task(api, (await deploy(api, shop["id"], v2["id"]))["task"]["id"])
    # v1 is the rollback target now, v2 is live: neither may be deleted.
    assert (await api.delete(f"/api/v1/versions/{v1['id']}")).status == 409
    assert (await api.delete(f"/api/v1/versions/{v2['id']}")).status == 409

    reply = await api.post(f"/api/v1/apps/{shop['id']}/rollback", json={})
    assert reply.status == 202, reply.body
    assert reply.body["deployment"]["kind"] == "rollback"
    await wait_for_task(api, reply.body["task"]["id"])
    spec = fake.calls[-1].spec
    assert spec.playbook == "rollback.yml"
    release = (await Deployment.get(id=first["deployment"]["id"])).release_id
    assert spec.extravars["app_deploy_rollback_to"] == release
    app = (await api.get(f"/api/v1/apps/{shop['id']}")).body
    assert app["current_version"] == "1.0.0"

    named = await api.post(f"/api/v1/apps/{shop['id']}/rollback", json={"version_id": v2["id"]})
    assert named.status == 202 and named.body["task"]["kind"] == "deploy"


async def test_list_filters_and_stats(api, fake, shop):
    fake.outcomes.extend([failure("web-1"), deployed("web-1", "r3")])
    versions = [await new_version(api, shop["id"], f"1.0.{n}") for n in range(3)]
    ids = []
    for version in versions:
        accepted = await deploy(api, shop["id"], version["id"])
        await wait_for_task(api, accepted["task"]["id"])
        ids.append(accepted["deployment"]["id"])
    failed = await api.get("/api/v1/deployments", params={"status": "failed"})
    assert [d["id"] for d in failed.body["items"]] == [ids[1]]
    listed = await api.get(
        "/api/v1/deployments", params={"app_id": shop["id"], "since": "2000-01-01T00:00:00+00:00"}
    )
    assert listed.body["total_items"] == 3 and [d["id"] for d in listed.body["items"]] == ids[::-1]
    future = await api.get("/api/v1/deployments", params={"since": "2999-01-01T00:00:00+00:00"})
    assert future.body["total_items"] == 0
    assert (await api.get("/api/v1/deployments", params={"since": "yesterday"})).status == 422

    stats = (await api.get("/api/v1/deployments/stats")).body["windows"]
    day = stats["24h"]
    assert day["total"] == 3
    assert day["by_status"]["completed"] == 2 and day["by_status"]["failed"] == 1
    assert day["success_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert day["median_duration_s"] is not None and day["p95_duration_s"] is not None
    assert day["apps"][str(shop["id"])]["app_name"] == "shop"
    assert stats["30d"]["total"] == 3


async def test_app_servers_are_deployed_together(api, fake, shop):
    second = await create_server(api, name="web-2", host="10.0.0.6")
    reply = await api.put(f"/api/v1/apps/{shop['id']}/servers", json={"server_ids": [second["id"]]})
    assert reply.status == 200, reply.body
    assert reply.body["server_ids"] == [shop["server_id"], second["id"]]
    assert (
        await api.put(f"/api/v1/apps/{shop['id']}/servers", json={"server_ids": [999]})
    ).status == 422
    fake.outcomes[0] = deployed("web-1", "r1")
    version = await new_version(api, shop["id"], "1.0.0")
    accepted = await deploy(api, shop["id"], version["id"], strategy="blue-green", batch_size=1)
    assert accepted["task"]["server_ids"] == [shop["server_id"], second["id"]]
    await wait_for_task(api, accepted["task"]["id"])
    spec = fake.calls[-1].spec
    assert "web-1" in spec.inventory and "web-2" in spec.inventory
    assert spec.extravars["app_deploy_strategy"] == "blue-green"
    assert spec.extravars["app_deploy_batch_size"] == 1


def served(host: str, kind: str, release: str | None, version: str | None) -> Outcome:
    """A run whose role reports what nginx serves on the host at its end."""
    entry = {"slot": "green" if release else None, "release_id": release, "version": version}
    report = {kind: {host: {"release_id": release, "status": "reconciled", "served": entry}}}
    return Outcome(playbook_events(host), run_result(ok=(host,), custom_stats=report))


async def test_a_cancelled_deploy_queues_a_reconcile_and_the_records_follow_the_host(
    api, fake, shop
):
    v1 = await new_version(api, shop["id"], "1.0.0")
    await wait_for_task(api, (await deploy(api, shop["id"], v1["id"]))["task"]["id"])
    # Given a deploy of 2.0.0 cancelled while it runs (just after its switch, say)
    fake.hold()
    v2 = await new_version(api, shop["id"], "2.0.0")
    accepted = await deploy(api, shop["id"], v2["id"])
    await wait_until(lambda: len(fake.calls) == 2, what="the deploy to start")
    release = accepted["deployment"]["release_id"]
    fake.outcomes.append(served("web-1", "reconcile", release, "2.0.0"))
    reply = await api.post(f"/api/v1/deployments/{accepted['deployment']['id']}/cancel")
    assert reply.status == 202
    assert (await wait_for_task(api, accepted["task"]["id"]))["status"] == "cancelled"
    # Then a reconcile of the app's servers is queued by itself
    await wait_until(lambda: len(fake.calls) == 3, what="the reconcile to start")
    spec = fake.calls[2].spec
    assert spec.playbook == "reconcile.yml"
    assert spec.extravars["app_deploy_name"] == "shop"
    assert "app_deploy_zip" not in spec.extravars
    fake.release()
    tasks = (await api.get(f"/api/v1/tasks?app_id={shop['id']}&kind=reconcile")).body["items"]
    assert [task["kind"] for task in tasks] == ["reconcile"]
    await wait_for_task(api, tasks[0]["id"])
    # And when the host turns out to serve 2.0.0, the records say so
    app = (await api.get(f"/api/v1/apps/{shop['id']}")).body
    assert (app["status"], app["current_version"]) == ("running", "2.0.0")
    record = await Deployment.get(id=accepted["deployment"]["id"])
    assert record.status == DeploymentStatus.COMPLETED
    assert "Reconciled" in record.error
    assert record.host_results["web-1"]["served"]["release_id"] == release


async def test_reconcile_on_demand(api, fake, shop):
    assert (await api.post("/api/v1/apps/999/reconcile")).status == 404
    # Given a host that serves nothing (its first deploy never went live)
    fake.outcomes = [served("web-1", "reconcile", None, None)]
    reply = await api.post(f"/api/v1/apps/{shop['id']}/reconcile")
    assert reply.status == 202, reply.body
    assert reply.body["task"]["kind"] == "reconcile"
    assert reply.headers["Location"] == f"/api/v1/tasks/{reply.body['task']['id']}"
    assert (await wait_for_task(api, reply.body["task"]["id"]))["status"] == "successful"
    assert fake.calls[0].spec.extravars["app_deploy_root"] == "/srv/apps/shop"
    app = (await api.get(f"/api/v1/apps/{shop['id']}")).body
    assert (app["status"], app["current_version"]) == ("error", None)

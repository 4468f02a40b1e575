"""POST /apps/{id}/restart: a health-gated restart task of the app's live slots."""

from service.domain import tokens
from service.models import Role
from tests.conftest import Api
from tests.health.conftest import create_server, deployed_app
from tests.unit.helpers import wait_for_task


async def test_restart_queues_one_task_over_the_apps_servers_with_the_live_health_check(
    api, checker, clock, fake
):
    one = await create_server(api, "web-1", "127.0.0.1")
    two = await create_server(api, "web-2", "127.0.0.2")
    shop = await deployed_app(api, checker, clock, "shop", [one["id"], two["id"]])
    reply = await api.post(f"/api/v1/apps/{shop['id']}/restart")
    assert reply.status == 202, reply.body
    task = reply.body["task"]
    assert (task["kind"], task["server_ids"], task["app_id"]) == (
        "restart",
        [one["id"], two["id"]],
        shop["id"],
    )
    assert reply.headers["Location"] == f"/api/v1/tasks/{task['id']}"
    assert (await wait_for_task(api, task["id"]))["status"] == "successful"
    [call] = fake.calls
    assert call.spec.playbook == "restart.yml"
    variables = call.spec.extravars
    assert variables["app_deploy_health_path"] == "/ready"
    assert variables["app_deploy_ports"] == [8101, 8102]
    assert "app_deploy_environment_file" in call.spec.secret_files  # the env is written again


async def test_restart_is_refused_before_a_completed_deployment_and_for_a_viewer(api, fake):
    server = await create_server(api, "web-1", "127.0.0.1")
    body = {"name": "shop", "server_id": server["id"], "remote_path": "/srv/apps/shop",
            "service_name": "shop"}  # fmt: skip
    shop = (await api.post("/api/v1/apps", json=body)).body
    refused = await api.post(f"/api/v1/apps/{shop['id']}/restart")
    assert refused.status == 409, refused.body
    assert refused.body["error"]["code"] == "conflict"
    viewer = Api(api.client, (await tokens.issue_token("v", role=Role.VIEWER)).secret)
    assert (await viewer.post(f"/api/v1/apps/{shop['id']}/restart")).status == 403
    assert (await viewer.get(f"/api/v1/apps/{shop['id']}/health")).status == 200
    assert (await api.post("/api/v1/apps/999/restart")).status == 404

"""The incoming deploy hook through the real HTTP API, with a scripted Ansible run."""

import hashlib
import hmac
import json

import pytest

from service.domain import tokens
from service.models import DeployHook, Role
from tests.conftest import Api
from tests.unit.helpers import FakeAnsible, install_fake_ansible, wait_for_task
from tests.unit.test_deployments import deployed, new_version

HEADER = "X-Hub-Signature-256"


@pytest.fixture
def fake(monkeypatch) -> FakeAnsible:
    return install_fake_ansible(monkeypatch, FakeAnsible(outcomes=[deployed("web-1", "r1")]))


@pytest.fixture
async def shop(api, app_record) -> dict:
    await new_version(api, app_record["id"], "1.4.0")
    return app_record


@pytest.fixture
async def secret(api, shop) -> str:
    reply = await api.put(f"/api/v1/apps/{shop['id']}/deploy-hook")
    assert reply.status == 200, reply.body
    return reply.body["secret"]


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def call_hook(client, app_id: int, body: bytes, signature: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[HEADER] = signature
    async with client.post(f"/api/v1/apps/{app_id}/deploy-hook", data=body, headers=headers) as r:
        return r.status, await r.json()


async def hook_records(api: Api) -> list[dict]:
    reply = await api.get("/api/v1/audit-log", params={"action": "app.deploy_hook"})
    return reply.body["items"]


async def test_a_signed_version_number_deploys_as_the_hook(api, client, fake, shop, secret):
    body = json.dumps({"version": "1.4.0"}).encode()

    status, reply = await call_hook(client, shop["id"], body, sign(secret, body))

    assert status == 202, reply
    deployment, task = reply["deployment"], reply["task"]
    assert (deployment["created_by"], deployment["actor"]) == (None, "deploy-hook")
    assert (task["created_by"], task["actor"]) == (None, "deploy-hook")
    assert task["kind"] == "deploy" and task["params"]["version_number"] == "1.4.0"
    await wait_for_task(api, task["id"])
    status_reply = await api.get(f"/api/v1/deployments/{deployment['id']}/status")
    assert status_reply.body["deployment"]["status"] == "completed"
    [record] = await hook_records(api)
    assert (record["status"], record["token_id"], record["target_id"]) == (202, None, shop["id"])
    assert record["changed_fields"] == ["health", "hooks", "strategy", "version"]


async def test_a_version_id_and_deploy_options_are_taken_too(api, client, fake, shop, secret):
    version = await new_version(api, shop["id"], "1.5.0")
    body = json.dumps({"version_id": version["id"], "strategy": "blue-green"}).encode()

    status, reply = await call_hook(client, shop["id"], body, sign(secret, body))

    assert status == 202, reply
    assert reply["deployment"]["version_id"] == version["id"]
    assert reply["deployment"]["strategy"] == "blue-green"


async def test_bad_missing_or_replayed_signatures_are_401_and_recorded(
    api, client, fake, shop, secret
):
    body = json.dumps({"version": "1.4.0"}).encode()
    changed = json.dumps({"version": "1.4.0", "strategy": "blue-green"}).encode()
    attempts = {
        "missing": (body, None),
        "wrong key": (body, sign("not-the-secret", body)),
        "no prefix": (body, sign(secret, body).removeprefix("sha256=")),
        "other digest": (body, "sha1=" + hmac.new(secret.encode(), body, "sha1").hexdigest()),
        "replayed on a changed body": (changed, sign(secret, body)),
        "not ascii": (body, "sha256=é"),
    }
    for name, (sent, signature) in attempts.items():
        status, reply = await call_hook(client, shop["id"], sent, signature)
        assert (status, reply["error"]["code"]) == (401, "unauthorized"), name

    assert fake.calls == []
    assert (await api.get("/api/v1/deployments")).body["total_items"] == 0
    records = await hook_records(api)
    assert [r["status"] for r in records] == [401] * len(attempts)
    assert all(r["token_id"] is None and r["changed_fields"] == [] for r in records)


async def test_the_body_is_verified_before_it_is_parsed(api, client, fake, shop, secret):
    garbage = b"{not json"
    assert (await call_hook(client, shop["id"], garbage, None))[0] == 401
    assert (await call_hook(client, shop["id"], garbage, sign(secret, garbage)))[0] == 400
    unknown = json.dumps({"version": "9.9.9"}).encode()
    status, reply = await call_hook(client, shop["id"], unknown, sign(secret, unknown))
    assert (status, reply["error"]["details"]) == (
        422, {"version": ["The app has no version 9.9.9."]},
    )  # fmt: skip
    both = json.dumps({"version": "1.4.0", "version_id": 1}).encode()
    assert (await call_hook(client, shop["id"], both, sign(secret, both)))[0] == 422
    neither = b"{}"
    assert (await call_hook(client, shop["id"], neither, sign(secret, neither)))[0] == 422


async def test_a_bearer_token_is_not_a_signature(api, client, fake, shop, secret):
    body = json.dumps({"version": "1.4.0"}).encode()
    headers = {**api.headers, "Content-Type": "application/json"}
    reply = await client.post(f"/api/v1/apps/{shop['id']}/deploy-hook", data=body, headers=headers)
    assert reply.status == 401


async def test_setting_again_replaces_the_secret_and_delete_removes_it(
    api, client, fake, shop, secret
):
    body = json.dumps({"version": "1.4.0"}).encode()
    renewed = (await api.put(f"/api/v1/apps/{shop['id']}/deploy-hook")).body
    assert renewed["secret"] != secret
    assert renewed["url"] == f"/api/v1/apps/{shop['id']}/deploy-hook"
    assert renewed["signature_header"] == HEADER
    assert (await call_hook(client, shop["id"], body, sign(secret, body)))[0] == 401

    assert (await api.delete(f"/api/v1/apps/{shop['id']}/deploy-hook")).status == 204
    assert (await call_hook(client, shop["id"], body, sign(renewed["secret"], body)))[0] == 401
    assert (await api.delete(f"/api/v1/apps/{shop['id']}/deploy-hook")).status == 404
    assert await DeployHook.all().count() == 0


async def test_the_secret_is_shown_once_and_nowhere_else(api, client, fake, shop, secret, settings):
    body = json.dumps({"version": "1.4.0"}).encode()
    status, reply = await call_hook(client, shop["id"], body, sign(secret, body))
    assert status == 202
    await wait_for_task(api, reply["task"]["id"])

    seen = [
        await api.get(f"/api/v1/apps/{shop['id']}"),
        await api.get("/api/v1/audit-log"),
        await api.get(f"/api/v1/tasks/{reply['task']['id']}"),
        await api.get(f"/api/v1/tasks/{reply['task']['id']}/events"),
        await api.get(f"/api/v1/deployments/{reply['deployment']['id']}/status"),
    ]
    assert all(secret not in json.dumps(r.body) for r in seen)
    assert all(secret not in json.dumps(call.spec.__dict__, default=str) for call in fake.calls)
    assert not [p for p in settings.artifacts_dir.rglob("*") if p.is_file() and
                secret.encode() in p.read_bytes()]  # fmt: skip


async def test_only_admins_set_or_remove_a_hook(api, shop):
    for role in (Role.VIEWER, Role.DEPLOYER):
        other = Api(api.client, (await tokens.issue_token(f"t-{role}", role)).secret)
        assert (await other.put(f"/api/v1/apps/{shop['id']}/deploy-hook")).status == 403
        assert (await other.delete(f"/api/v1/apps/{shop['id']}/deploy-hook")).status == 403
    assert (await api.put("/api/v1/apps/999/deploy-hook")).status == 404
    assert (await api.delete(f"/api/v1/apps/{shop['id']}/deploy-hook")).status == 404

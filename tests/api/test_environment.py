"""/apps/{id}/env: variables and secrets, PUT and PATCH, validation, and no secret shown."""

import json

import pytest

from service.models import AppVariable, AuditRecord

SECRET = "s3cr3t-Value-that-must-never-show"


async def put(api, app_record, variables):
    return await api.put(f"/api/v1/apps/{app_record['id']}/env", json={"variables": variables})


async def test_put_sets_the_environment_and_secrets_are_never_shown(api, app_record):
    reply = await put(api, app_record, [
        {"name": "DATABASE_URL", "value": "postgres://db/shop"},
        {"name": "API_KEY", "value": SECRET, "secret": True},
    ])  # fmt: skip
    assert reply.status == 200, reply.body
    shown = {item["name"]: item for item in reply.body["variables"]}
    assert shown["DATABASE_URL"]["value"] == "postgres://db/shop"
    assert shown["API_KEY"]["secret"] is True
    assert "value" not in shown["API_KEY"]
    assert len(shown["API_KEY"]["fingerprint"]) == 16
    listed = await api.get(f"/api/v1/apps/{app_record['id']}/env")
    assert listed.body == reply.body
    assert SECRET not in json.dumps(listed.body)
    stored = await AppVariable.get(name="API_KEY")
    assert stored.value is None and SECRET not in stored.ciphertext


async def test_put_replaces_and_patch_merges_by_name(api, app_record):
    await put(api, app_record, [
        {"name": "A", "value": "1"}, {"name": "B", "value": SECRET, "secret": True},
    ])  # fmt: skip
    fingerprint = (await api.get(f"/api/v1/apps/{app_record['id']}/env")).body["variables"][1]
    patched = await api.patch(
        f"/api/v1/apps/{app_record['id']}/env",
        json={"variables": [{"name": "A", "value": None}, {"name": "C", "value": "3"},
                            {"name": "B", "value": "other"}]},
    )  # fmt: skip
    assert patched.status == 200
    shown = {item["name"]: item for item in patched.body["variables"]}
    assert sorted(shown) == ["B", "C"]
    assert shown["B"]["secret"] is True  # a secret stays one unless told otherwise
    assert shown["B"]["fingerprint"] != fingerprint["fingerprint"]
    replaced = await put(api, app_record, [{"name": "D", "value": "4"}])
    assert [item["name"] for item in replaced.body["variables"]] == ["D"]


@pytest.mark.parametrize(
    "variables",
    [
        [{"name": "1ABC", "value": "x"}],
        [{"name": "A-B", "value": "x"}],
        [{"name": "PORT", "value": "80"}],
        [{"name": "A", "value": "line\nbreak"}],
        [{"name": "A", "value": "nul\x00"}],
        [{"name": "A", "value": "x" * (32 * 1024 + 1)}],
        [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}],
        [{"name": "A"}],
        [{"name": "A", "value": 1}],
        [{"name": "A", "value": "1", "secret": "yes"}],
    ],
)
async def test_bad_variables_are_a_422_and_change_nothing(api, app_record, variables):
    await put(api, app_record, [{"name": "KEEP", "value": "1"}])
    reply = await put(api, app_record, variables)
    assert reply.status == 422, reply.body
    assert reply.body["error"]["code"] == "validation_failed"
    assert await AppVariable.all().values_list("name", flat=True) == ["KEEP"]


async def test_an_unknown_app_is_a_404(api):
    assert (await api.get("/api/v1/apps/99/env")).status == 404
    reply = await api.put("/api/v1/apps/99/env", json={"variables": []})
    assert reply.status == 404


async def test_the_audit_log_names_the_change_but_not_the_values(api, app_record):
    await put(api, app_record, [{"name": "API_KEY", "value": SECRET, "secret": True}])
    record = await AuditRecord.get(route="/apps/{id}/env")
    assert record.changed_fields == ["variables"]
    assert SECRET not in json.dumps(await AuditRecord.all().values(), default=str)


async def test_the_database_and_its_wal_never_hold_a_secret(api, app_record, settings):
    await put(api, app_record, [{"name": "API_KEY", "value": SECRET, "secret": True}])
    await api.patch(
        f"/api/v1/apps/{app_record['id']}/env",
        json={"variables": [{"name": "API_KEY", "value": SECRET + "-2"}]},
    )
    files = [path for path in settings.data_dir.rglob("*") if path.is_file()]
    assert any(path.name.endswith("-wal") for path in files)
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path

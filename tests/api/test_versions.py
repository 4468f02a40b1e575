import pytest

VERSIONS = "/api/v1/versions"


async def test_create_get_list_delete(api, app_record):
    reply = await api.post(
        VERSIONS, json={"app_id": app_record["id"], "version_number": "1.0.0", "notes": "first"}
    )
    assert reply.status == 201, reply.body
    version = reply.body
    assert version["deployment_zip"] is None and version["notes"] == "first"
    assert (await api.get(f"{VERSIONS}/{version['id']}")).body == version
    listed = await api.get(VERSIONS, params={"app_id": app_record["id"]})
    assert [v["id"] for v in listed.body["items"]] == [version["id"]]
    assert (await api.get(VERSIONS, params={"app_id": 999})).body["total_items"] == 0
    assert (await api.delete(f"{VERSIONS}/{version['id']}")).status == 204
    assert (await api.get(f"{VERSIONS}/{version['id']}")).status == 404


@pytest.mark.parametrize(
    "number", ["1.0.0", "0.1.0-rc.1", "2.3.4+build.7", "10.20.30-alpha-1+sha.abc"]
)
async def test_semver_numbers_are_accepted(api, app_record, number):
    reply = await api.post(VERSIONS, json={"app_id": app_record["id"], "version_number": number})
    assert reply.status == 201, reply.body


@pytest.mark.parametrize(
    "number", ["1", "1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0;id", "", "1.0.0 "]
)
async def test_other_numbers_are_refused(api, app_record, number):
    reply = await api.post(VERSIONS, json={"app_id": app_record["id"], "version_number": number})
    assert reply.status == 422
    assert "version_number" in reply.body["error"]["details"]


async def test_same_number_twice_conflicts_but_not_across_apps(api, server, app_record):
    body = {"app_id": app_record["id"], "version_number": "1.0.0"}
    assert (await api.post(VERSIONS, json=body)).status == 201
    assert (await api.post(VERSIONS, json=body)).status == 409
    other = await api.post(
        "/api/v1/apps",
        json={
            "name": "other",
            "server_id": server["id"],
            "remote_path": "/srv/o",
            "service_name": "o",
        },
    )
    assert (await api.post(VERSIONS, json={**body, "app_id": other.body["id"]})).status == 201


async def test_app_must_exist_and_notes_are_bounded(api, app_record):
    missing = await api.post(VERSIONS, json={"app_id": 999, "version_number": "1.0.0"})
    assert missing.status == 422 and "app_id" in missing.body["error"]["details"]
    long_notes = await api.post(
        VERSIONS,
        json={"app_id": app_record["id"], "version_number": "1.0.0", "notes": "x" * 10_001},
    )
    assert long_notes.status == 422


async def test_the_running_version_cannot_be_deleted(api, app_record):
    from service.models import App

    version = (
        await api.post(VERSIONS, json={"app_id": app_record["id"], "version_number": "1.2.0"})
    ).body
    await App.filter(id=app_record["id"]).update(current_version="1.2.0")
    reply = await api.delete(f"{VERSIONS}/{version['id']}")
    assert reply.status == 409
    assert (await api.get(f"{VERSIONS}/{version['id']}")).status == 200


async def test_versions_have_no_patch(api, app_record):
    version = (
        await api.post(VERSIONS, json={"app_id": app_record["id"], "version_number": "1.2.0"})
    ).body
    reply = await api.patch(f"{VERSIONS}/{version['id']}", json={"notes": "x"})
    assert reply.status == 405
    assert reply.body["error"]["code"] == "method_not_allowed"

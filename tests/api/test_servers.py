import pytest

SERVERS = "/api/v1/servers"


async def test_create_fills_defaults_and_returns_the_record(api):
    reply = await api.post(SERVERS, json={"name": "web-1", "host": "203.0.113.10"})
    assert reply.status == 201
    body = reply.body
    assert body["name"] == "web-1"
    assert body["port"] == 22
    assert body["root_username"] == "root"
    assert body["app_username"] == "deploy"
    assert body["use_ssh_agent"] is False
    assert body["manual_key_path"] is None
    assert body["setup_complete"] is False and body["security_locked"] is False
    assert body["id"] >= 1 and body["created"] and body["updated"]


async def test_get_patch_delete_round_trip(api, server):
    path = f"{SERVERS}/{server['id']}"
    assert (await api.get(path)).body == server
    reply = await api.patch(path, json={"port": 2222, "use_ssh_agent": True})
    assert reply.status == 200
    assert reply.body["port"] == 2222 and reply.body["use_ssh_agent"] is True
    assert reply.body["name"] == "web-1"
    assert (await api.get(path)).body["port"] == 2222
    assert (await api.delete(path)).status == 204
    assert (await api.get(path)).status == 404


@pytest.mark.parametrize("host", ["example.com", "10.0.0.1", "2001:db8::1", "my-host", "a.b.c.d.e"])
async def test_accepts_hostnames_and_ip_literals(api, host):
    reply = await api.post(SERVERS, json={"name": "s", "host": host})
    assert reply.status == 201, reply.body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("host", "bad host"),
        ("host", "-leading.example.com"),
        ("host", "a" * 64 + ".com"),
        ("host", "x;rm -rf /"),
        ("host", "1.2.3.999"),
        ("host", ""),
        ("port", 0),
        ("port", 65536),
        ("port", "22"),
        ("port", True),
        ("port", 22.5),
        ("name", "web 1"),
        ("name", "$(reboot)"),
        ("name", "{{ lookup('pipe','id') }}"),
        ("name", "a" * 65),
        ("root_username", "Root"),
        ("app_username", "deploy;id"),
        ("app_username", "1abc"),
        ("use_ssh_agent", "yes"),
        ("manual_key_path", "relative/key"),
        ("manual_key_path", "/root/../etc/shadow"),
        ("manual_key_path", "/root/.ssh/id ed"),
        ("setup_complete", True),
        ("bogus", 1),
    ],
)
async def test_refuses_bad_fields_with_details(api, field, value):
    reply = await api.post(SERVERS, json={"name": "ok", "host": "10.0.0.1", field: value})
    assert reply.status == 422, reply.body
    assert reply.body["error"]["code"] == "validation_failed"
    assert field in reply.body["error"]["details"]


async def test_missing_required_fields_are_named(api):
    reply = await api.post(SERVERS, json={})
    assert reply.status == 422
    assert set(reply.body["error"]["details"]) == {"name", "host"}


async def test_duplicate_name_conflicts(api, server):
    reply = await api.post(SERVERS, json={"name": "web-1", "host": "10.0.0.9"})
    assert reply.status == 409
    assert reply.body["error"]["code"] == "conflict"
    other = await api.post(SERVERS, json={"name": "web-2", "host": "10.0.0.9"})
    rename = await api.patch(f"{SERVERS}/{other.body['id']}", json={"name": "web-1"})
    assert rename.status == 409


async def test_patch_needs_a_field_and_validates_it(api, server):
    path = f"{SERVERS}/{server['id']}"
    assert (await api.patch(path, json={})).status == 422
    assert (await api.patch(path, json={"port": -1})).status == 422
    assert (await api.patch(path, json={"id": 5})).status == 422
    assert (await api.patch(f"{SERVERS}/999", json={"port": 23})).status == 404


async def test_delete_with_apps_is_refused_unless_cascade(api, server, app_record):
    path = f"{SERVERS}/{server['id']}"
    reply = await api.delete(path)
    assert reply.status == 409
    assert reply.body["error"]["details"] == {"apps": [app_record["id"]]}
    assert (await api.get(f"/api/v1/apps/{app_record['id']}")).status == 200
    assert (await api.delete(path, params={"cascade": "true"})).status == 204
    assert (await api.get(f"/api/v1/apps/{app_record['id']}")).status == 404


async def test_unknown_and_malformed_ids(api):
    assert (await api.get(f"{SERVERS}/12345")).status == 404
    assert (await api.get(f"{SERVERS}/abc")).status == 404
    assert (await api.get(f"{SERVERS}/99999999999999999999")).status == 404
    assert (await api.delete(f"{SERVERS}/12345")).status == 404


async def test_pagination_and_sorting_are_deterministic(api):
    for index in range(25):
        reply = await api.post(SERVERS, json={"name": f"s{index:02d}", "host": "10.0.0.1"})
        assert reply.status == 201
    first = await api.get(SERVERS, params={"per_page": 10, "page": 1, "sort": "-name"})
    assert first.body["total_items"] == 25
    assert first.body["total_pages"] == 3
    assert first.body["page"] == 1 and first.body["per_page"] == 10
    names = [item["name"] for item in first.body["items"]]
    assert names == [f"s{index:02d}" for index in range(24, 14, -1)]
    last = await api.get(SERVERS, params={"per_page": 10, "page": 3, "sort": "-name"})
    assert [item["name"] for item in last.body["items"]] == ["s04", "s03", "s02", "s01", "s00"]
    assert (last.body["total_items"], last.body["total_pages"]) == (25, 3)
    beyond = await api.get(SERVERS, params={"per_page": 10, "page": 4})
    assert beyond.status == 200 and beyond.body["items"] == []
    assert (beyond.body["total_items"], beyond.body["total_pages"]) == (25, 3)
    exact = await api.get(SERVERS, params={"per_page": 5, "page": 5})
    assert (len(exact.body["items"]), exact.body["total_items"]) == (5, 25)
    none = await api.get(SERVERS, params={"q": "nothing"})
    assert (none.body["items"], none.body["total_items"], none.body["total_pages"]) == ([], 0, 0)
    # Equal sort keys: the id tiebreak keeps the order stable across pages.
    by_host = [
        item["id"]
        for page in (1, 2, 3)
        for item in (
            await api.get(SERVERS, params={"per_page": 10, "page": page, "sort": "host"})
        ).body["items"]
    ]
    assert by_host == sorted(by_host)
    searched = await api.get(SERVERS, params={"q": "s1"})
    assert searched.body["total_items"] == 10


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 101},
        {"per_page": 0},
        {"page": 0},
        {"page": "abc"},
        {"sort": "password"},
        {"sort": "name; DROP TABLE servers"},
        {"unknown": "1"},
    ],
)
async def test_bad_list_parameters(api, params):
    reply = await api.get(SERVERS, params=params)
    assert reply.status == 422, reply.body
    assert reply.body["error"]["code"] == "validation_failed"


async def test_stored_json_keeps_integers_past_64_bits_and_nan_and_the_api_shows_them(api, server):
    """A host's facts may hold what the JSON columns must keep exactly: the page and the record
    show them as stored, and the stored text is still the stdlib's."""
    from service.models import Server

    facts = {"disk_bytes": 2**70 + 1, "load": float("nan"), "name": "é"}
    await Server.filter(id=server["id"]).update(facts=facts)
    stored = await Server.get(id=server["id"])
    assert stored.facts["disk_bytes"] == 2**70 + 1 and stored.facts["load"] != stored.facts["load"]
    record = await api.get(f"{SERVERS}/{server['id']}")
    page = await api.get(SERVERS)
    for shown in (record.body["facts"], page.body["items"][0]["facts"]):
        assert shown["disk_bytes"] == 2**70 + 1 and shown["name"] == "é"

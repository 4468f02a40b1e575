"""Every `POST` that creates a record answers 201 with a `Location` naming it."""

import pytest

from service.api.openapi import build_openapi
from service.api.v1 import create_v1_app


async def test_a_new_server_app_and_version_are_named_by_their_location(api):
    server = await api.post("/api/v1/servers", json={"name": "web-1", "host": "203.0.113.10"})
    app = await api.post(
        "/api/v1/apps",
        json={
            "name": "shop",
            "server_id": server.body["id"],
            "remote_path": "/srv/apps/shop",
            "service_name": "shop.service",
        },
    )
    assert app.status == 201, app.body
    version = await api.post(
        "/api/v1/versions", json={"app_id": app.body["id"], "version_number": "1.0.0"}
    )
    for reply, collection in ((server, "servers"), (app, "apps"), (version, "versions")):
        assert reply.status == 201, reply.body
        assert reply.headers["Location"] == f"/api/v1/{collection}/{reply.body['id']}"
        assert (await api.get(reply.headers["Location"])).body == reply.body


@pytest.fixture(scope="module")
def created_responses():
    document = build_openapi(create_v1_app())
    return [
        (f"{method.upper()} {path}", operation["responses"]["201"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "201" in operation["responses"]
    ]


def test_every_documented_201_documents_its_location(created_responses):
    assert len(created_responses) >= 4
    for name, response in created_responses:
        assert response["headers"]["Location"]["required"] is True, name

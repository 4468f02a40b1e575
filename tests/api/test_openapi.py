from pathlib import Path

import yaml
from openapi_spec_validator import validate

from service.api.openapi import build_openapi, openapi_yaml
from service.api.v1 import create_v1_app

COMMITTED = Path(__file__).resolve().parents[2] / "api" / "openapi.yaml"


def test_committed_document_matches_the_code():
    generated = openapi_yaml(build_openapi(create_v1_app()))
    assert COMMITTED.read_text() == generated, (
        "api/openapi.yaml is stale: run `pb-deployer openapi --output api/openapi.yaml`"
    )


def test_document_is_valid_openapi_3():
    document = yaml.safe_load(COMMITTED.read_text())
    assert document["openapi"].startswith("3.0.")
    validate(document)


def test_every_operation_documents_its_errors_and_bodies():
    document = build_openapi(create_v1_app())
    create = document["paths"]["/servers"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Server"
    }
    assert {"201", "400", "401", "409", "413", "415", "422", "500"} <= set(create["responses"])
    examples = create["responses"]["400"]["content"]["application/json"]["examples"]
    assert "invalid_json" in examples
    delete = document["paths"]["/servers/{id}"]["delete"]
    assert {"204", "404", "409"} <= set(delete["responses"])
    health = document["paths"]["/health"]["get"]
    assert health["security"] == [] and "503" in health["responses"]
    assert "401" not in health["responses"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    server = document["components"]["schemas"]["Server"]["properties"]
    assert server["port"]["maximum"] == 65535 and server["port"]["example"] == 22


async def test_served_document_is_the_same(client):
    async with client.get("/api/docs/openapi.json") as response:
        served = await response.json()
    assert served == build_openapi(create_v1_app())
    async with client.get("/api/docs") as response:
        page = await response.text()
    assert "/api/docs/openapi.json" in page and "swagger-ui" in page

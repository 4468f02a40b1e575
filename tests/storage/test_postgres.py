"""The same model code, migrations and API on PostgreSQL (a server the test starts itself).

The service runs as its own process, as in production: one process, one database.
"""

import aiohttp
import pytest

from service.models import TaskServer
from service.storage.db import database
from tests.service_process import running_service
from tests.storage.migrated import declared_indexes, migrated_to, present_indexes
from tests.storage.postgres import another_database, postgres_server


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


async def test_the_api_on_postgresql(tmp_path, postgres_url):
    env = {"PBD_DATABASE_URL": postgres_url, "PBD_UNREACHABLE_ATTEMPTS": "1"}
    async with running_service(tmp_path, extra_env=env) as service:
        assert "postgres://postgres:***@" in service.output, "the password is not shown"
        headers = {"Authorization": f"Bearer {service.token}"}
        async with aiohttp.ClientSession(service.base_url + "/api/v1/", headers=headers) as http:

            async def call(method: str, path: str, **kwargs) -> tuple[int, dict]:
                async with http.request(method, path, **kwargs) as response:
                    return response.status, await response.json() if response.status != 204 else {}

            servers = []
            for index in range(25):
                server = {"name": f"pg-{index:02d}", "host": "10.0.0.1"}
                status, body = await call("POST", "servers", json=server)
                assert status == 201, body
                servers.append(body)
            _, page = await call(
                "GET", "servers", params={"per_page": 10, "page": 3, "sort": "-name"}
            )
            assert page["total_items"] == 25 and page["total_pages"] == 3
            assert [s["name"] for s in page["items"]] == [f"pg-{i:02d}" for i in range(4, -1, -1)]
            _, found = await call("GET", "servers", params={"q": "PG-1"})
            assert found["total_items"] == 10
            assert (await call("POST", "servers", json={"name": "pg-00", "host": "10.0.0.1"}))[
                0
            ] == 409

            first, second = servers[0]["id"], servers[1]["id"]
            app = {
                "name": "shop",
                "server_id": first,
                "remote_path": "/srv/shop",
                "service_name": "shop",
            }
            _, app = await call("POST", "apps", json=app)
            _, linked = await call(
                "PUT", f"apps/{app['id']}/servers", json={"server_ids": [second]}
            )
            assert linked["server_ids"] == [first, second]
            status, version = await call(
                "POST", "versions", json={"app_id": app["id"], "version_number": "1.0.0"}
            )
            assert status == 201

            status, accepted = await call("POST", f"servers/{second}/test-connection")
            assert status == 202 and accepted["task"]["server_ids"] == [second]
            _, tasks = await call("GET", "tasks", params={"server_id": second})
            assert [t["id"] for t in tasks["items"]] == [accepted["task"]["id"]]
            both = {"server_ids": [first, second]}
            status, together = await call("POST", "servers/test-connection", json=both)
            assert status == 202 and together["task"]["server_ids"] == [first, second]
            _, tasks = await call("GET", "tasks", params={"server_id": second, "sort": "id"})
            assert [t["id"] for t in tasks["items"]] == [
                accepted["task"]["id"],
                together["task"]["id"],
            ]
            schedule = {"cron": "0 3 * * *"}
            status, body = await call("PUT", f"servers/{second}/audit-schedule", json=schedule)
            assert status == 200 and body["cron"] == "0 3 * * *", body
            _, history = await call("GET", f"servers/{second}/security/audits")
            assert history["total_items"] == 0

            assert (await call("DELETE", f"servers/{first}"))[0] == 409
            everything = {"cascade": "true", "cancel_tasks": "true"}  # the test of both may run
            assert (await call("DELETE", f"servers/{first}", params=everything))[0] == 204
            assert (await call("GET", f"apps/{app['id']}"))[0] == 404
            assert (await call("GET", f"versions/{version['id']}"))[0] == 404
            _, health = await call("GET", "health")
            assert health.get("components", health.get("error", {}).get("details", {}))["database"][
                "ok"
            ]


async def test_the_upgrade_to_task_servers_on_postgresql(postgres_url):
    url = another_database(postgres_url, "pbd_upgrade")
    async with migrated_to(url, "0019_unit_statuses") as connection:
        rows = await connection.execute_query_dict(
            'INSERT INTO "tasks" ("created", "updated", "kind", "status", "params", "attempts", '
            '"max_attempts", "cancel_requested", "progress", "last_seq", "server_ids") VALUES '
            "(now(), now(), 'setup', 'successful', '{}', 1, 1, false, '{}', 0, $1) RETURNING id",
            ["[4, 5]"],
        )
        task_id = rows[0]["id"]

    async with database(url):
        rows = await TaskServer.filter(task_id=task_id).order_by("server_id")
        assert [row.server_id for row in rows] == [4, 5]


async def test_a_migrated_postgresql_database_has_every_index_the_models_declare(postgres_url):
    url = another_database(postgres_url, "pbd_indexes")
    async with database(url) as context:
        missing = declared_indexes() - await present_indexes(context.connections.get("default"))
    assert not missing

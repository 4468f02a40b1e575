"""Fixtures shared by every test: a fresh SQLite file per test and an authenticated client."""

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _pytest.nodeid import coerce_node_id
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import DATABASE_FILE, Settings
from service.domain import tokens
from service.storage.db import database

pytest_plugins = ["tests.hosts.plugin"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test a node id of its own: schemathesis gives all operations of one fuzz test
    the same id, and pytest-xdist tells tests apart by id, so it would run one operation each."""
    for item in items:
        unique = f"{item.parent.nodeid}::{item.name}" if item.parent else item.nodeid
        if item.nodeid != unique:
            item._id = coerce_node_id(unique)  # pytest 9 has no public way to set a node id


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any


class Api:
    """A test client that sends the bearer token and returns (status, parsed body)."""

    def __init__(self, client: TestClient, secret: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {secret}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        async with self.client.request(method, path, headers=headers, **kwargs) as response:
            text = await response.text()
            body = (
                await response.json()
                if text and response.content_type == "application/json"
                else text
            )
            return Reply(response.status, body, response.headers)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("PATCH", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("DELETE", path, **kwargs)


async def _migrate(path: Path) -> None:
    async with database(f"sqlite://{path}"):
        pass


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> Path:
    """A SQLite file with every migration applied, made once per test process: migrating a
    new file costs most of an app's start-up (about 2 s), far more than most tests."""
    path = tmp_path_factory.mktemp("template") / DATABASE_FILE
    asyncio.run(_migrate(path))
    return path


@pytest.fixture
def data_dir(tmp_path, migrated_database) -> Path:
    """A new data directory whose database is a copy of the migrated one, so the app's own
    migrate() at start-up finds nothing to do."""
    directory = tmp_path / "data"
    directory.mkdir(mode=0o700)
    shutil.copyfile(migrated_database, directory / DATABASE_FILE)
    return directory


@pytest.fixture
def settings(data_dir) -> Settings:
    return Settings(data_dir=data_dir)


@pytest.fixture
async def client(aiohttp_client, settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def api(client) -> Api:
    issued = await tokens.issue_token("test")
    return Api(client, issued.secret)


@pytest.fixture
async def server(api) -> dict[str, Any]:
    reply = await api.post("/api/v1/servers", json={"name": "web-1", "host": "10.0.0.5"})
    assert reply.status == 201, reply.body
    return reply.body


@pytest.fixture
async def app_record(api, server) -> dict[str, Any]:
    reply = await api.post(
        "/api/v1/apps",
        json={
            "name": "shop",
            "server_id": server["id"],
            "remote_path": "/srv/apps/shop",
            "service_name": "shop.service",
        },
    )
    assert reply.status == 201, reply.body
    return reply.body

"""The service in-process with its clock moved by the tests, and loopback health endpoints."""

import asyncio
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest
from aiohttp import web

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from service.health.checker import LOOP_NAME, HealthChecker
from service.keys import CLOCK, HEALTH
from service.models import App, Deployment, DeploymentStatus, Version
from tests.conftest import Api
from tests.retention.helpers import MovableClock
from tests.unit.helpers import FakeAnsible, install_fake_ansible, wait_until

START = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
INTERVAL = 5


@dataclass
class Endpoints:
    """Every path answers `status`; while `gate` is closed, requests wait on it."""

    status: int = 200
    hits: Counter = field(default_factory=Counter)
    hosts: list[str] = field(default_factory=list)
    gate: asyncio.Event | None = None
    active: int = 0
    peak: int = 0
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        self.hosts.append(request.host)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            if self.gate is not None:
                await self.gate.wait()
            return web.Response(status=self.status, text="ok")
        finally:
            self.active -= 1


@pytest.fixture
async def endpoints(aiohttp_server) -> Endpoints:
    found = Endpoints()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", found.handle)
    server = await aiohttp_server(app)
    found.port = server.port
    return found


@pytest.fixture
def settings(data_dir, endpoints) -> Settings:
    """Checks go to the loopback endpoints; no retention job sleeps on the clock."""
    return replace(
        Settings(data_dir=data_dir),
        health_port=endpoints.port,
        health_timeout=2,
        retention_interval=0,
    )


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START, sleeper=LOOP_NAME)


@pytest.fixture
async def service(aiohttp_client, settings, clock):
    app = create_app(settings)
    app[CLOCK] = clock
    client = await aiohttp_client(app)
    await clock.next_sleep()  # its first look at the apps is done
    return client


@pytest.fixture
async def api(service) -> Api:
    return Api(service, (await tokens.issue_token("test")).secret)


@pytest.fixture
def checker(service) -> HealthChecker:
    return service.app[HEALTH]


async def deployed_app(
    api: Api, checker: HealthChecker, clock: MovableClock, name: str, server_ids: list[int], **extra
) -> dict:
    """An app with a completed deployment, as the checker sees it after a deploy."""
    body = {"name": name, "server_id": server_ids[0], "remote_path": f"/srv/apps/{name}",
            "service_name": name, "health_interval": INTERVAL, **extra}  # fmt: skip
    reply = await api.post("/api/v1/apps", json=body)
    assert reply.status == 201, reply.body
    if server_ids[1:]:
        assert (await api.put(f"/api/v1/apps/{reply.body['id']}/servers",
                              json={"server_ids": server_ids[1:]})).status == 200  # fmt: skip
        await clock.next_sleep()  # the checker read the app again (not deployed yet)
    app_id = reply.body["id"]
    version = await Version.create(app_id=app_id, version_number="1.0.0")
    await Deployment.create(
        app_id=app_id,
        version=version,
        status=DeploymentStatus.COMPLETED,
        completed_at=START,
        release_id="1.0.0-1",
        options={"health_path": "/ready", "ports": [8101, 8102]},
    )
    await App.filter(id=app_id).update(current_version="1.0.0")
    checker.reload(app_id)
    await clock.next_sleep()
    return reply.body


async def check_round(clock: MovableClock, checker: HealthChecker, seconds: float = INTERVAL):
    """Move the clock by an interval (each target is due once) and let the checks finish."""
    clock.advance(seconds)
    await clock.next_sleep()
    await wait_until(lambda: not checker.in_flight, what="the checks to finish")


async def create_server(api: Api, name: str, host: str) -> dict:
    reply = await api.post("/api/v1/servers", json={"name": name, "host": host})
    assert reply.status == 201, reply.body
    return reply.body


@pytest.fixture
def fake(monkeypatch):
    return install_fake_ansible(monkeypatch, FakeAnsible())

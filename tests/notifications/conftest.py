"""Webhook tests: a migrated database per test, and real local receivers on 127.0.0.1."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from service.app import create_app
from service.config import Settings
from service.keys import CLOCK
from service.notifications.payloads import signature
from tests.retention.helpers import MovableClock
from tests.unit.helpers import FakeAnsible, install_fake_ansible

SECRET = "test-secret-0123456789"


@dataclass
class Received:
    headers: dict[str, str]
    body: Any
    signed: bool


@dataclass
class Receiver:
    """A webhook endpoint that checks every signature; `statuses` script its answers
    (the last repeats) and `gate`, while closed, holds every request unanswered."""

    secret: str = SECRET
    statuses: list[int] = field(default_factory=lambda: [200])
    gate: asyncio.Event | None = None
    received: list[Received] = field(default_factory=list)
    url: str = ""
    entered: int = 0
    """Requests that arrived, answered or still held at the gate."""
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        timestamp = request.headers.get("X-PBD-Timestamp", "")
        expected = signature(self.secret, timestamp, raw)
        signed = request.headers.get("X-PBD-Signature-256") == expected
        async with self._arrived:
            self.entered += 1
            self._arrived.notify_all()
        if self.gate is not None:
            await self.gate.wait()
        async with self._arrived:
            self.received.append(Received(dict(request.headers), json.loads(raw), signed))
            self._arrived.notify_all()
        status = self.statuses[min(len(self.received), len(self.statuses)) - 1]
        return web.Response(status=status if signed else 401)

    async def wait_for(self, count: int, timeout: float = 5) -> list[Received]:
        """The requests answered, once there are `count` of them."""
        await self._wait(lambda: len(self.received) >= count, timeout)
        return self.received

    async def wait_entered(self, count: int, timeout: float = 5) -> None:
        await self._wait(lambda: self.entered >= count, timeout)

    async def _wait(self, predicate: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            async with self._arrived:
                await self._arrived.wait_for(predicate)


async def start_receiver(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    receiver.url = str(server.make_url("/hook"))
    yield receiver
    if receiver.gate is not None:
        receiver.gate.set()
    await server.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async for started in start_receiver(Receiver()):
        yield started


@pytest.fixture
def settings(data_dir) -> Settings:
    """A migrated copy; a first retry 60 s later (tests move the clock, they do not wait)."""
    return Settings(data_dir=data_dir, webhook_backoff=60, webhook_timeout=5, retry_backoff=0)


@pytest.fixture
def clock() -> MovableClock:
    """The webhooks' time: it stands still until a test moves it (backoffs end at once)."""
    return MovableClock(datetime.now(UTC))


@pytest.fixture
async def client(aiohttp_client, settings, clock) -> TestClient:
    return await start_app(aiohttp_client, settings, clock)


async def start_app(aiohttp_client, settings: Settings, clock: MovableClock) -> TestClient:
    app = create_app(settings)
    app[CLOCK] = clock
    return await aiohttp_client(app)


@pytest.fixture
def fake(monkeypatch) -> FakeAnsible:
    return install_fake_ansible(monkeypatch, FakeAnsible())


async def add_webhook(api, url: str, events: list[str], **fields: Any) -> dict[str, Any]:
    reply = await api.post(
        "/api/v1/webhooks", json={"url": url, "events": events, "secret": SECRET, **fields}
    )
    assert reply.status == 201, reply.body
    return reply.body


async def deliveries(api, webhook_id: int) -> list[dict[str, Any]]:
    reply = await api.get(f"/api/v1/webhooks/{webhook_id}/deliveries?sort=id")
    assert reply.status == 200, reply.body
    return reply.body["items"]


async def wait_for_deliveries(
    api, webhook_id: int, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 5
) -> list[dict[str, Any]]:
    """The webhook's deliveries (oldest first) once `done(deliveries)` holds."""
    deadline = time.monotonic() + timeout
    found = await deliveries(api, webhook_id)
    while not done(found):
        assert time.monotonic() < deadline, f"deliveries still {found}"
        await asyncio.sleep(0.02)
        found = await deliveries(api, webhook_id)
    return found

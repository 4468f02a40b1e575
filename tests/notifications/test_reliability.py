"""Retries with backoff (a moved clock), giving up, a dead endpoint, and restarts."""

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

import pytest

from service.keys import NOTIFICATIONS
from service.logs import configure_logging
from service.notifications.delivery import PER_WEBHOOK
from tests.conftest import Api
from tests.notifications.conftest import (
    SECRET,
    add_webhook,
    deliveries,
    start_app,
    wait_for_deliveries,
)
from tests.unit.helpers import create_server, start_task, wait_for_task


def gap(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


async def finish_a_task(api, server_id: int) -> dict:
    task = await start_task(api, f"/api/v1/servers/{server_id}/test-connection")
    return await wait_for_task(api, task["id"])


def move_clock(client, clock, seconds: float) -> None:
    """Advance the clock and have the worker look again (it waits in real time)."""
    clock.advance(seconds)
    client.app[NOTIFICATIONS].dispatcher.wake()


async def test_failed_attempts_are_retried_with_exponential_backoff(
    api, fake, receiver, client, clock, caplog
):
    caplog.set_level(logging.DEBUG)
    configure_logging("DEBUG")  # as `serve --log-level DEBUG` does
    receiver.statuses = [500, 503, 200]
    server = await create_server(api)
    hook = await add_webhook(api, receiver.url, ["task.finished"])
    await finish_a_task(api, server["id"])

    def attempted(count: int):
        return lambda found: found and found[0]["attempts"] == count

    (first,) = await wait_for_deliveries(api, hook["id"], attempted(1))
    assert (first["status"], first["response_code"]) == ("pending", 500)
    assert first["error"] == "The endpoint answered HTTP 500."
    assert gap(first["next_attempt_at"], first["history"][0]["at"]) == 60
    move_clock(client, clock, 60)
    (second,) = await wait_for_deliveries(api, hook["id"], attempted(2))
    assert (second["status"], second["response_code"]) == ("pending", 503)
    assert gap(second["next_attempt_at"], second["history"][1]["at"]) == 120
    move_clock(client, clock, 120)
    (done,) = await wait_for_deliveries(api, hook["id"], attempted(3))
    assert (done["status"], done["response_code"], done["error"]) == ("delivered", 200, None)
    assert [entry["response_code"] for entry in done["history"]] == [500, 503, 200]
    assert gap(done["history"][1]["at"], done["history"][0]["at"]) == 60
    assert gap(done["history"][2]["at"], done["history"][1]["at"]) == 120
    received = await receiver.wait_for(3)
    assert len({r.headers["X-PBD-Delivery"] for r in received}) == 1
    assert len({r.headers["X-PBD-Signature-256"] for r in received}) == 3  # fresh timestamps
    assert all(r.signed for r in received)
    assert SECRET not in caplog.text


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def settings(settings):
    return replace(settings, webhook_max_attempts=3)


async def test_a_delivery_fails_for_good_after_max_attempts(api, fake, client, clock):
    server = await create_server(api)
    hook = await add_webhook(api, f"http://127.0.0.1:{closed_port()}/", ["task.finished"])
    await finish_a_task(api, server["id"])
    for attempt in (1, 2):
        found = await wait_for_deliveries(
            api, hook["id"], lambda found, n=attempt: found and found[0]["attempts"] == n
        )
        assert found[0]["status"] == "pending"
        assert found[0]["response_code"] is None
        assert "Cannot connect" in found[0]["error"]
        move_clock(client, clock, 60 * 2 ** (attempt - 1))
    (failed,) = await wait_for_deliveries(
        api, hook["id"], lambda found: found and found[0]["status"] != "pending"
    )
    assert (failed["status"], failed["attempts"], len(failed["history"])) == ("failed", 3, 3)
    assert failed["finished_at"]
    listed = await api.get(f"/api/v1/webhooks/{hook['id']}/deliveries?status=failed")
    assert listed.body["total_items"] == 1


class BlackHole:
    """Accepts connections and never answers; counts how many are open at once."""

    def __init__(self) -> None:
        self.open = 0
        self.most_open = 0
        self.url = ""

    async def swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await reader.read()  # until the client gives up
        finally:
            self.open -= 1
            writer.close()


@pytest.fixture
async def black_hole() -> AsyncIterator[BlackHole]:
    hole = BlackHole()
    server = await asyncio.start_server(hole.swallow, "127.0.0.1", 0)
    hole.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    yield hole
    server.close()


async def test_a_hanging_endpoint_holds_up_neither_other_webhooks_nor_the_engine(
    api, fake, receiver, black_hole, client, settings, monkeypatch
):
    assert settings.webhook_timeout >= 5 and settings.webhook_concurrency == 8
    server = await create_server(api)
    dead = await add_webhook(api, black_hole.url, ["task.finished"])
    alive = await add_webhook(api, receiver.url, ["task.finished"])
    tasks = [await finish_a_task(api, server["id"]) for _ in range(10)]

    # Every task finished and every live delivery arrived while the dead endpoint still
    # holds its attempts open (each waits out the 5 s timeout).
    received = await receiver.wait_for(10)
    assert sorted(r.body["data"]["task"]["id"] for r in received) == [t["id"] for t in tasks]
    assert black_hole.open == PER_WEBHOOK == black_hole.most_open
    assert all(d["status"] == "delivered" for d in await deliveries(api, alive["id"]))
    stuck = await deliveries(api, dead["id"])
    assert len(stuck) == 10
    assert all((d["status"], d["attempts"]) == ("pending", 0) for d in stuck)

    # Its 8 due rows wait for a free slot of their own; they do not keep the worker busy.
    dispatcher = client.app[NOTIFICATIONS].dispatcher
    looks = 0
    look = dispatcher._start_due

    async def counted() -> None:
        nonlocal looks
        looks += 1
        await look()

    monkeypatch.setattr(dispatcher, "_start_due", counted)
    dispatcher.wake()
    await asyncio.sleep(0.5)  # a quiet window: nothing is awaited here, idling is the point
    assert looks == 1


async def second_app(aiohttp_client, settings, clock, api) -> Api:
    """A new service on the same database, as after a restart."""
    restarted = Api(await start_app(aiohttp_client, settings, clock), "")
    restarted.headers = api.headers
    return restarted


async def test_a_delivery_cut_off_by_shutdown_is_sent_after_the_restart(
    api, fake, receiver, client, aiohttp_client, settings, clock
):
    receiver.gate = asyncio.Event()  # the first request hangs until the service has stopped
    server = await create_server(api)
    hook = await add_webhook(api, receiver.url, ["task.finished"])
    task = await finish_a_task(api, server["id"])
    await receiver.wait_entered(1)
    await client.close()

    restarted = await second_app(aiohttp_client, settings, clock, api)
    receiver.gate.set()
    (done,) = await wait_for_deliveries(
        restarted, hook["id"], lambda found: found and found[0]["status"] == "delivered"
    )
    assert done["attempts"] == 1  # the attempt cut by the shutdown does not count
    received = await receiver.wait_for(1)
    assert {r.body["data"]["task"]["id"] for r in received} == {task["id"]}
    assert {r.headers["X-PBD-Delivery"] for r in received} == {str(done["id"])}


async def test_a_task_interrupted_by_shutdown_is_reported_after_the_restart(
    api, fake, receiver, client, aiohttp_client, settings, clock
):
    server = await create_server(api)
    hook = await add_webhook(api, receiver.url, ["task.finished"])
    fake.hold()
    task = await start_task(api, f"/api/v1/servers/{server['id']}/test-connection")
    await wait_for_task(api, task["id"], statuses={"running"})
    await client.close()  # the engine marks the run interrupted on its way out
    restarted = await second_app(aiohttp_client, settings, clock, api)
    (received,) = await receiver.wait_for(1)
    assert received.body["data"]["task"]["id"] == task["id"]
    assert received.body["data"]["task"]["status"] == "interrupted"
    await wait_for_deliveries(
        restarted, hook["id"], lambda found: found and found[0]["status"] == "delivered"
    )


async def test_deliveries_go_through_the_proxy_the_environment_names(
    api, fake, receiver, monkeypatch
):
    monkeypatch.setenv("HTTP_PROXY", receiver.url.removesuffix("/hook"))  # our receiver proxies
    monkeypatch.delenv("NO_PROXY", raising=False)
    server = await create_server(api)
    await add_webhook(api, "http://hooks.invalid/hook", ["task.finished"])  # never resolved
    await finish_a_task(api, server["id"])
    (received,) = await receiver.wait_for(1)
    assert received.signed and received.body["event"] == "task.finished"

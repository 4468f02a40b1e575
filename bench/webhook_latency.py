"""Webhook delivery latency: a task finishes -> its signed `task.finished` POST arrives.

The service is `create_app` on a real socket (127.0.0.1) with a scripted Ansible run (the
unit tests' FakeAnsible: no hosts, so the figure is the notification path alone). Rounds of
`test-connection` on `--servers` servers at once, `--tasks` in all. For every delivery the
local receiver gets, delay = receipt time (`time.time()` when its handler starts, before it
reads the body) - the task's `finished_at` in the payload (set by the engine just before it
stores and publishes the final status). Both clocks are this process's CLOCK_REALTIME.

The delay covers: the engine's publish, the listener's queue, the outbox reading the
webhooks and storing the delivery row, waking the dispatcher, its claim (a SELECT and an
UPDATE), signing and the POST over a fresh connection to the receiver.

Baseline, same run, same receiver and loop: the same bodies POSTed directly with the same
headers through one aiohttp ClientSession, delay = receipt - just before `session.post`.
A second service round adds a webhook whose endpoint accepts connections and never answers
(each of its attempts waits out the timeout): the live webhook's figure should not move.

    .venv/bin/python -m bench.webhook_latency [--tasks 200] [--servers 4]
"""

import argparse
import asyncio
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import service.tasks.engine
from bench.common import summary
from service.app import create_app
from service.config import Settings
from service.domain import tokens
from service.notifications.payloads import signature
from tests.unit.helpers import SERVICE_PUBLIC_KEY, FakeAnsible

SECRET = "bench-secret-0123456789"


class Receiver:
    """Notes when each POST arrives; checks the signature of each after the fact."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes, str, str]] = []
        self.arrived = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        received = time.time()
        body = await request.read()
        headers = request.headers
        self.arrivals.append(
            (received, body, headers["X-PBD-Timestamp"], headers["X-PBD-Signature-256"])
        )
        self.arrived.set()
        return web.Response(status=204)

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(120):
            while len(self.arrivals) < count:
                self.arrived.clear()
                await self.arrived.wait()

    def all_signed(self) -> bool:
        return all(signature(SECRET, ts, body) == sig for _, body, ts, sig in self.arrivals)


async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A dead endpoint: reads the request, never answers."""
    await reader.read()
    writer.close()


async def service_round(
    client: TestClient, headers: dict, receiver: Receiver, servers: list[int], tasks: int
) -> list[float]:
    """`tasks` connection tests, `len(servers)` at a time; the delay of each delivery (ms)."""
    receiver.arrivals.clear()
    for start in range(0, tasks, len(servers)):
        batch = servers[: min(len(servers), tasks - start)]
        for server_id in batch:
            path = f"/api/v1/servers/{server_id}/test-connection"
            async with client.post(path, headers=headers) as response:
                assert response.status == 202, await response.text()
        await receiver.wait_for(start + len(batch))
    assert receiver.all_signed()
    delays = []
    for received, body, _, _ in receiver.arrivals:
        finished = json.loads(body)["data"]["task"]["finished_at"]
        delays.append((received - datetime.fromisoformat(finished).timestamp()) * 1000)
    return delays


async def baseline_round(receiver: Receiver, bodies: list[bytes]) -> list[float]:
    """The same bodies POSTed straight to the receiver, signed the same way."""
    receiver.arrivals.clear()
    delays = []
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-PBD-Timestamp": timestamp,
                "X-PBD-Signature-256": signature(SECRET, timestamp, body),
            }
            sent = time.time()
            async with session.post(receiver.url, data=body, headers=headers) as response:
                assert response.status == 204
            delays.append((receiver.arrivals[-1][0] - sent) * 1000)
    assert receiver.all_signed()
    return delays


async def bench(args: argparse.Namespace) -> None:
    fake = FakeAnsible()
    service.tasks.engine.run_playbook = fake
    service.tasks.engine.ensure_service_key = lambda settings: SERVICE_PUBLIC_KEY

    receiver = Receiver()
    receiver_app = web.Application()
    receiver_app.router.add_post("/hook", receiver.handle)
    receiver_server = TestServer(receiver_app, host="127.0.0.1")
    await receiver_server.start_server()
    receiver.url = str(receiver_server.make_url("/hook"))
    dead = await asyncio.start_server(swallow, "127.0.0.1", 0)
    dead_url = f"http://127.0.0.1:{dead.sockets[0].getsockname()[1]}/hook"

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), workers=args.servers, webhook_timeout=30)
        client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
        await client.start_server()
        try:
            headers = {"Authorization": f"Bearer {(await tokens.issue_token('bench')).secret}"}
            servers = []
            for n in range(args.servers):
                body = {"name": f"web-{n}", "host": f"10.0.0.{n + 1}"}
                async with client.post("/api/v1/servers", json=body, headers=headers) as reply:
                    servers.append((await reply.json())["id"])
            hook = {"url": receiver.url, "events": ["task.finished"], "secret": SECRET}
            async with client.post("/api/v1/webhooks", json=hook, headers=headers) as reply:
                assert reply.status == 201, await reply.text()

            await service_round(client, headers, receiver, servers, len(servers))  # warm-up
            delivered = await service_round(client, headers, receiver, servers, args.tasks)
            bodies = [body for _, body, _, _ in receiver.arrivals]
            direct = await baseline_round(receiver, bodies)

            hook = {"url": dead_url, "events": ["task.finished"], "secret": SECRET}
            async with client.post("/api/v1/webhooks", json=hook, headers=headers) as reply:
                assert reply.status == 201, await reply.text()
            beside_dead = await service_round(client, headers, receiver, servers, args.tasks)
        finally:
            await client.close()
            dead.close()
            await receiver_server.close()

    print(f"webhook latency, task finished -> receiver ({args.tasks} tasks, "
          f"{args.servers} at a time):")  # fmt: skip
    print(f"  service:                         {summary(delivered)}")
    print(f"  baseline, direct POST:           {summary(direct)}")
    print(f"  service, a dead webhook beside:  {summary(beside_dead)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--servers", type=int, default=4)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()

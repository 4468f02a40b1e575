"""Live event latency: ansible-runner event creation -> receipt by 100 WebSocket clients.

The real `pb-deployer serve` process; 100 clients (one bench process, one connection each)
subscribed to "all". Rounds of `test-connection` (ping.yml) on every host at once; for every
`task.event` each client receives, delay = receipt time - the event's `created`.

Clocks: `created` is set in the ansible-playbook process by ansible-runner's callback plugin
(`datetime.now(timezone.utc).isoformat()`, microseconds, CLOCK_REALTIME) when the event is
emitted; receipt is `time.time()` (CLOCK_REALTIME, same machine) right after the client's
`ws.receive()` returns, before any parsing. The delay covers: the callback writing the event,
ansible-runner reading it from the pty, its thread handing it to the service's loop, trimming,
publishing to 100 queues, 100 WebSocket sends and the client process waking each reader (all
100 in one process, on the same 2 cores as the service and ansible).

Baselines, same run:
- same sockets, no playbook running: all 100 clients send `{"type":"ping"}` at once and wait
  for their `pong` (a full round trip through the service's handler and hub queue: the floor
  of getting anything to these clients);
- the runner part alone: the same rounds through `service.ansible.runner.run_playbook` in this
  process (same inventory, config and ControlPath dir as the service), delay = `on_event` call
  on the event loop - `created` (what the service's engine sees before it publishes).

With `--deflate` every client offers permessage-deflate, as browsers do (the service takes
it or not: the figures show what it costs).

    .venv/bin/python -m bench.event_latency [--clients 100] [--hosts 2] [--rounds 5] [--deflate]
"""

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bench.common import (
    ServiceClient,
    TaskWatcher,
    percentile,
    run_on_lab_hosts,
    summary,
)
from service.ansible import toolchain
from service.ansible.inventory import render_inventory
from service.ansible.runner import PlaybookSpec, run_playbook
from service.ansible.sshkeys import control_dir
from service.config import Settings
from service.models import Server
from tests.service_process import running_service

PONG = {"type": "pong"}


class Client:
    """One WebSocket subscriber that timestamps every frame on receipt."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[tuple[float, str]] = []
        self.pong: asyncio.Future[float] | None = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            frame = await self.ws.receive()
            received = time.time()
            if frame.type != aiohttp.WSMsgType.TEXT:
                return
            if len(frame.data) < 32 and json.loads(frame.data) == PONG:
                if self.pong is not None and not self.pong.done():
                    self.pong.set_result(received)
                continue
            self.frames.append((received, frame.data))

    async def ping(self) -> float:
        """Round-trip time of one ping/pong, in ms."""
        self.pong = asyncio.get_running_loop().create_future()
        sent = time.time()
        await self.ws.send_str('{"type": "ping"}')
        return (await asyncio.wait_for(self.pong, 30) - sent) * 1000


async def connect(session: aiohttp.ClientSession, url: str, deflate: bool) -> Client:
    ws = await session.ws_connect(url, max_msg_size=0, compress=15 if deflate else 0)
    assert (await ws.receive_json())["type"] == "hello"
    await ws.send_json({"type": "subscribe", "topic": "all"})
    assert (await ws.receive_json())["type"] == "subscribed"
    return Client(ws)


async def ping_rounds(clients: list[Client], rounds: int) -> list[float]:
    samples: list[float] = []
    for _ in range(rounds):
        samples += await asyncio.gather(*(client.ping() for client in clients))
        await asyncio.sleep(0.05)
    return samples


def created_at(event: dict) -> float:
    created = datetime.fromisoformat(event["created"])
    if created.tzinfo is None:  # older ansible-runner: naive UTC
        created = created.replace(tzinfo=UTC)
    return created.timestamp()


async def runner_rounds(servers: list[dict], data_dir: Path, rounds: int) -> list[float]:
    """ping.yml through run_playbook in this process; ms from `created` to `on_event`."""
    settings = Settings(data_dir=data_dir)
    toolchain.ensure_on_path()  # as the service does: ansible-runner needs ansible-playbook
    delays: list[float] = []

    def on_event(raw: dict) -> None:
        delays.append((time.time() - created_at(raw)) * 1000)

    async def one(body: dict, run: int) -> None:
        server = Server(
            id=body["id"],
            name=body["name"],
            host=body["host"],
            port=body["port"],
            root_username=body["root_username"],
            manual_key_path=body["manual_key_path"],
        )
        spec = PlaybookSpec(
            playbook="ping.yml",
            inventory=render_inventory([server], settings),
            envvars={"ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir(settings))},
        )
        run_dir = data_dir / "bench-runs" / f"{body['id']}-{run}"
        result = await run_playbook(spec, run_dir, on_event)
        assert result.status == "successful", result

    for run in range(rounds):
        await asyncio.gather(*(one(body, run) for body in servers))
    return delays


async def bench(harness, hosts, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="pbd-bench-") as tmp:
        extra = {"PBD_LOG_LEVEL": "WARNING"}
        async with running_service(Path(tmp) / "data", extra_env=extra) as service:
            api = ServiceClient(service.base_url, service.token)
            connector = aiohttp.TCPConnector(limit=0)
            session = aiohttp.ClientSession(headers=api.headers, connector=connector)
            try:
                servers = [await api.create_server(h, harness.private_key) for h in hosts]
                url = f"{service.base_url}/api/v1/ws"
                clients = [await connect(session, url, args.deflate) for _ in range(args.clients)]
                agreed = sum(1 for client in clients if client.ws.compress)
                async with TaskWatcher(api) as watcher:

                    async def run_round() -> None:
                        tasks = [await api.start(s["id"]) for s in servers]
                        for task in tasks:
                            _, done = await asyncio.wait_for(watcher.finished(task["id"]), 600)
                            assert done["status"] == "successful", done

                    await run_round()  # warm-up: host keys, ControlPersist, imports
                    await asyncio.sleep(0.5)
                    for client in clients:
                        client.frames.clear()
                    await ping_rounds(clients, 3)  # warm-up
                    baseline = await ping_rounds(clients, args.ping_rounds)
                    started = time.perf_counter()
                    for _ in range(args.rounds):
                        await run_round()
                    elapsed = time.perf_counter() - started
                    await asyncio.sleep(0.5)  # let the last frames arrive
                    after = await ping_rounds(clients, args.ping_rounds)
                for client in clients:
                    await client.ws.close()
                runner = await runner_rounds(servers, Path(tmp) / "data", args.rounds)
            finally:
                await session.close()
                await api.close()
    print(f"clients with permessage-deflate agreed: {agreed} of {len(clients)}")
    report(args, clients, baseline, after, runner, elapsed, len(hosts))


def report(
    args: argparse.Namespace,
    clients: list[Client],
    baseline: list[float],
    after: list[float],
    runner: list[float],
    elapsed: float,
    host_count: int,
) -> None:
    delays: list[float] = []
    per_event: dict[tuple[int, int], list[float]] = {}
    kinds: dict[str, int] = {}
    for client in clients:
        for received, text in client.frames:
            message = json.loads(text)
            if message["type"] != "task.event":
                continue
            event = message["event"]
            delay = (received - created_at(event)) * 1000
            delays.append(delay)
            per_event.setdefault((message["task_id"], message["seq"]), []).append(delay)
    for key, values in per_event.items():
        assert len(values) == len(clients), f"event {key} reached {len(values)} clients"
    first = [min(values) for values in per_event.values()]
    spread = [max(values) - min(values) for values in per_event.values()]
    for client in clients[:1]:
        for _, text in client.frames:
            message = json.loads(text)
            if message["type"] == "task.event":
                kinds[message["event"]["event"]] = kinds.get(message["event"]["event"], 0) + 1

    runs = args.rounds * host_count
    print(
        f"{len(clients)} WebSocket clients on topic 'all'; {runs} runs of ping.yml "
        f"({args.rounds} rounds x {host_count} hosts at once) in {elapsed:.1f}s; "
        f"{len(per_event)} task.event messages, each received by all {len(clients)} clients"
    )
    print(f"event kinds per client: {dict(sorted(kinds.items()))}")
    print(f"baseline ping/pong RTT, all clients at once, before runs: {summary(baseline)}")
    print(f"baseline ping/pong RTT, all clients at once, after runs:  {summary(after)}")
    print(f"baseline runner only, created -> on_event in this process: {summary(runner)}")
    print(f"event created -> received, all (client, event) pairs:     {summary(delays)}")
    print(f"  first client to receive each event:                     {summary(first)}")
    print(f"  spread first..last client per event:                    {summary(spread)}")
    for fraction, label in ((0.5, "p50"), (0.99, "p99")):
        ratio = percentile(delays, fraction) / percentile(baseline, fraction)
        print(f"{label} ratio event latency / ping RTT baseline: {ratio:.2f}x")
        ratio = percentile(delays, fraction) / percentile(runner, fraction)
        print(f"{label} ratio event latency / runner-only baseline: {ratio:.2f}x")
    print(f"p99 event latency {percentile(delays, 0.99):.2f}ms (aim <= 10ms)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ping-rounds", type=int, default=20)
    parser.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate")
    args = parser.parse_args()
    run_on_lab_hosts(bench, args)


if __name__ == "__main__":
    main()

"""GET /api/v1/servers latency: 10,000 servers, 50 per page, 50 concurrent clients.

Baseline, measured in the same run with the same client load: a bare aiohttp handler that
returns a fixed 50-item JSON page (the floor of any aiohttp service on this machine).

    .venv/bin/python -m bench.api_latency [--servers 10000] [--requests 5000]
"""

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.common import cpu_seconds, percentile, summary
from service.config import DATABASE_FILE
from service.models import Server
from service.storage.db import database
from tests.service_process import free_port, running_service


async def seed(data_dir: Path, count: int) -> None:
    async with database(f"sqlite://{(data_dir / DATABASE_FILE).resolve()}"):
        await Server.bulk_create(
            [
                Server(name=f"server-{i:05d}", host=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
                for i in range(count)
            ],
            batch_size=1000,
        )


async def get_pages(
    url: str,
    headers: dict[str, str],
    pages: int,
    clients: int,
    *,
    requests: int | None = None,
    duration: float | None = None,
) -> list[float]:
    """Closed-loop GETs of random 50-item pages from `clients` clients; latencies in ms.

    Stops after `requests` requests in all, or after `duration` seconds.
    """
    samples: list[float] = []
    remaining = requests
    deadline = time.perf_counter() + duration if duration is not None else None

    def more() -> bool:
        nonlocal remaining
        if deadline is not None:
            return time.perf_counter() < deadline
        assert remaining is not None
        remaining -= 1
        return remaining >= 0

    async def client(session: aiohttp.ClientSession) -> None:
        while more():
            page = random.randint(1, pages)
            started = time.perf_counter()
            async with session.get(url, params={"per_page": 50, "page": page}) as response:
                await response.read()
                assert response.status == 200, response.status
            samples.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return samples


async def baseline_app(port: int) -> web.AppRunner:
    page = {
        "items": [
            {"id": i, "name": f"server-{i:05d}", "host": "10.0.0.1", "port": 22} for i in range(50)
        ],
        "page": 1,
        "per_page": 50,
        "total_items": 10000,
        "total_pages": 200,
    }

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(page)

    app = web.Application()
    app.router.add_get("/servers", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def measure(
    url: str, headers: dict[str, str], pid: int, pages: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Under `args.clients` clients: latencies, throughput and the server's CPU per request;
    then with one client: the latency of a request that does not queue behind others."""
    await get_pages(url, headers, pages, args.clients, requests=500)  # warm-up
    cpu, started = cpu_seconds(pid), time.perf_counter()
    loaded = await get_pages(url, headers, pages, args.clients, requests=args.requests)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
    single = await get_pages(url, headers, pages, 1, requests=args.requests // 5)
    return {
        "loaded": loaded,
        "rate": len(loaded) / elapsed,
        "cpu_ms": cpu / len(loaded) * 1000,
        "single": single,
    }


def report(label: str, figures: dict[str, Any], clients: int) -> None:
    print(
        f"{label}: {clients} clients {summary(figures['loaded'])}; {figures['rate']:.0f} req/s;"
        f" server CPU {figures['cpu_ms']:.2f} ms/request; 1 client {summary(figures['single'])}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    pages = args.servers // 50

    # The baseline server runs in a child process so that the load generator does not
    # share its event loop (the service under test is a child process too).
    port = free_port()
    baseline = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import asyncio,sys;from bench.api_latency import baseline_app;"
        "loop=asyncio.new_event_loop();loop.run_until_complete(baseline_app(int(sys.argv[1])));"
        "loop.run_forever()",
        str(port),
    )
    try:
        await asyncio.sleep(1.5)
        base = await measure(f"http://127.0.0.1:{port}/servers", {}, baseline.pid, pages, args)
    finally:
        baseline.terminate()
        await baseline.wait()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        await seed(data_dir, args.servers)
        print(f"seeded {args.servers} servers in {time.perf_counter() - started:.1f}s")
        async with running_service(data_dir, extra_env={"PBD_LOG_LEVEL": "WARNING"}) as service:
            headers = {"Authorization": f"Bearer {service.token}"}
            url = f"{service.base_url}/api/v1/servers"
            served = await measure(url, headers, service.process.pid, pages, args)

    report("baseline (bare aiohttp, fixed page)", base, args.clients)
    report(f"GET /api/v1/servers (50/page of {args.servers})", served, args.clients)
    print(
        "service/baseline: "
        f"throughput {served['rate'] / base['rate']:.2f}x, "
        f"CPU per request {served['cpu_ms'] / base['cpu_ms']:.2f}x, "
        f"1-client p50 {percentile(served['single'], 0.5) / percentile(base['single'], 0.5):.2f}x, "
        f"{args.clients}-client p50 "
        f"{percentile(served['loaded'], 0.5) / percentile(base['loaded'], 0.5):.2f}x"
    )
    print(
        f"one core's worth of the service's CPU: {1000 / served['cpu_ms']:.0f} req/s "
        "(the load generator shares this machine's 2 cores)"
    )


if __name__ == "__main__":
    asyncio.run(main())

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

import aiohttp
from aiohttp import web

from bench.common import percentile, summary
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
        await get_pages(
            f"http://127.0.0.1:{port}/servers", {}, pages, args.clients, requests=500
        )  # warm-up
        base_samples = await get_pages(
            f"http://127.0.0.1:{port}/servers", {}, pages, args.clients, requests=args.requests
        )
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
            await get_pages(url, headers, pages, args.clients, requests=500)  # warm-up
            started = time.perf_counter()
            samples = await get_pages(url, headers, pages, args.clients, requests=args.requests)
            elapsed = time.perf_counter() - started

    print(f"baseline (bare aiohttp, fixed page): {summary(base_samples)}")
    setup = f"50/page, {args.servers} rows, {args.clients} clients"
    print(f"GET /api/v1/servers ({setup}): {summary(samples)}")
    print(f"throughput: {len(samples) / elapsed:.0f} req/s")
    for fraction, label in ((0.5, "p50"), (0.99, "p99")):
        ratio = percentile(samples, fraction) / percentile(base_samples, fraction)
        print(f"{label} ratio service/baseline: {ratio:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())

"""What the role check and the audit write cost: p50 of GET and POST /api/v1/servers.

The same service is measured twice in one run, each in a child process on its own copy of
one seeded database: as built (token check, role check, audit record for every POST), and
as a baseline with the role check (`access_middleware`) and the audit middleware replaced by
pass-through middlewares (the token check stays in both). GETs are never audited, so their
difference is the role check alone; a POST pays both, plus one INSERT into audit_log.

    .venv/bin/python -m bench.access_cost [--requests 2000] [--clients 10] [--rounds 2]
"""

import argparse
import asyncio
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from bench.common import percentile, summary
from service.config import DATABASE_FILE
from service.domain import tokens
from service.models import Server
from service.storage.db import database
from tests.service_process import free_port

SEED_SERVERS = 200


async def seed(data_dir: Path) -> str:
    """A migrated database with some servers and an admin token; the token's secret."""
    async with database(f"sqlite://{(data_dir / DATABASE_FILE).resolve()}"):
        await Server.bulk_create(
            [Server(name=f"seed-{i:04d}", host=f"10.1.0.{i}") for i in range(SEED_SERVERS)]
        )
        return (await tokens.issue_token("bench")).secret


@web.middleware
async def pass_through(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await handler(request)


def serve(data_dir: str, port: int, baseline: bool) -> None:
    """Run the service in this (child) process; `baseline`: without role check and audit."""
    import service.api.v1
    import service.app
    from service.config import Settings

    if baseline:
        service.api.v1.access_middleware = pass_through
        service.app.audit_middleware = pass_through
    settings = Settings(data_dir=Path(data_dir), log_level="WARNING")
    app = service.app.create_app(settings)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def load(
    base: str, token: str, method: str, requests: int, clients: int, names: itertools.count
) -> list[float]:
    """Closed-loop requests from `clients` clients; latencies in ms."""
    samples: list[float] = []
    remaining = requests

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            if method == "GET":
                call = session.get(f"{base}/api/v1/servers", params={"per_page": 20})
                expected = 200
            else:
                n = next(names)
                body = {"name": f"bench-{n:06d}", "host": f"10.2.{n // 256 % 256}.{n % 256}"}
                call = session.post(f"{base}/api/v1/servers", json=body)
                expected = 201
            started = time.perf_counter()
            async with call as response:
                await response.read()
                assert response.status == expected, response.status
            samples.append((time.perf_counter() - started) * 1000)

    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return samples


async def measure(
    seeded: Path, token: str, baseline: bool, args: argparse.Namespace
) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(seeded / DATABASE_FILE, Path(tmp) / DATABASE_FILE)
        port = free_port()
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sys; from bench.access_cost import serve; "
            "serve(sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1')",
            tmp,
            str(port),
            "1" if baseline else "0",
        )
        base = f"http://127.0.0.1:{port}"
        names = itertools.count()
        try:
            await wait_ready(f"{base}/api/v1/health")
            await load(base, token, "GET", 200, args.clients, names)  # warm-up
            await load(base, token, "POST", 100, args.clients, names)
            return {
                method: await load(base, token, method, args.requests, args.clients, names)
                for method in ("GET", "POST")
            }
        finally:
            child.terminate()
            await child.wait()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="alternating baseline/full runs")
    args = parser.parse_args()

    results: dict[bool, dict[str, list[float]]] = {
        True: {"GET": [], "POST": []},
        False: {"GET": [], "POST": []},
    }
    with tempfile.TemporaryDirectory() as tmp:
        seeded = Path(tmp)
        token = await seed(seeded)
        for _ in range(args.rounds):
            for baseline in (True, False):
                for method, samples in (await measure(seeded, token, baseline, args)).items():
                    results[baseline][method].extend(samples)

    print(
        f"{args.rounds} alternating rounds, {args.requests} requests each, {args.clients} clients"
    )
    for method in ("GET", "POST"):
        base, full = results[True][method], results[False][method]
        p50_base, p50_full = percentile(base, 0.5), percentile(full, 0.5)
        print(f"{method} /api/v1/servers baseline (no role check, no audit): {summary(base)}")
        print(f"{method} /api/v1/servers with role check + audit:           {summary(full)}")
        print(
            f"{method} p50 cost: {p50_full - p50_base:+.2f}ms ({p50_full / p50_base:.2f}x baseline)"
        )


if __name__ == "__main__":
    asyncio.run(main())

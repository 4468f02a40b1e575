"""The health checker's cost: CPU seconds of the service per 1,000 checks, with 1,000
simulated app endpoints on loopback, next to a bare aiohttp client doing the same GETs.

The endpoints are one aiohttp server with 1,000 routes (`/app-N/health`) in a child process,
so its CPU is not counted. The service is `create_app` in this process with 1,000 apps on
one server (127.0.0.1, `health_port` = the endpoints' port), each with a completed deployment
whose `health_path` is its route, at the shortest interval (5 s). After a warm-up interval
(the first checks are jittered over it) the process's CPU time (`time.process_time`: every
thread, so aiosqlite's too) is read over `--seconds`, with one write of the hourly counts
forced at the end (the steady state writes them once a minute), and divided by the checks
recorded meanwhile.

Baseline, same run, same endpoints, before the service starts: the same 1,000 GETs per
round from one aiohttp ClientSession with the same connection limit, no recording.

The figure at a 30 s interval: 1,000 apps make 33.3 checks a second, so the service's CPU %
of one core is (CPU seconds per 1,000 checks) / 30 * 100.

    .venv/bin/python -m bench.health_checks [--apps 1000] [--seconds 20]
"""

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from service.health.rules import MIN_INTERVAL
from service.keys import HEALTH
from service.models import App, Deployment, DeploymentStatus, Version

CONCURRENCY = 100


def serve(port: int, apps: int) -> None:
    """The endpoints' process: 1,000 routes, each answering 200."""

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    for n in range(apps):
        app.router.add_get(f"/app-{n}/health", healthy)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def wait_for_endpoints(port: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{port}/app-0/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the endpoints did not start")


async def baseline(port: int, apps: int, rounds: int) -> float:
    """CPU seconds per 1,000 GETs from a bare client loop (same limit, same routes)."""
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(n: int) -> None:
            async with session.get(f"http://127.0.0.1:{port}/app-{n}/health") as response:
                await response.read()

        await asyncio.gather(*(get(n) for n in range(apps)))  # warm-up
        started = time.process_time()
        for _ in range(rounds):
            await asyncio.gather(*(get(n) for n in range(apps)))
        return (time.process_time() - started) / (rounds * apps) * 1000


async def service_cost(port: int, apps: int, seconds: float, data_dir: Path) -> tuple[float, int]:
    """CPU seconds of the service per 1,000 checks, and how many checks that was over."""
    settings = replace(
        Settings(data_dir=data_dir),
        health_port=port,
        health_concurrency=CONCURRENCY,
        retention_interval=0,
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        headers = {"Authorization": f"Bearer {(await tokens.issue_token('bench')).secret}"}
        reply = await client.post(
            "/api/v1/servers", json={"name": "loopback", "host": "127.0.0.1"}, headers=headers
        )
        server = await reply.json()
        ids = []
        for n in range(apps):
            body = {"name": f"app-{n}", "server_id": server["id"], "remote_path": f"/srv/apps/a{n}",
                    "service_name": f"app-{n}", "health_interval": MIN_INTERVAL}  # fmt: skip
            reply = await client.post("/api/v1/apps", json=body, headers=headers)
            ids.append((await reply.json())["id"])
        # What a completed deploy leaves (the deploys themselves are not what is measured).
        versions = [Version(app_id=app_id, version_number="1.0.0") for app_id in ids]
        await Version.bulk_create(versions)
        by_app = {v.app_id: v.id for v in await Version.filter(app_id__in=ids)}
        now = datetime.now(UTC)
        deployments = [
            Deployment(
                app_id=app_id,
                version_id=by_app[app_id],
                completed_at=now,
                status=DeploymentStatus.COMPLETED,
                options={"health_path": f"/app-{n}/health"},
            )
            for n, app_id in enumerate(ids)
        ]
        await Deployment.bulk_create(deployments)
        await App.filter(id__in=ids).update(current_version="1.0.0")
        checker = client.app[HEALTH]
        for app_id in ids:
            checker.reload(app_id)
        for _ in range(600):  # until loaded and one round is done (at most 2 minutes)
            if len(checker.targets) == apps and checker.checks >= apps:
                break
            await asyncio.sleep(0.2)
        await checker.flush()
        checks, started = checker.checks, time.process_time()
        await asyncio.sleep(seconds)
        await checker.flush()
        spent, done = time.process_time() - started, checker.checks - checks
        failed = sum(state.up is False for state in checker.states.values())
        assert failed == 0, f"{failed} endpoints marked down"
        return spent / done * 1000, done
    finally:
        await client.close()


async def measure(port: int, apps: int, seconds: float) -> None:
    await wait_for_endpoints(port)
    bare = await baseline(port, apps, rounds=3)
    with tempfile.TemporaryDirectory(prefix="pbd-bench-health-") as tmp:
        cost, done = await service_cost(port, apps, seconds, Path(tmp))
    print(f"{apps} apps on loopback, interval {MIN_INTERVAL} s, {done} checks measured")
    print(f"service (health checker): {cost:.3f} CPU s per 1,000 checks")
    print(f"baseline (bare aiohttp client loop): {bare:.3f} CPU s per 1,000 GETs")
    print(f"ratio: {cost / bare:.2f}x")
    print(f"1,000 apps at a 30 s interval: {cost / 30 * 100:.2f}% of one core")


def main(apps: int, seconds: float) -> None:
    """The endpoints in a child process (their CPU is not the service's), then the figures."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.health_checks", "--serve", str(port), "--apps", str(apps)]
    endpoints = subprocess.Popen(argv)
    try:
        asyncio.run(measure(port, apps, seconds))
    finally:
        endpoints.terminate()
        endpoints.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(options.serve, options.apps)
    else:
        main(options.apps, options.seconds)

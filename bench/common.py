"""Shared pieces of the benchmarks: percentiles, a free port, a service process."""

import asyncio
import os
import re
import socket
import statistics
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

TOKEN_RE = re.compile(r"^\s+(pbd_\S+)$", re.MULTILINE)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(samples_ms: list[float]) -> str:
    return (
        f"n={len(samples_ms)} p50={percentile(samples_ms, 0.5):.2f}ms "
        f"p99={percentile(samples_ms, 0.99):.2f}ms mean={statistics.fmean(samples_ms):.2f}ms"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def running_service(data_dir: Path) -> AsyncIterator[tuple[str, str]]:
    """Start `pb-deployer serve` on a free port; yield (base URL, admin token)."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "WARNING",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ},
    )
    output = ""
    try:
        async with asyncio.timeout(60):
            while f"127.0.0.1:{port}" not in output:
                line = await process.stdout.readline()
                if not line:
                    raise RuntimeError(f"service exited:\n{output}")
                output += line.decode()
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as session:
                while True:
                    try:
                        async with session.get(f"{base}/api/v1/health"):
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.1)
        match = TOKEN_RE.search(output)
        if not match:
            raise RuntimeError(f"no token in output:\n{output}")
        yield base, match.group(1)
    finally:
        process.terminate()
        await process.wait()

"""Retention: database size after 10,000 tasks with and without it, the purge's duration,
and GET latency during the purge next to the same GETs before it (same run).

A temp SQLite database gets `--tasks` finished tasks spread evenly over the last `--days`
days on `--servers` servers, each with `--events` stored events of a real event's size.
The real `pb-deployer serve` process then runs its first scheduled purge (60 s after start,
default settings: events 30 days, tasks 90 days, the newest 50 per server kept) while
`--clients` closed-loop clients GET random pages of /api/v1/tasks; requests that ran wholly
before the purge are the baseline, those that ran wholly inside it are "during".
The sizes: the seeded file; the file after the purge (SQLite keeps the freed pages in its
freelist for reuse, so the file does not shrink); and a VACUUMed copy.

    .venv/bin/python -m bench.retention [--tasks 10000] [--events 20] [--servers 10]
"""

import argparse
import asyncio
import random
import re
import sqlite3
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bench.common import percentile, summary
from service.config import DATABASE_FILE
from service.models import Server, Task, TaskEvent, TaskKind, TaskStatus
from service.retention.job import FIRST_RUN_DELAY
from service.storage.db import database
from tests.retention.helpers import event_data
from tests.service_process import running_service

PURGE_LINE = re.compile(r"retention purge in ([\d.]+) s: (.*)")


async def seed(path: Path, tasks: int, events: int, servers: int, days: int) -> None:
    now = datetime.now(UTC)
    async with database(f"sqlite://{path}"):
        hosts = [Server(name=f"web-{n}", host=f"10.0.0.{n + 1}") for n in range(servers)]
        await Server.bulk_create(hosts)
        server_ids = [s.id for s in await Server.all()]
        for start in range(0, tasks, 500):
            rows = []
            for n in range(start, min(tasks, start + 500)):
                finished = now - timedelta(days=days * (tasks - n) / tasks)
                server_id = server_ids[n % servers]
                rows.append(
                    Task(
                        kind=TaskKind.AUDIT,
                        status=TaskStatus.SUCCESSFUL,
                        server_id=server_id,
                        server_ids=[server_id],
                        created=finished - timedelta(seconds=40),
                        started_at=finished - timedelta(seconds=35),
                        finished_at=finished,
                        last_seq=events,
                        result={"runner_status": "successful", "rc": 0, "failed_hosts": []},
                    )
                )
            await Task.bulk_create(rows)
            saved = await Task.filter(id__gt=start).order_by("id").limit(len(rows))
            await TaskEvent.bulk_create(
                [
                    TaskEvent(
                        task_id=task.id,
                        counter=c,
                        event="runner_on_ok",
                        host=f"web-{task.server_id}",
                        data=event_data(c, f"web-{task.server_id}"),
                        created=task.finished_at,
                    )
                    for task in saved
                    for c in range(1, events + 1)
                ],
                batch_size=2000,
            )


def sizes(path: Path) -> tuple[int, int]:
    """(file bytes, bytes in the freelist)."""
    with closing(sqlite3.connect(path)) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
    return path.stat().st_size, free * page


def vacuumed_size(path: Path, scratch: Path) -> int:
    """The size of a copy (SQLite's backup: the file and its WAL) after VACUUM."""
    copy = scratch / "vacuumed.sqlite3"
    with (
        closing(sqlite3.connect(path)) as source,
        closing(sqlite3.connect(copy, isolation_level=None)) as db,
    ):
        source.backup(db)
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # WAL mode: the file shrinks here
    return copy.stat().st_size


async def get_tasks(
    url: str, headers: dict[str, str], clients: int, stop: asyncio.Event
) -> list[tuple[float, float]]:
    """Closed-loop GETs of random /tasks pages (50 each) until `stop`: (start, end) times."""
    samples: list[tuple[float, float]] = []

    async def client(session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            params = {"per_page": 50, "page": random.randint(1, 20)}
            async with session.get(url, params=params) as response:
                await response.read()
                assert response.status == 200, response.status
            samples.append((started, time.perf_counter()))

    async with aiohttp.ClientSession(headers=headers) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return samples


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--servers", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--clients", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pbd-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        path = data_dir / DATABASE_FILE
        began = time.perf_counter()
        await seed(path, args.tasks, args.events, args.servers, args.days)
        seeded = sizes(path)[0]
        print(
            f"seeded {args.tasks} tasks x {args.events} events over {args.days} days on "
            f"{args.servers} servers in {time.perf_counter() - began:.0f}s"
        )
        env = {"PBD_LOG_LEVEL": "INFO"}  # the purge's own log line names its duration
        async with running_service(data_dir, extra_env=env) as service:
            started_at = time.perf_counter()
            headers = {"Authorization": f"Bearer {service.token}"}
            stop = asyncio.Event()
            getting = asyncio.create_task(
                get_tasks(f"{service.base_url}/api/v1/tasks", headers, args.clients, stop)
            )
            async with asyncio.timeout(FIRST_RUN_DELAY + 600):
                while True:  # drain the output (access log lines) until the purge's line
                    line = (await service.process.stdout.readline()).decode()
                    assert line, "the service ended"
                    found = PURGE_LINE.search(line)
                    if found:
                        ended = time.perf_counter()
                        break
            stop.set()
            samples = await getting
        duration = float(found.group(1))
        purge_start = ended - duration
        warm = started_at + 5
        idle = [(e - s) * 1000 for s, e in samples if warm <= s and e < purge_start]
        during = [(e - s) * 1000 for s, e in samples if s >= purge_start and e <= ended]
        after, freelist = sizes(path)
        vacuumed = vacuumed_size(path, Path(tmp))

    print(f"purge ({found.group(2)}): {duration:.2f}s")
    print(f"database without retention: {mib(seeded)}")
    print(f"with retention, after the purge: file {mib(after)}, of it {mib(freelist)} free pages")
    print(f"with retention, after VACUUM: {mib(vacuumed)} ({vacuumed / seeded:.0%} of without)")
    print(f"GET /api/v1/tasks, no purge (baseline): {summary(idle)}")
    print(f"GET /api/v1/tasks, during the purge:    {summary(during)}")
    ratio = percentile(during, 0.5) / percentile(idle, 0.5)
    print(f"p50 ratio during/baseline: {ratio:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())

"""Scale of the data: list and filter endpoints over a big SQLite database, single client.

A temp database (the service's own migrations) gets `--servers` servers, `--apps` apps
(a version each), `--tasks` finished tasks (mixed kinds and statuses, some of an app, each
with its task_servers row; every deploy task of an app with its deployment) and `--events`
stored events per task of a real event's size, written with plain sqlite3 in one
transaction; plus one task of `--replay` events. Then:

- its size, and the bytes per 1,000 events (the events table and its index, by `dbstat`);
- every list and filter request below, `--repeat` times each (random pages and ids) by one
  client against the real `pb-deployer serve` process: p50/p99 next to `GET /health`'s
  database probe, the cheapest request that reaches the database (the baseline);
- the query plan (`EXPLAIN QUERY PLAN`) of each of those requests' SQL, caught from an
  in-process app with Tortoise's SQL log on: a `SCAN` without an index is marked (an
  unfiltered page is one: it walks the table in id order up to its offset);
- a WebSocket replay of the `--replay`-event task (`after: 0`): its time and the service's
  peak RSS before and after it (`VmHWM`), next to the size of the events' JSON.

    .venv/bin/python -m bench.data_scale [--servers 10000] [--apps 1000] [--tasks 100000]
        [--events 100] [--replay 50000] [--repeat 50]
"""

import argparse
import asyncio
import json
import logging
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler

from bench.common import percentile, summary
from service.app import create_app
from service.config import DATABASE_FILE, Settings
from service.domain import tokens
from service.storage.db import database
from tests.retention.helpers import event_data
from tests.service_process import running_service

STAMP = datetime.now(UTC).isoformat(sep=" ")
"""Every row's time: now, so that no retention rule would touch them."""
Request = Callable[[], tuple[str, dict[str, int | str]]]
KINDS = ("setup", "lockdown", "audit", "connection_test", "deploy", "service")
STATUSES = ("successful", "successful", "successful", "failed", "cancelled")
DEPLOYMENT_STATUS = {"successful": "completed", "failed": "failed", "cancelled": "cancelled"}


def seed(path: Path, args: argparse.Namespace) -> int:
    """Fill the migrated database; the id of the long task (for the replay)."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executemany(
            "INSERT INTO servers (created, updated, name, host, port, root_username, "
            "app_username, use_ssh_agent, setup_complete, security_locked) "
            "VALUES (?, ?, ?, ?, 22, 'root', 'deploy', 0, 1, 1)",
            ((STAMP, STAMP, f"web-{n:05d}", f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
             for n in range(args.servers)),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO apps (created, updated, name, remote_path, service_name, status, "
            "server_id, health_interval, restart_on_down, tls, tls_hsts, tls_redirect) "
            "VALUES (?, ?, ?, ?, ?, 'running', ?, 30, 0, 0, 0, 0)",
            ((STAMP, STAMP, f"app-{n:04d}", f"/srv/apps/app-{n:04d}", f"app-{n:04d}",
              n % args.servers + 1) for n in range(args.apps)),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO versions (created, updated, version_number, notes, app_id) "
            "VALUES (?, ?, '1.0.0', '', ?)",
            ((STAMP, STAMP, n + 1) for n in range(args.apps)),
        )
        # Task n is a deploy of an app when n % 6 == 4 (KINDS[4]): deployment n // 6 + 1.
        db.executemany(
            "INSERT INTO deployments (created, updated, status, logs, app_id, version_id, "
            "host_results, kind, options, strategy, started_at, completed_at) "
            "VALUES (?, ?, ?, '', ?, ?, '{}', 'deploy', '{}', 'rolling', ?, ?)",
            ((STAMP, STAMP, DEPLOYMENT_STATUS[STATUSES[n % len(STATUSES)]],
              n % args.apps + 1, n % args.apps + 1, STAMP, STAMP)
             for n in range(4, args.tasks, 6)),
        )  # fmt: skip
        tasks = [
            (STAMP, STAMP, KINDS[n % len(KINDS)], STATUSES[n % len(STATUSES)],
             n % args.servers + 1, (n % args.apps + 1) if n % 6 == 4 else None,
             n // 6 + 1 if n % 6 == 4 else None,
             args.events, f"[{n % args.servers + 1}]", STAMP, STAMP)
            for n in range(args.tasks)
        ]  # fmt: skip
        tasks.append(
            (STAMP, STAMP, "deploy", "successful", 1, 1, None, args.replay, "[1]", STAMP, STAMP)
        )
        db.executemany(
            "INSERT INTO tasks (created, updated, kind, status, server_id, app_id, "
            "deployment_id, params, attempts, max_attempts, cancel_requested, progress, "
            "last_seq, server_ids, started_at, finished_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, '{}', 1, 1, 0, '{}', ?, ?, ?, ?)",
            tasks,
        )
        db.execute("INSERT INTO task_servers (task_id, server_id) SELECT id, server_id FROM tasks")
        template = json.dumps(event_data(1))
        db.executemany(
            "INSERT INTO task_events (task_id, counter, event, host, data, created) "
            "VALUES (?, ?, 'runner_on_ok', 'web-1', ?, ?)",
            ((task, counter, template, STAMP)
             for task in range(1, args.tasks + 1) for counter in range(1, args.events + 1)),
        )  # fmt: skip
        long_task = args.tasks + 1
        db.executemany(
            "INSERT INTO task_events (task_id, counter, event, host, data, created) "
            "VALUES (?, ?, 'runner_on_ok', 'web-1', ?, ?)",
            ((long_task, counter, json.dumps(event_data(counter)), STAMP)
             for counter in range(1, args.replay + 1)),
        )  # fmt: skip
        db.commit()
        db.execute("ANALYZE")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return long_task


def requests(args: argparse.Namespace, long_task: int) -> dict[str, Request]:
    """Each measured request: a name and a function giving (path, query) at random."""
    pages = max(1, args.servers // 50)
    task_pages = max(1, args.tasks // 50)
    deployments = len(range(4, args.tasks, 6))
    return {
        "GET /servers (random page)": lambda: ("servers", {"per_page": 50, "page": r(pages)}),
        "GET /servers?q=": lambda: ("servers", {"q": f"web-{r(args.servers):05d}"}),
        "GET /servers?sort=-name": lambda: ("servers", {"sort": "-name", "page": r(10)}),
        "GET /apps (random page)": lambda: ("apps", {"per_page": 50, "page": r(20)}),
        "GET /apps?server_id=": lambda: ("apps", {"server_id": r(args.apps)}),
        "GET /tasks (first pages)": lambda: ("tasks", {"per_page": 50, "page": r(10)}),
        "GET /tasks (random page)": lambda: ("tasks", {"per_page": 50, "page": r(task_pages)}),
        "GET /tasks?server_id=": lambda: ("tasks", {"server_id": r(args.servers)}),
        "GET /tasks?app_id=": lambda: ("tasks", {"app_id": r(args.apps)}),
        "GET /tasks?status=failed": lambda: ("tasks", {"status": "failed", "page": r(10)}),
        "GET /tasks?kind=audit": lambda: ("tasks", {"kind": "audit", "page": r(10)}),
        "GET /tasks/{id}": lambda: (f"tasks/{r(args.tasks)}", {}),
        "GET /tasks/{id}/events": lambda: (f"tasks/{r(args.tasks)}/events", {}),
        "GET /deployments (random page)": lambda: (
            "deployments",
            {"per_page": 50, "page": r(deployments // 50)},
        ),
        "GET /deployments?app_id=": lambda: ("deployments", {"app_id": r(args.apps)}),
        "GET /deployments?status=failed": lambda: (
            "deployments",
            {"status": "failed", "page": r(10)},
        ),
        "GET /deployments/{id}/status": lambda: (f"deployments/{r(deployments)}/status", {}),
        "GET /deployments/stats?app_id=": lambda: ("deployments/stats", {"app_id": r(args.apps)}),
        "GET /tasks/{id}/events (long)": lambda: (
            f"tasks/{long_task}/events",
            {"after": r(args.replay - 500), "limit": 500},
        ),
    }


def r(top: int) -> int:
    return random.randint(1, max(1, top))


async def time_requests(base: str, headers: dict, plan: dict, repeat: int) -> dict:
    timings: dict[str, list[float]] = {}
    async with aiohttp.ClientSession(base, headers=headers) as http:
        for name, make in [("GET /health (baseline)", lambda: ("health", {})), *plan.items()]:
            samples = timings.setdefault(name, [])
            for _ in range(repeat):
                path, query = make()
                started = time.perf_counter()
                async with http.get(f"/api/v1/{path}", params=query) as response:
                    await response.read()
                    assert response.status in (200, 503), (name, response.status)
                samples.append((time.perf_counter() - started) * 1000)
    return timings


IN_REQUEST: ContextVar[bool] = ContextVar("in_request", default=False)
"""True in a request's handler: the SQL log keeps only what requests run, not the workers'."""


@web.middleware
async def mark_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    IN_REQUEST.set(True)
    return await handler(request)


class SqlLog(logging.Handler):
    """Every statement Tortoise runs for a request (its DEBUG log: "SQL: [params]")."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[tuple[str, list]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if IN_REQUEST.get() and len(record.args or ()) == 2:
            self.statements.append((str(record.args[0]), list(record.args[1] or [])))


async def query_plans(data_dir: Path, plan: dict, headers: dict) -> dict[str, list[str]]:
    """The plan of each request's SQL, from an in-process app over the same database."""
    settings = Settings(data_dir=data_dir, retention_interval=0)
    found: dict[str, list[str]] = {}
    handler = SqlLog()
    logger = logging.getLogger("tortoise.db_client")
    app = create_app(settings)
    app.middlewares.insert(0, mark_request)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        for name, make in plan.items():
            handler.statements.clear()
            path, query = make()
            response = await client.get(f"/api/v1/{path}", params=query, headers=headers)
            assert response.status == 200, (name, response.status)
            found[name] = explain(data_dir / DATABASE_FILE, handler.statements)
    finally:
        logger.removeHandler(handler)
        await client.close()
    return found


def explain(path: Path, statements: list[tuple[str, list]]) -> list[str]:
    """The plan lines of the SELECTs on the task, event, server and app tables."""
    lines = []
    with closing(sqlite3.connect(path)) as db:
        for sql, params in statements:
            if not sql.lstrip().upper().startswith("SELECT") or "api_tokens" in sql:
                continue
            rows = db.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            lines.append(" / ".join(row[3] for row in rows))
    return lines


async def replay(base: str, headers: dict, task_id: int, events: int, pid: int) -> dict:
    """Subscribe with after=0 and read until `replayed`: seconds, peak RSS before/after."""
    before = peak_rss(pid)
    async with (
        aiohttp.ClientSession(base, headers=headers) as http,
        http.ws_connect("/api/v1/ws", max_msg_size=0) as ws,
    ):
        assert (await ws.receive_json())["type"] == "hello"
        started = time.perf_counter()
        await ws.send_json({"type": "subscribe", "topic": f"task:{task_id}", "after": 0})
        seen = size = 0
        closed = None
        while True:
            message = await ws.receive(timeout=120)
            if message.type != aiohttp.WSMsgType.TEXT:
                closed = f"closed by the service ({ws.close_code} {message.extra}) after {seen}"
                break
            body = json.loads(message.data)
            if body["type"] == "task.event":
                seen += 1
                size += len(message.data)
            elif body["type"] == "replayed":
                break
        elapsed = time.perf_counter() - started
    assert closed or seen == events, (seen, events)
    peak = peak_rss(pid)
    return {"seconds": elapsed, "bytes": size, "before": before, "after": peak, "closed": closed}


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmHWM")


def event_bytes(path: Path, events: int) -> float:
    """Bytes the events take per 1,000 (table and its unique index, from dbstat)."""
    with closing(sqlite3.connect(path)) as db:
        used = db.execute(
            "SELECT SUM(pgsize) FROM dbstat WHERE name = 'task_events' OR name IN "
            "(SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'task_events')"
        ).fetchone()[0]
    return used / events * 1000


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


async def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="pbd-bench-scale-") as tmp:
        data_dir = Path(tmp) / "data"
        path = data_dir / DATABASE_FILE
        async with database(f"sqlite://{path}"):  # the schema, by the migrations
            headers = {"Authorization": f"Bearer {(await tokens.issue_token('bench')).secret}"}
        started = time.perf_counter()
        long_task = seed(path, args)
        events = args.tasks * args.events + args.replay
        print(
            f"seeded {args.servers} servers, {args.apps} apps, {args.tasks + 1} tasks, "
            f"{events} events in {time.perf_counter() - started:.0f}s: "
            f"{mib(path.stat().st_size)}, {event_bytes(path, events):.0f} bytes per 1,000 events"
        )
        plan = requests(args, long_task)
        plans = await query_plans(data_dir, plan, headers)
        extra = {"PBD_LOG_LEVEL": "WARNING", "PBD_RETENTION_INTERVAL": "0"}
        async with running_service(data_dir, extra_env=extra) as service:
            timings = await time_requests(service.base_url, headers, plan, args.repeat)
            replayed = await replay(
                service.base_url, headers, long_task, args.replay, service.process.pid
            )
    report(timings, plans, replayed, args)


def report(timings: dict, plans: dict, replayed: dict, args: argparse.Namespace) -> None:
    base = timings["GET /health (baseline)"]
    print(f"single client, {args.repeat} requests each; baseline GET /health: {summary(base)}")
    for name, samples in timings.items():
        p99 = percentile(samples, 0.99)
        mark = "" if p99 <= 50 else "   <-- over 50 ms"
        ratio = p99 / percentile(base, 0.99)
        print(f"  {name:<32} {summary(samples)}  p99/baseline {ratio:.1f}x{mark}")
    print("query plans (SELECTs of each request):")
    for name, lines in plans.items():
        for line in lines:
            scan = "SCAN" in line and "USING" not in line.split("SCAN", 1)[1].split("/")[0]
            print(f"  {name:<32} {line}{'   <-- scan without an index' if scan else ''}")
    if replayed["closed"]:
        print(f"replay of a {args.replay}-event task over the WebSocket: {replayed['closed']}")
    print(
        f"replay of a {args.replay}-event task over the WebSocket: {replayed['seconds']:.1f}s, "
        f"{mib(replayed['bytes'])} of messages; service peak RSS {mib(replayed['before'])} "
        f"before, {mib(replayed['after'])} after "
        f"(+{mib(replayed['after'] - replayed['before'])})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--apps", type=int, default=1_000)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--replay", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=50)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()

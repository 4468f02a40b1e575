"""The hourly counts' one-statement upsert, on SQLite and on PostgreSQL."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from service.health.rules import Counts
from service.health.samples import read_samples, write_samples
from service.models import App, HealthSample, Server
from service.storage.db import database
from tests.service_process import PROJECT_DIR
from tests.storage.postgres import postgres_server

HOUR = datetime(2026, 12, 2, 10, tzinfo=UTC)


async def scenario(url: str) -> None:
    async with database(url):
        server = await Server.create(name="web-1", host="10.0.0.5")
        app = await App.create(name="shop", server=server, remote_path="/srv/a", service_name="a")
        key = (app.id, server.id, HOUR)
        await write_samples({key: Counts(3, 1, 30.0)})
        later = (app.id, server.id, HOUR + timedelta(hours=1))
        await write_samples({key: Counts(2, 0, 10.0), later: Counts(1, 1, 2.0)})
        assert await HealthSample.all().count() == 2  # added to the hour's row, not a new row
        found = await read_samples(app.id, HOUR + timedelta(hours=1, minutes=5))
        assert found[server.id] == [
            (HOUR, Counts(5, 1, 40.0)),
            (HOUR + timedelta(hours=1), Counts(1, 1, 2.0)),
        ], found


async def test_counts_add_up_per_hour_on_sqlite(tmp_path):
    await scenario(f"sqlite://{tmp_path / 'db.sqlite3'}")


def test_counts_add_up_per_hour_on_postgresql():
    code = (
        "import asyncio, sys; from tests.health.test_samples import scenario; "
        "asyncio.run(scenario(sys.argv[1]))"
    )
    with postgres_server() as url:
        result = subprocess.run(
            [sys.executable, "-c", code, url],
            capture_output=True, text=True, timeout=120, check=False, cwd=PROJECT_DIR,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr

"""`pb-deployer purge [--dry-run]`: a real process on a real SQLite file."""

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

from service.models import Server, Task, TaskEvent
from service.storage.db import database
from tests.retention.helpers import make_task


def purge(data_dir, *flags: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "service", "purge", *flags, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PBD_KEEP_TASKS_PER_SERVER": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


async def seed(url: str) -> None:
    now = datetime.now(UTC)
    async with database(url):
        web1 = await Server.create(name="web-1", host="10.0.0.5")
        for age in (200, 100, 40, 1):
            await make_task(web1, age_days=age, events=5, now=now)


async def counts(url: str) -> tuple[int, int]:
    async with database(url):
        return await Task.all().count(), await TaskEvent.all().count()


def test_purge_says_what_it_would_delete_then_deletes_it(settings):
    asyncio.run(seed(settings.database_url))

    dry = purge(settings.data_dir, "--dry-run")
    assert "task_events: would delete 15\ntasks: would delete 2\n" in dry
    assert (
        "rule tasks: deleted after 90 days (PBD_TASK_RETENTION_DAYS), except the newest 1 per "
        "server_id\n" in dry
    )
    assert asyncio.run(counts(settings.database_url)) == (4, 20)

    done = purge(settings.data_dir)
    assert "task_events: deleted 15\ntasks: deleted 2\n" in done
    assert asyncio.run(counts(settings.database_url)) == (2, 5)
    assert "deleted 0" in purge(settings.data_dir).splitlines()[0]

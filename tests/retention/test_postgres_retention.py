"""The same purge on PostgreSQL (a server the test starts itself).

The scenario runs in a process of its own, as in production (one process, one database):
Tortoise keeps per-process state that the SQLite tests before it would have set.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from service.config import Settings
from service.models import App, Deployment, Server, Task, TaskEvent, TaskKind, Version
from service.retention import Purge
from service.storage.db import database
from tests.retention.helpers import NOW, make_task
from tests.service_process import PROJECT_DIR
from tests.storage.postgres import postgres_server


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


async def scenario(url: str, data_dir: str) -> None:
    settings = Settings(
        data_dir=Path(data_dir), database_url=url, keep_tasks_per_server=3, retention_batch=4
    )
    async with database(url):
        web1 = await Server.create(name="web-1", host="10.0.0.5")
        web2 = await Server.create(name="web-2", host="10.0.0.6")
        shop = await App.create(name="shop", server=web1, remote_path="/srv", service_name="shop")
        version = await Version.create(app=shop, version_number="1.0.0")
        deployment = await Deployment.create(app=shop, version=version)
        live = await make_task(web1, age_days=300, kind=TaskKind.DEPLOY, deployment=deployment)
        old = [await make_task(web1, age_days=200, events=6) for _ in range(8)]
        kept = [await make_task(web1, age_days=100 - n, events=6) for n in range(3)]
        other = await make_task(web2, age_days=500, events=6)

        counted = await Purge(settings, NOW, dry_run=True).run()
        deleted = await Purge(settings, NOW).run()

        assert counted == deleted == {"task_events": 6 * 12, "tasks": 8}, (counted, deleted)
        remaining = {task.id for task in await Task.all()}
        assert remaining == {live.id, other.id, *(task.id for task in kept)}
        assert not remaining & {task.id for task in old}
        assert await TaskEvent.all().count() == 0
        assert await Deployment.filter(id=deployment.id).exists()


def test_a_purge_on_postgresql(tmp_path, postgres_url):
    code = (
        "import asyncio, sys; from tests.retention.test_postgres_retention import scenario; "
        "asyncio.run(scenario(sys.argv[1], sys.argv[2]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, postgres_url, str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False, cwd=PROJECT_DIR,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

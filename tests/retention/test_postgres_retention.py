"""The same purge on PostgreSQL (a server the test starts itself)."""

from dataclasses import replace

import pytest

from service.models import App, Deployment, Server, Task, TaskEvent, TaskKind, Version
from service.retention import Purge
from service.storage.db import database
from tests.retention.helpers import NOW, make_task
from tests.storage.postgres import postgres_server


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


async def test_a_purge_on_postgresql(settings, postgres_url):
    settings = replace(settings, database_url=postgres_url, retention_batch=4)
    async with database(postgres_url):
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

        assert counted == deleted == {"task_events": 6 * 12, "tasks": 8}
        remaining = {task.id for task in await Task.all()}
        assert remaining == {live.id, other.id, *(task.id for task in kept)}
        assert not remaining & {task.id for task in old}
        assert await TaskEvent.all().count() == 0
        assert await Deployment.filter(id=deployment.id).exists()

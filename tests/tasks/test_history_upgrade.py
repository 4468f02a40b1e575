"""Upgrading to task history that outlives servers and apps loses no history.

SQLite changes a foreign key by rebuilding the table; with foreign keys on, dropping the
old `tasks` table would cascade into every stored event and null every retry link.
"""

from tortoise import Tortoise
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

from service.models import Server, Task, TaskEvent, TaskKind, TaskStatus
from service.storage.db import database, tortoise_config

BEFORE = MigrationTarget("models", "0004_deployments")


async def test_upgrade_keeps_events_and_retry_links_and_then_outlives_the_server(tmp_path):
    url = f"sqlite://{tmp_path / 'old.sqlite3'}"
    config = tortoise_config(url)
    old = await Tortoise.init(config=config, _enable_global_fallback=True)
    try:
        await MigrationExecutor(old.connections.get("default"), config["apps"]).migrate([BEFORE])
        server = await Server.create(name="web-1", host="10.0.0.5")
        first = await Task.create(kind=TaskKind.SETUP, server=server, status=TaskStatus.FAILED)
        retry = await Task.create(kind=TaskKind.SETUP, server=server, retry_of=first)
        await TaskEvent.create(task=first, counter=1, event="playbook_on_start")
    finally:
        await old.close_connections()

    async with database(url):
        assert await TaskEvent.filter(task_id=first.id).count() == 1
        assert (await Task.get(id=retry.id)).retry_of_id == first.id
        await Server.filter(id=server.id).delete()

        assert (await Task.get(id=first.id)).server_id is None
        assert await TaskEvent.filter(task_id=first.id).count() == 1
        assert (await Task.get(id=retry.id)).retry_of_id == first.id

"""Upgrading to task history that outlives servers and apps loses no history.

SQLite changes a foreign key by rebuilding the table; with foreign keys on, dropping the
old `tasks` table would cascade into every stored event and null every retry link.
"""

from service.models import Server, Task, TaskEvent, TaskKind, TaskStatus
from service.storage.db import database
from tests.storage.migrated import migrated_to


async def old_task(
    connection, server_id: int, status: TaskStatus, retry_of: int | None = None
) -> int:
    """A task row as 0004's schema holds it (today's model has columns it lacks)."""
    return await connection.execute_insert(
        'INSERT INTO "tasks" ("created", "updated", "kind", "status", "params", "attempts", '
        '"max_attempts", "cancel_requested", "progress", "server_id", "last_seq", "retry_of_id", '
        "\"server_ids\") VALUES (CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, ?, ?, '{}', 0, 1, 0, "
        "'{}', ?, 0, ?, '[]')",
        [TaskKind.SETUP.value, status.value, server_id, retry_of],
    )


async def test_upgrade_keeps_events_and_retry_links_and_then_outlives_the_server(tmp_path):
    url = f"sqlite://{tmp_path / 'old.sqlite3'}"
    async with migrated_to(url, "0004_deployments") as connection:
        server = await Server.create(name="web-1", host="10.0.0.5")
        first_id = await old_task(connection, server.id, TaskStatus.FAILED)
        retry_id = await old_task(connection, server.id, TaskStatus.QUEUED, retry_of=first_id)
        await TaskEvent.create(task_id=first_id, counter=1, event="playbook_on_start")

    async with database(url):
        assert await TaskEvent.filter(task_id=first_id).count() == 1
        assert (await Task.get(id=retry_id)).retry_of_id == first_id
        await Server.filter(id=server.id).delete()

        assert (await Task.get(id=first_id)).server_id is None
        assert await TaskEvent.filter(task_id=first_id).count() == 1
        assert (await Task.get(id=retry_id)).retry_of_id == first_id

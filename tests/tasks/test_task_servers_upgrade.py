"""Upgrading to task_servers gives every stored task its servers' rows, so a server's task
list and a scoped token see old tasks as they see new ones."""

from service.models import Server, TaskServer
from service.storage.db import database
from tests.storage.migrated import migrated_to


async def old_task(connection, server_id: int | None, server_ids: str) -> int:
    return await connection.execute_insert(
        'INSERT INTO "tasks" ("created", "updated", "kind", "status", "params", "attempts", '
        '"max_attempts", "cancel_requested", "progress", "server_id", "last_seq", "server_ids") '
        "VALUES (CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'setup', 'successful', '{}', 1, 1, 0, "
        "'{}', ?, 0, ?)",
        [server_id, server_ids],
    )


async def test_upgrade_fills_the_servers_of_every_stored_task(tmp_path):
    url = f"sqlite://{tmp_path / 'old.sqlite3'}"
    async with migrated_to(url, "0019_unit_statuses") as connection:
        one = await Server.create(name="web-1", host="10.0.0.5")
        two = await Server.create(name="web-2", host="10.0.0.6")
        oldest = await old_task(connection, one.id, "[]")  # from before `server_ids`
        several = await old_task(connection, one.id, f"[{one.id},{two.id}]")
        orphan = await old_task(connection, None, "[7]")  # its server was deleted

    async with database(url):
        rows = (
            await TaskServer.all()
            .order_by("task_id", "server_id")
            .values_list("task_id", "server_id")
        )
        assert rows == [(oldest, one.id), (several, one.id), (several, two.id), (orphan, 7)]

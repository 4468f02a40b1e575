"""The schema comes from committed migrations, and upgrades keep existing rows."""

from pathlib import Path

from tortoise.migrations.autodetector import MigrationAutodetector

from service.models import Server
from service.storage.db import database, tortoise_config
from tests.storage.migrated import declared_indexes, migrated_to, present_indexes

MIGRATIONS = sorted(
    path.stem
    for path in (Path(__file__).resolve().parents[2] / "service" / "migrations").glob("0*.py")
)


async def test_committed_migrations_match_the_models(tmp_path):
    async with database(f"sqlite://{tmp_path}/db.sqlite3") as context:
        changes = await MigrationAutodetector(context.apps, tortoise_config("")["apps"]).changes()
    assert changes == [], "models changed: run `tortoise makemigrations` and commit the file"


async def test_a_migrated_database_has_every_index_the_models_declare(tmp_path):
    """The migration state can claim an index the file lacks: SQLite rebuilds a table to alter
    a column, and that dropped the tasks' retry_of index (0016) until 0022 made it again."""
    async with database(f"sqlite://{tmp_path}/db.sqlite3") as context:
        missing = declared_indexes() - await present_indexes(context.connections.get("default"))
    assert not missing


async def test_reopening_keeps_rows(tmp_path):
    url = f"sqlite://{tmp_path}/nested/dir/db.sqlite3"
    async with database(url):
        await Server.create(name="keep-me", host="10.0.0.1")
    async with database(url):
        assert await Server.filter(name="keep-me").count() == 1


async def test_upgrade_from_the_first_migration_keeps_rows(tmp_path):
    url = f"sqlite://{tmp_path}/db.sqlite3"
    async with migrated_to(url, MIGRATIONS[0]) as connection:
        await connection.execute_query(
            "INSERT INTO servers (name, host, port, root_username, app_username, use_ssh_agent,"
            " setup_complete, security_locked, created, updated)"
            " VALUES ('old', '10.0.0.2', 22, 'root', 'deploy', 0, 0, 0, '2026-01-01', '2026-01-01')"
        )
    async with database(url):
        server = await Server.get(name="old")
        assert server.host == "10.0.0.2"

"""Opening the database and bringing its schema up to date.

Tortoise 1.x keeps its state in a contextvar; aiohttp runs handlers in other tasks, so the
context is opened with the global fallback on and that same context object is closed at
shutdown (closing through `Tortoise.close_connections()` from another context would close
nothing and leave aiosqlite's thread holding the process open).
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.context import TortoiseContext
from tortoise.migrations.executor import MigrationExecutor

MODEL_MODULES = ["service.models"]
MIGRATIONS_MODULE = "service.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config for one database URL (sqlite://path or postgres://...)."""
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# Used by `tortoise makemigrations` (see [tool.tortoise] in pyproject.toml).
MIGRATIONS_CONFIG = tortoise_config("sqlite://:memory:")


def sqlite_foreign_keys(state: str) -> Callable[[Any, Any], Awaitable[None]]:
    """A migration step switching SQLite's foreign keys ON or OFF (a no-op elsewhere).

    SQLite alters a column by rebuilding its table; with foreign keys on, dropping the old
    `tasks` table cascades into task_events and nulls every retry_of. Migrations that alter
    `tasks` switch them off around the change; the pragma only works outside a
    transaction, so such a migration sets `atomic = False`.
    """

    async def switch(apps: Any, schema_editor: Any) -> None:
        if schema_editor.DIALECT == "sqlite":
            await schema_editor.client.execute_script(f"PRAGMA foreign_keys={state}")

    return switch


def ensure_sqlite_parent(database_url: str) -> None:
    """Create the directory of a SQLite file so a first start needs no manual step."""
    prefix = "sqlite://"
    if database_url.startswith(prefix):
        path = database_url[len(prefix) :].split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


async def open_database(database_url: str) -> TortoiseContext:
    """Connect, apply every pending migration, and return the context to close later."""
    ensure_sqlite_parent(database_url)
    config = tortoise_config(database_url)
    context = await Tortoise.init(config=config, _enable_global_fallback=True)
    try:
        executor = MigrationExecutor(context.connections.get("default"), config["apps"])
        await executor.migrate()
    except BaseException:
        await context.close_connections()
        raise
    return context


@asynccontextmanager
async def database(database_url: str) -> AsyncIterator[TortoiseContext]:
    """The database for the lifetime of a block (app, CLI command or test)."""
    context = await open_database(database_url)
    try:
        yield context
    finally:
        await context.close_connections()

"""A database migrated only up to an older migration, as an upgrade finds it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

from service.storage.db import tortoise_config


@asynccontextmanager
async def migrated_to(url: str, migration: str) -> AsyncIterator[BaseDBAsyncClient]:
    """The database at `url` with the migrations up to `migration` applied; its connection
    (models work too, for the columns that existed then)."""
    config = tortoise_config(url)
    old = await Tortoise.init(config=config, _enable_global_fallback=True)
    try:
        connection = old.connections.get("default")
        target = MigrationTarget("models", migration)
        await MigrationExecutor(connection, config["apps"]).migrate([target])
        yield connection
    finally:
        await old.close_connections()

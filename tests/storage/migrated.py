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


def declared_indexes() -> set[tuple[str, tuple[str, ...]]]:
    """(table, columns) of every index the models declare in `Meta.indexes` (an `Index` or a
    tuple of field names)."""
    return {
        (model._meta.db_table, tuple(model._meta.fields_db_projection.get(f, f) for f in fields))
        for app in Tortoise.apps.values()
        for model in app.values()
        for fields in (getattr(index, "fields", index) for index in model._meta.indexes)
    }


async def present_indexes(connection: BaseDBAsyncClient) -> set[tuple[str, tuple[str, ...]]]:
    """(table, columns) of every index the database at `connection` has."""
    if connection.capabilities.dialect == "sqlite":
        rows = await connection.execute_query_dict(
            "SELECT m.name AS tbl, i.name AS idx, c.seqno, c.name AS col"
            " FROM sqlite_master m, pragma_index_list(m.name) i, pragma_index_info(i.name) c"
            " WHERE m.type = 'table' ORDER BY tbl, idx, c.seqno"
        )
    else:
        rows = await connection.execute_query_dict(
            "SELECT t.relname AS tbl, i.relname AS idx, k.n AS seqno, a.attname AS col"
            " FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " JOIN pg_namespace s ON s.oid = t.relnamespace AND s.nspname = 'public'"
            " CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)"
            " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum"
            " ORDER BY tbl, idx, seqno"
        )
    columns: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        columns.setdefault((row["tbl"], row["idx"]), []).append(row["col"])
    return {(table, tuple(cols)) for (table, _), cols in columns.items()}

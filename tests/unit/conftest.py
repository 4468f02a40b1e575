"""Unit-test fixtures: each test still gets its own SQLite file, copied from one migrated once.

Applying the migrations costs most of an app's start-up; a copy of an already migrated file
makes the app's own `migrate()` a no-op, so many short tests stay fast.
"""

import asyncio
import shutil
from pathlib import Path

import pytest

from service.config import Settings
from service.storage.db import database

DATABASE_FILE = "pb-deployer.sqlite3"


async def _migrate(path: Path) -> None:
    async with database(f"sqlite://{path}"):
        pass


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / DATABASE_FILE
    asyncio.run(_migrate(path))
    return path


@pytest.fixture
def settings(tmp_path, migrated_database) -> Settings:
    """Like the suite's `settings`, with the database file already migrated."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(migrated_database, data_dir / DATABASE_FILE)
    return Settings(data_dir=data_dir)

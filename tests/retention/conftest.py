"""Retention fixtures: a migrated SQLite file per test, and settings with small numbers."""

import pytest

from service.config import Settings
from tests.unit.conftest import migrated_database  # noqa: F401 (a fixture used below)


@pytest.fixture
def settings(tmp_path, migrated_database) -> Settings:  # noqa: F811
    """Events go after 30 days, tasks after 90 but each server keeps its newest 3."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / migrated_database.name).write_bytes(migrated_database.read_bytes())
    return Settings(
        data_dir=data_dir,
        event_retention_days=30,
        task_retention_days=90,
        keep_tasks_per_server=3,
        retention_batch=10,
    )

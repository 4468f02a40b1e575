"""Retention fixtures: a migrated SQLite file per test, and settings with small numbers."""

import pytest

from service.config import Settings


@pytest.fixture
def settings(data_dir) -> Settings:
    """Events go after 30 days, tasks after 90 but each server keeps its newest 3."""
    return Settings(
        data_dir=data_dir,
        event_retention_days=30,
        task_retention_days=90,
        keep_tasks_per_server=3,
        retention_batch=10,
    )

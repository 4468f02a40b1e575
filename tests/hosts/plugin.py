"""pytest plugin: the `hosts` marker and fixtures that give tests real target hosts.

Load with `pytest_plugins = ["tests.hosts.plugin"]` (or `-p tests.hosts.plugin`). Hosts
boot once per session and are removed at its end, also when tests fail. A machine that
cannot run them makes the fixture fail, never skip: CI must not pass without these tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .harness import TargetHost, TargetHosts, check_prerequisites
from .system import HostsError, pick_lab

COUNT_ENV = "PBD_TEST_HOSTS"
DEFAULT_COUNT = 3


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "hosts: needs real target hosts (systemd-nspawn containers reached over SSH)"
    )
    # Refuse up front, not by crashing workers one by one, when some worker would lack a lab.
    for index in range(getattr(config.option, "numprocesses", None) or 0):
        try:
            pick_lab(os.environ | {"PYTEST_XDIST_WORKER": f"gw{index}"})
        except RuntimeError as exc:
            raise pytest.UsageError(str(exc)) from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, files with host tests go first: they are the long ones, and one handed
    out last would keep one worker busy for minutes while the other sits idle."""
    if hasattr(config, "workerinput"):  # collection runs in the workers, not the controller
        items.sort(key=lambda item: item.get_closest_marker("hosts") is None)


@pytest.fixture(scope="session")
def target_hosts() -> Iterator[TargetHosts]:
    """Booted hosts for the whole session (count from $PBD_TEST_HOSTS, default 3)."""
    count = int(os.environ.get(COUNT_ENV, DEFAULT_COUNT))
    harness = TargetHosts()
    error = None
    try:
        check_prerequisites()
        harness.start(count)  # cleans up after itself if it fails
    except HostsError as exc:
        error = str(exc)
    if error is not None:
        pytest.fail(f"target hosts could not start: {error}", pytrace=False)
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture
def running_hosts(target_hosts: TargetHosts) -> list[TargetHost]:
    """All session hosts, up: any host an earlier test stopped is booted again first."""
    target_hosts.ensure_running()
    return list(target_hosts.hosts)

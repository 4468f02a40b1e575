"""Which lab a process runs its hosts in: one per pytest-xdist worker, never a shared one."""

import pytest

from tests.hosts.system import pick_lab


@pytest.mark.parametrize(
    ("environ", "lab"),
    [
        ({}, ""),  # a serial run keeps the default lab
        ({"PYTEST_XDIST_WORKER": "gw0"}, ""),
        ({"PYTEST_XDIST_WORKER": "gw1"}, "1"),
        ({"PYTEST_XDIST_WORKER": "gw7"}, "8"),  # lab 7 does not exist
        ({"PBD_HOSTS_LAB": "8"}, "8"),
        ({"PBD_HOSTS_LAB": "8", "PYTEST_XDIST_WORKER": "gw0"}, "8"),
        ({"PBD_HOSTS_LAB": "8,9", "PYTEST_XDIST_WORKER": "gw1"}, "9"),
        ({"PBD_HOSTS_LAB": "8,9"}, "8"),
    ],
)
def test_each_worker_gets_its_lab(environ: dict[str, str], lab: str) -> None:
    assert pick_lab(environ) == lab


@pytest.mark.parametrize("given", ["7", "0", "10", "a", "8,8", "8,", " 8"])
def test_a_lab_that_does_not_exist_or_is_shared_is_refused(given: str) -> None:
    with pytest.raises(RuntimeError, match="one digit from 1 to 9 but not 7"):
        pick_lab({"PBD_HOSTS_LAB": given})


@pytest.mark.parametrize(
    "environ",
    [
        {"PBD_HOSTS_LAB": "8", "PYTEST_XDIST_WORKER": "gw1"},  # two workers in one lab
        {"PBD_HOSTS_LAB": "8,9", "PYTEST_XDIST_WORKER": "gw2"},
        {"PYTEST_XDIST_WORKER": "gw9"},
    ],
)
def test_a_worker_without_a_lab_of_its_own_is_refused(environ: dict[str, str]) -> None:
    with pytest.raises(RuntimeError, match="has no lab of its own"):
        pick_lab(environ)

"""A blue-green deploy whose service is killed (SIGKILL, then started again) as each step begins.

See tests/deploy/cut_off.py: the host must serve exactly one complete release afterwards,
the records must say so, no visitor request may fail, and the next deploy must work.
"""

from collections.abc import Iterator

import pytest

from tests.deploy.cut_off import STEPS, Lab, cut_off_at, next_deploy_succeeds, running_lab
from tests.hosts import TargetHosts

pytestmark = pytest.mark.hosts


@pytest.fixture(scope="module")
def lab(target_hosts: TargetHosts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(target_hosts, tmp_path_factory) as lab:
        yield lab


@pytest.mark.parametrize("step", STEPS)
def test_a_deploy_killed_at_a_step_leaves_one_release_and_true_records(lab: Lab, step: str) -> None:
    cut_off_at(lab, "kill", step)


def test_the_next_deploy_after_the_killed_deploys_succeeds(lab: Lab) -> None:
    next_deploy_succeeds(lab)

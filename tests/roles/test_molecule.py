"""Every molecule scenario (`molecule/<role>/`) as one test, run for real on fresh target hosts.

Each scenario gets hosts with a fresh filesystem: the lockdown scenarios disable root's SSH
login, which would break the next scenario (whose prepare step logs in as root) and any later
test of the session. The harness cannot recreate a single host on a fresh disk
(`restart_host` keeps the disk), so the whole set is booted again with `start()` (~2 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hosts import TargetHosts

REPO_ROOT = Path(__file__).resolve().parents[2]
MOLECULE_DIR = REPO_ROOT / "molecule"
SCENARIOS = sorted(p.parent.name for p in MOLECULE_DIR.glob("*/molecule.yml"))
# Slowest scenarios take about a minute (apt installs through the harness's proxy).
TIMEOUT = 900
TAIL_LINES = 120

pytestmark = pytest.mark.hosts


def molecule_env(inventory: Path, ephemeral: Path) -> dict[str, str]:
    """Environment for `molecule test`: this venv's tools first, the harness's inventory."""
    venv_bin = Path(sys.executable).parent
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
            "PBD_MOLECULE_INVENTORY": str(inventory),
            # Molecule keeps its state ("prepared") per project and scenario under
            # ~/.ansible/tmp: a private directory per run never skips prepare and never
            # collides with another molecule run on the same checkout.
            "MOLECULE_EPHEMERAL_DIRECTORY": str(ephemeral),
            "NO_COLOR": "1",
            "PY_COLORS": "0",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        }
    )
    return env


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


@pytest.fixture(scope="module")
def fresh_hosts_after(target_hosts: TargetHosts) -> Iterator[int]:
    """The session's host count; after the last scenario, pristine hosts for later tests."""
    count = len(target_hosts.hosts)
    yield count
    target_hosts.start(count)


@pytest.fixture
def fresh_hosts(target_hosts: TargetHosts, fresh_hosts_after: int) -> TargetHosts:
    """The session's hosts, booted again on fresh disks (an earlier scenario may lock them)."""
    target_hosts.start(fresh_hosts_after)
    return target_hosts


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str, fresh_hosts: TargetHosts, tmp_path: Path) -> None:
    log = tmp_path / f"molecule-{scenario}.log"
    env = molecule_env(fresh_hosts.inventory_path, tmp_path / "molecule")
    with log.open("w") as out:
        try:
            proc = subprocess.run(
                ["molecule", "test", "-s", scenario],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"molecule test -s {scenario} timed out after {TIMEOUT} s; last lines of "
                f"{log}:\n{tail(log)}",
                pytrace=False,
            )
    assert proc.returncode == 0, (
        f"molecule test -s {scenario} exited {proc.returncode}; last lines of {log}:\n{tail(log)}"
    )

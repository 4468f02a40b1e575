"""Every molecule scenario (`molecule/<role>/`) as one test, run for real on a fresh host.

Each scenario gets one host on a fresh disk and an inventory holding only that host: the
lockdown scenarios disable root's SSH login, which would break the next scenario (whose
prepare step logs in as root) and any later test of the session, so the host is reset
before and after.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

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


@pytest.fixture
def scenario_inventory(target_hosts: TargetHosts, tmp_path: Path) -> Iterator[Path]:
    """The first host on a fresh disk, alone in an inventory; handed back pristine."""
    host = target_hosts.hosts[0]
    target_hosts.reset_host(host)
    inventory = yaml.safe_load(target_hosts.inventory_path.read_text())
    targets = inventory["all"]["children"]["targets"]
    targets["hosts"] = {host.name: targets["hosts"][host.name]}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    yield path
    target_hosts.reset_host(host)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str, scenario_inventory: Path, tmp_path: Path) -> None:
    log = tmp_path / f"molecule-{scenario}.log"
    env = molecule_env(scenario_inventory, tmp_path / "molecule")
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

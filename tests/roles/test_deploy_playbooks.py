"""playbooks/deploy.yml and playbooks/rollback.yml end to end on real target hosts.

The sample app (tests/roles/fixtures/sample_app) is deployed with ansible-playbook, the way
the service runs it (extravars from a JSON file, every string marked unsafe), and requested
from here through nginx: zero-downtime switch, failed health check, switch-back after a
failure past the switch, rollback, idempotence, keep_releases, rolling batches and
blue-green on two hosts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from service.ansible.content import ANSIBLE_CONFIG, PLAYBOOKS_DIR
from service.ansible.variables import extravars_json
from tests.hosts import TargetHosts
from tests.hosts.harness import TargetHost
from tests.http_probe import Poller, get
from tests.roles.fixtures import build_zip

REPO_ROOT = Path(__file__).resolve().parents[2]
CALLBACKS = Path(__file__).resolve().parent / "fixtures" / "callback_plugins"
PLAYBOOK_TIMEOUT = 600
APP_USER = "deploy"

pytestmark = pytest.mark.hosts


@dataclass
class Run:
    """One ansible-playbook run: exit code, custom stats, changed count, wall time, output."""

    rc: int
    stats: dict[str, Any]
    changed: dict[str, int]
    seconds: float
    output: str

    failures: list[dict[str, str]]

    def failure_messages(self) -> list[str]:
        """Messages of the failed tasks (or the end of the log when there are none)."""
        return [f["msg"] for f in self.failures] or [self.output[-4000:]]


@dataclass
class Lab:
    """The session's hosts with the app user, and helpers to run playbooks against them."""

    harness: TargetHosts
    workdir: Path
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def hosts(self) -> list[TargetHost]:
        return list(self.harness.hosts)

    def env(self, stats_file: Path | None = None) -> dict[str, str]:
        venv_bin = Path(sys.executable).parent
        env = dict(os.environ)
        env.update(
            {
                "PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
                "ANSIBLE_CONFIG": str(ANSIBLE_CONFIG),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
            }
        )
        if stats_file is not None:
            env["ANSIBLE_CALLBACK_PLUGINS"] = str(CALLBACKS)
            env["ANSIBLE_CALLBACKS_ENABLED"] = "pbd_stats_json"
            env["PBD_STATS_FILE"] = str(stats_file)
        return env

    def playbook(self, name: str, variables: dict[str, Any], limit: str | None = None) -> Run:
        """Run playbooks/<name>.yml with the variables as the service's extravars (-e @file)."""
        run_id = time.monotonic_ns()
        vars_file = self.workdir / f"vars-{run_id}.json"
        vars_file.write_text(extravars_json(variables))
        stats_file = self.workdir / f"stats-{run_id}.json"
        argv = [
            "ansible-playbook",
            "-i",
            str(self.harness.inventory_path),
            "-e",
            f"@{vars_file}",
            str(PLAYBOOKS_DIR / f"{name}.yml"),
        ]
        if limit:
            argv += ["--limit", limit]
        began = time.monotonic()
        proc = subprocess.run(
            argv,
            cwd=REPO_ROOT,
            env=self.env(stats_file),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PLAYBOOK_TIMEOUT,
            check=False,
        )
        seconds = time.monotonic() - began
        (self.workdir / f"log-{run_id}.txt").write_text(proc.stdout + proc.stderr)
        try:
            report = json.loads(stats_file.read_text())
        except (OSError, ValueError):
            report = {}
        return Run(
            rc=proc.returncode,
            stats=report.get("custom", {}),
            changed={h: s.get("changed", 0) for h, s in report.get("summary", {}).items()},
            seconds=seconds,
            output=proc.stdout + proc.stderr,
            failures=report.get("failures", []),
        )

    def ssh(self, host: TargetHost, command: str) -> str:
        proc = subprocess.run(
            [*self.harness.ssh_args(host), command],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return proc.stdout.strip()


def release(version: str) -> str:
    """Release id of a version, as the service makes them: <version>-<UTC timestamp>."""
    return f"{version}-20261126T1{version[0]}1500Z"


@pytest.fixture(scope="module")
def lab(target_hosts: TargetHosts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The session's hosts, each with the app user (created with an ad-hoc module call)."""
    target_hosts.ensure_running()
    workdir = tmp_path_factory.mktemp("deploy")
    lab = Lab(target_hosts, workdir)
    proc = subprocess.run(
        [
            "ansible",
            "-i",
            str(target_hosts.inventory_path),
            "all",
            "-m",
            "ansible.builtin.user",
            "-a",
            f"name={APP_USER} shell=/bin/bash",
        ],
        cwd=REPO_ROOT,
        env=lab.env(),
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield lab
    if lab.timings:
        print("\ndeploy timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in lab.timings.items()))


@pytest.fixture(scope="module")
def zips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("zips")
    return {
        "1.0.0": build_zip("1.0.0", directory=directory),
        "2.0.0": build_zip("2.0.0", directory=directory),
        "3.0.0": build_zip("3.0.0", broken=True, directory=directory),
        "4.0.0": build_zip("4.0.0", directory=directory),
    }


def shop_vars(zips: dict[str, Path], version: str, **extra: Any) -> dict[str, Any]:
    return {
        "app_deploy_name": "shop",
        "app_deploy_root": "/srv/apps/shop",
        "app_deploy_user": APP_USER,
        "app_deploy_zip": str(zips[version]),
        "app_deploy_version": version,
        "app_deploy_release_id": release(version),
        "app_deploy_service_name": "shop.service",
        "app_deploy_ports": [8001, 8002],
        "app_deploy_domain": None,
        "app_deploy_health_retries": 4,
        "app_deploy_health_delay": 1,
        "app_deploy_keep_releases": 3,
        "app_deploy_shared_paths": ["data"],
        **extra,
    }


def test_deploy_switch_failure_and_rollback_on_one_host(lab: Lab, zips: dict[str, Path]) -> None:
    host = lab.hosts[0]
    name = host.name

    # Given nothing deployed, when v1 is deployed
    run = lab.playbook("deploy", shop_vars(zips, "1.0.0"), limit=name)
    lab.timings["deploy v1 (first, installs nginx)"] = run.seconds
    # Then nginx serves it, and the result is published
    assert run.rc == 0, run.failure_messages()
    assert get(host) == (200, "version 1.0.0")
    result = run.stats["deploy"][name]
    assert result["status"] == "deployed"
    assert result["release_id"] == release("1.0.0")
    assert result["previous_release_id"] is None
    assert result["slot"] == "blue"
    assert result["step"] == "cleanup"
    assert result["health"]["ok"] is True
    assert lab.ssh(host, "readlink /srv/apps/shop/current") == f"releases/{release('1.0.0')}"
    assert lab.ssh(host, "cat /srv/apps/shop/current/REVISION").splitlines() == [
        "version=1.0.0",
        f"release_id={release('1.0.0')}",
    ]

    # When the same release is deployed again, then nothing changes
    run = lab.playbook("deploy", shop_vars(zips, "1.0.0"), limit=name)
    lab.timings["deploy v1 again"] = run.seconds
    assert run.rc == 0, run.failure_messages()
    assert run.changed[name] == 0

    # When v2 is deployed while a client requests the app every 50 ms
    poller = Poller(host)
    poller.start()
    try:
        run = lab.playbook("deploy", shop_vars(zips, "2.0.0"), limit=name)
        time.sleep(0.5)
    finally:
        poller.stop()
    lab.timings["deploy v2 (under load)"] = run.seconds
    # Then no request failed and the app ends serving v2 from the other slot
    assert run.rc == 0, run.failure_messages()
    assert poller.failures == []
    assert poller.answers["version 2.0.0"] > 0
    assert set(poller.answers) <= {"version 1.0.0", "version 2.0.0"}
    assert get(host) == (200, "version 2.0.0")
    result = run.stats["deploy"][name]
    assert (result["status"], result["slot"]) == ("deployed", "green")
    assert result["previous_release_id"] == release("1.0.0")
    assert lab.ssh(host, "systemctl is-active shop-blue.service || true") == "inactive"

    # When a broken v3 (health check 500) is deployed
    run = lab.playbook("deploy", shop_vars(zips, "3.0.0"), limit=name)
    lab.timings["deploy v3 (broken)"] = run.seconds
    # Then the play fails clearly, and v2 keeps serving from current
    assert run.rc != 0
    messages = " ".join(run.failure_messages())
    assert "failed at step health" in messages
    assert "keeps serving" in messages
    result = run.stats["deploy"][name]
    assert (result["status"], result["step"]) == ("failed", "health")
    assert result["health"]["ok"] is False
    assert result["health"]["attempts"] >= 1
    assert get(host) == (200, "version 2.0.0")
    assert lab.ssh(host, "readlink /srv/apps/shop/current") == f"releases/{release('2.0.0')}"
    assert lab.ssh(host, "systemctl is-active shop-blue.service || true") == "inactive"

    # When v4 passes its health check but a post-deploy hook fails after the switch
    run = lab.playbook(
        "deploy", shop_vars(zips, "4.0.0", app_deploy_post_hooks=[["/bin/false"]]), limit=name
    )
    # Then nginx and current are switched back to v2, which serves again
    assert run.rc != 0
    result = run.stats["deploy"][name]
    assert (result["status"], result["step"]) == ("rolled_back", "post_hooks")
    messages = " ".join(run.failure_messages())
    assert "failed at step post_hooks" in messages
    assert "/bin/false -> exit 1" in messages
    assert "switched back to release " + release("2.0.0") in messages
    assert get(host) == (200, "version 2.0.0")
    assert lab.ssh(host, "readlink /srv/apps/shop/current") == f"releases/{release('2.0.0')}"
    assert lab.ssh(host, "systemctl is-active shop-green.service") == "active"

    # When rolling back to the previous release (older than v2: v1, since v3 and v4 are newer)
    rollback_vars = {
        "app_deploy_name": "shop",
        "app_deploy_root": "/srv/apps/shop",
        "app_deploy_service_name": "shop",
        "app_deploy_ports": [8001, 8002],
        "app_deploy_domain": None,
        "app_deploy_rollback_to": "previous",
    }
    poller = Poller(host)
    poller.start()
    try:
        run = lab.playbook("rollback", rollback_vars, limit=name)
    finally:
        poller.stop()
    lab.timings["rollback to v1"] = run.seconds
    # Then v1 serves again, without a failed request
    assert run.rc == 0, run.failure_messages()
    assert poller.failures == []
    assert get(host) == (200, "version 1.0.0")
    assert run.stats["rollback"][name] | {"health": None, "served": None, "tls": None} == {
        "release_id": release("1.0.0"),
        "version": "1.0.0",
        "previous_release_id": release("2.0.0"),
        "slot": "blue",
        "status": "rolled_back",
        "step": "stop_old",
        "health": None,
        "served": None,
        "tls": None,
    }
    served = run.stats["rollback"][name]["served"]
    assert served == {"slot": "blue", "release_id": release("1.0.0"), "version": "1.0.0"}

    # When rolling back to a release that does not exist, then it fails clearly
    run = lab.playbook(
        "rollback", rollback_vars | {"app_deploy_rollback_to": "9.9.9-nope"}, limit=name
    )
    assert run.rc != 0
    assert "Unknown release 9.9.9-nope" in " ".join(run.failure_messages())
    assert run.stats["rollback"][name]["status"] == "failed"
    assert get(host) == (200, "version 1.0.0")

    # Then the failed v3 (never live) was removed, and at most keep_releases (3) are left
    releases = lab.ssh(host, "ls /srv/apps/shop/releases").split()
    assert release("3.0.0") not in releases
    assert len(releases) <= 3
    assert release("1.0.0") in releases


def test_rolling_batches_stop_at_the_first_failed_batch(lab: Lab, zips: dict[str, Path]) -> None:
    if len(lab.hosts) < 2:
        pytest.fail("needs PBD_TEST_HOSTS >= 2", pytrace=False)
    first, second = lab.hosts[0], lab.hosts[1]
    base = shop_vars(zips, "1.0.0") | {
        "app_deploy_name": "roll",
        "app_deploy_root": "/srv/apps/roll",
        "app_deploy_service_name": "roll",
        "app_deploy_ports": [8201, 8202],
        "app_deploy_domain": "roll.test",
        "app_deploy_strategy": "rolling",
    }
    # Given v1 on both hosts, deployed one host at a time (the default batch size)
    run = lab.playbook("deploy", base)
    assert run.rc == 0, run.failure_messages()
    assert {get(h, "roll.test") for h in (first, second)} == {(200, "version 1.0.0")}

    # When v2 is deployed one host at a time and the first host fails its health check
    # (a health command that fails on that host only)
    check = f'test "$(hostname)" != {first.name} && curl -fsS http://127.0.0.1:$PORT/health'
    run = lab.playbook(
        "deploy",
        shop_vars(zips, "2.0.0")
        | base
        | {
            "app_deploy_zip": str(zips["2.0.0"]),
            "app_deploy_version": "2.0.0",
            "app_deploy_release_id": release("2.0.0"),
            "app_deploy_health_command": ["sh", "-c", check],
        },
    )
    # Then the run stopped after the first batch: the first host failed and still serves
    # v1, and the second host was never touched (one host at a time)
    assert run.rc != 0
    assert run.stats["deploy"][first.name]["status"] == "failed"
    assert second.name not in run.stats["deploy"]
    assert get(first, "roll.test") == (200, "version 1.0.0")
    assert get(second, "roll.test") == (200, "version 1.0.0")


def test_blue_green_switches_only_when_every_host_is_ready(lab: Lab, zips: dict[str, Path]) -> None:
    if len(lab.hosts) < 2:
        pytest.fail("needs PBD_TEST_HOSTS >= 2", pytrace=False)
    first, second = lab.hosts[0], lab.hosts[1]
    base = shop_vars(zips, "1.0.0") | {
        "app_deploy_name": "fleet",
        "app_deploy_root": "/srv/apps/fleet",
        "app_deploy_service_name": "fleet",
        "app_deploy_ports": [8101, 8102],
        "app_deploy_domain": "fleet.test",
        "app_deploy_strategy": "blue-green",
    }
    # Given v1 deployed blue-green on both hosts
    run = lab.playbook("deploy", base)
    assert run.rc == 0, run.failure_messages()
    assert {run.stats["deploy"][h.name]["status"] for h in (first, second)} == {"deployed"}
    assert {get(h, "fleet.test") for h in (first, second)} == {(200, "version 1.0.0")}

    # When v2 is deployed and the second host's new slot is not healthy
    check = f'test "$(hostname)" != {second.name} && curl -fsS http://127.0.0.1:$PORT/health'
    v2 = base | {
        "app_deploy_zip": str(zips["2.0.0"]),
        "app_deploy_version": "2.0.0",
        "app_deploy_release_id": release("2.0.0"),
    }
    run = lab.playbook("deploy", v2 | {"app_deploy_health_command": ["sh", "-c", check]})
    # Then no host switched: both still serve v1; the healthy host stopped its prepared slot
    assert run.rc != 0
    assert run.stats["deploy"][first.name]["status"] == "aborted"
    assert run.stats["deploy"][second.name]["status"] == "failed"
    assert {get(h, "fleet.test") for h in (first, second)} == {(200, "version 1.0.0")}
    assert lab.ssh(first, "systemctl is-active fleet-green.service || true") == "inactive"

    # When v2 is deployed with both hosts healthy, then both switch to it
    poller = Poller(first, "fleet.test")
    poller.start()
    try:
        run = lab.playbook("deploy", v2)
    finally:
        poller.stop()
    lab.timings["blue-green v2 on 2 hosts"] = run.seconds
    assert run.rc == 0, run.failure_messages()
    assert poller.failures == []
    assert {run.stats["deploy"][h.name]["status"] for h in (first, second)} == {"deployed"}
    assert {get(h, "fleet.test") for h in (first, second)} == {(200, "version 2.0.0")}

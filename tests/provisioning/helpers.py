"""Helpers of the provisioning tests: SSH from outside, API tasks, playbooks run by hand."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

from service.config import Settings
from tests.tasks.helpers import wait_for_task

VENV_BIN = Path(sys.executable).parent


def ssh(
    target_hosts, host, user, *command, extra=(), timeout=30
) -> subprocess.CompletedProcess[str]:
    argv = ["ssh", "-i", str(target_hosts.private_key), *target_hosts.ssh_options(), *extra,
            "-l", user, host.ip, *command]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def root_run(target_hosts, host, *command) -> str:
    """Run a command (argv, quoted for the remote shell) on the host as root, its stdout."""
    result = ssh(target_hosts, host, "root", shlex.join(command))
    assert result.returncode == 0, result.stderr
    return result.stdout


async def finished(api, path: str, *, json=None, timeout=600) -> dict:
    reply = await api.post(path, json=json) if json is not None else await api.post(path)
    assert reply.status == 202, reply.body
    return await wait_for_task(api, reply.body["task"]["id"], timeout=timeout)


async def finished_ok(api, path: str, *, json=None, timeout=600) -> dict:
    done = await finished(api, path, json=json, timeout=timeout)
    assert done["status"] == "successful", done
    return done


async def audit(api, server_id: int) -> dict:
    await finished_ok(api, f"/api/v1/servers/{server_id}/security/audit")
    reply = await api.get(f"/api/v1/servers/{server_id}/security/audit")
    assert reply.status == 200, reply.body
    return reply.body["report"]


def by_hand(
    settings: Settings, server_id: int, playbook: str, extravars: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """What the README's "Running the playbooks by hand" shows: the shipped content's path,
    export, then ansible-playbook (from some other directory)."""
    path = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    shipped = subprocess.run(
        [sys.executable, "-m", "service", "playbooks", "path"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    env = {**os.environ, "PATH": path, "ANSIBLE_CONFIG": f"{shipped}/ansible.cfg"}
    inventory = tmp_path / f"inventory-{server_id}.yml"
    export = [sys.executable, "-m", "service", "inventory", "export", "--server", str(server_id)]
    export += ["--data-dir", str(settings.data_dir), "--output", str(inventory)]
    exported = subprocess.run(export, env=env, capture_output=True, text=True, check=False)
    assert exported.returncode == 0, exported.stderr
    playbook_run = ["ansible-playbook", "-i", str(inventory), f"{shipped}/playbooks/{playbook}"]
    return subprocess.run(
        [*playbook_run, "-e", extravars],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

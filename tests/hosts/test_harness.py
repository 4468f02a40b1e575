"""Checks that the target hosts behave like the fresh servers the service provisions."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.hosts import ROOT_PASSWORD, TargetHost, TargetHosts
from tests.hosts.base import detect_mirror
from tests.hosts.machine import cgroup_roots, mounted_overlays
from tests.hosts.network import existing_netns
from tests.hosts.proxy import PROXY_DIR
from tests.hosts.system import CGROUP_DIR, PROXY_URL, REPO_ROOT, STATE_DIR, host_name, run

pytestmark = pytest.mark.hosts


def ssh(
    harness: TargetHosts, host: TargetHost, *cmd: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run argv `cmd` on the host (quoted: ssh hands the remote shell one string)."""
    return subprocess.run(
        [*harness.ssh_args(host), shlex.join(cmd)], capture_output=True, text=True, timeout=timeout
    )


def ok(harness: TargetHosts, host: TargetHost, *cmd: str, timeout: float = 60) -> str:
    proc = ssh(harness, host, *cmd, timeout=timeout)
    assert proc.returncode == 0, f"{host.name}: {cmd} -> rc {proc.returncode}: {proc.stderr}"
    return proc.stdout.strip()


def test_ssh_key_auth_with_strict_host_key_checking(
    target_hosts: TargetHosts, running_hosts: list[TargetHost], tmp_path: Path
) -> None:
    assert len(running_hosts) == int(os.environ.get("PBD_TEST_HOSTS", "3"))
    for host in running_hosts:
        assert ok(target_hosts, host, "id", "-un") == "root"
    # Strict checking is really on: without the host's key in known_hosts, ssh refuses.
    empty = tmp_path / "known_hosts"
    empty.touch()
    argv = [
        f"UserKnownHostsFile={empty}" if a.startswith("UserKnownHostsFile=") else a
        for a in target_hosts.ssh_args(running_hosts[0])
    ]
    proc = subprocess.run([*argv, "true"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 255
    assert "Host key verification failed" in proc.stderr


def test_systemd_is_pid_1(target_hosts: TargetHosts, running_hosts: list[TargetHost]) -> None:
    for host in running_hosts:
        assert ok(target_hosts, host, "cat", "/proc/1/comm") == "systemd"
        state = ssh(target_hosts, host, "systemctl", "is-system-running").stdout.strip()
        assert state in ("running", "degraded")


def test_each_host_has_its_own_identity(
    target_hosts: TargetHosts, running_hosts: list[TargetHost]
) -> None:
    machine_ids = set()
    for host in running_hosts:
        assert ok(target_hosts, host, "hostname") == host.name
        assert f"inet {host.ip}/24" in ok(target_hosts, host, "ip", "-4", "-o", "addr", "show")
        machine_ids.add(ok(target_hosts, host, "cat", "/etc/machine-id"))
    assert len(machine_ids) == len(running_hosts)


def test_filesystems_are_separate(
    target_hosts: TargetHosts, running_hosts: list[TargetHost]
) -> None:
    if len(running_hosts) < 2:
        pytest.fail("needs at least 2 hosts (PBD_TEST_HOSTS)")
    marker = f"/root/marker-{uuid.uuid4().hex}"
    first, *others = running_hosts
    ok(target_hosts, first, "touch", marker)
    ok(target_hosts, first, "test", "-e", marker)
    for host in others:
        assert ssh(target_hosts, host, "test", "-e", marker).returncode == 1


def test_apt_update_goes_through_the_proxy(
    target_hosts: TargetHosts, running_hosts: list[TargetHost]
) -> None:
    host = running_hosts[0]
    config = ok(target_hosts, host, "apt-config", "dump")
    assert f'Acquire::http::Proxy "{PROXY_URL}";' in config
    assert 'Acquire::http::Pipeline-Depth "0";' in config
    ok(target_hosts, host, "apt-get", "update", timeout=240)
    # apt-cacher-ng logs each file it served, by client and remapped repository.
    served = (PROXY_DIR / "log" / "apt-cacher.log").read_text()
    assert f"|{host.ip}|debrep/dists/bookworm/InRelease" in served


def test_hosts_reach_each_other_and_the_proxy_but_nothing_else(
    target_hosts: TargetHosts, running_hosts: list[TargetHost]
) -> None:
    first, *others = running_hosts
    for peer in others:
        probe = f"head -c 7 </dev/tcp/{peer.ip}/22"
        banner = ok(target_hosts, first, "timeout", "5", "bash", "-c", probe)
        assert banner == "SSH-2.0"
    proxy = ok(target_hosts, first, "curl", "-sS", "-m", "5", "-o", "/dev/null", "-w",
               "%{http_code}", f"{PROXY_URL}/")  # fmt: skip
    assert proxy.isdigit()
    # The mirror answers the machine itself, never a target going around the proxy.
    outside = socket.gethostbyname(urlsplit(detect_mirror().main).hostname or "")
    started = time.monotonic()
    direct = ssh(target_hosts, first, "curl", "-sS", "--noproxy", "*", "-m", "10",
                 f"http://{outside}/")  # fmt: skip
    assert direct.returncode != 0, direct.stdout
    assert time.monotonic() - started < 9, "blocked traffic should fail fast, not time out"
    assert ssh(target_hosts, first, "getent", "hosts", "deb.debian.org").returncode != 0


def test_root_can_log_in_with_the_test_password(
    target_hosts: TargetHosts, running_hosts: list[TargetHost], tmp_path: Path
) -> None:
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{ROOT_PASSWORD}'\n")
    askpass.chmod(0o700)
    host = running_hosts[0]
    env = os.environ | {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    argv = [
        "ssh", "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no",
        "-o", f"UserKnownHostsFile={target_hosts.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "ConnectTimeout=5", "-o", "NumberOfPasswordPrompts=1",
        f"root@{host.ip}", "echo", "password-ok",
    ]  # fmt: skip
    proc = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=30, stdin=subprocess.DEVNULL
    )
    assert proc.stdout.strip() == "password-ok", proc.stderr


def test_ansible_ping(target_hosts: TargetHosts, running_hosts: list[TargetHost]) -> None:
    venv_bin = Path(sys.executable).parent
    env = os.environ | {"PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [venv_bin / "ansible", "-i", target_hosts.inventory_path, "targets", "-m", "ping"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in running_hosts:
        assert f"{host.name} | SUCCESS" in proc.stdout


@pytest.mark.parametrize("kill", [False, True], ids=["poweroff", "crash"])
def test_a_stopped_host_is_down_and_comes_back_with_its_disk(
    target_hosts: TargetHosts, running_hosts: list[TargetHost], kill: bool
) -> None:
    host = running_hosts[-1]
    marker = f"/root/kept-{uuid.uuid4().hex}"
    ok(target_hosts, host, "sh", "-c", f"echo kept > {marker} && sync")
    target_hosts.stop_host(host, kill=kill)
    assert not target_hosts.is_running(host)
    assert ssh(target_hosts, host, "true", timeout=30).returncode == 255
    target_hosts.start_host(host)
    assert ok(target_hosts, host, "cat", marker) == "kept"
    assert ok(target_hosts, host, "hostname") == host.name


def test_restart_host_reboots_it(
    target_hosts: TargetHosts, running_hosts: list[TargetHost]
) -> None:
    host = running_hosts[0]
    ok(target_hosts, host, "touch", "/run/this-boot")  # /run is a fresh tmpfs on each boot
    target_hosts.restart_host(host)
    assert ssh(target_hosts, host, "test", "-e", "/run/this-boot").returncode == 1
    assert ok(target_hosts, host, "cat", "/proc/1/comm") == "systemd"


def test_start_clears_leftovers_of_an_earlier_run(
    target_hosts: TargetHosts, running_hosts: list[TargetHost], tmp_path: Path
) -> None:
    """What a killed session leaves (namespaces, mounts, cgroups) must not break the next start."""
    stale = host_name(99)  # this lab's name: another lab running beside us is not touched
    run(["ip", "netns", "add", stale])
    layers = {d: tmp_path / d for d in ("lower", "upper", "work")}
    for d in layers.values():
        d.mkdir()
    merged = tmp_path / "other-checkout" / STATE_DIR.name / "machines" / stale / "merged"
    merged.mkdir(parents=True)
    options = ",".join(f"{k}dir={v}" for k, v in layers.items())
    run(["mount", "-t", "overlay", "overlay", "-o", options, merged])
    for root in cgroup_roots():
        (root / CGROUP_DIR / stale / "payload").mkdir(parents=True)

    hosts = target_hosts.start(len(running_hosts))

    assert stale not in existing_netns()
    assert str(merged) not in mounted_overlays()
    assert not any((root / CGROUP_DIR / stale).exists() for root in cgroup_roots())
    assert [ok(target_hosts, h, "hostname") for h in hosts] == [h.name for h in hosts]

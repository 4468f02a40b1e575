"""Disposable Debian 12 target hosts for integration tests: real systemd, real SSH, real apt.

`TargetHosts().start(3)` boots pbd-t1..pbd-t3 as systemd-nspawn containers on a private
bridge and writes an Ansible inventory, a key pair and a known_hosts file under `.hosts/`.
`stop()` removes everything, also whatever an earlier killed run left behind.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from . import network
from .base import detect_mirror, ensure_base
from .machine import (
    Machine,
    find_nspawn,
    is_nspawn,
    kill_cgroup,
    mounted_overlays,
    mounts_under,
    unmount,
)
from .proxy import proxy_running, start_proxy, stop_proxies
from .system import (
    MAX_HOSTS,
    STATE_DIR,
    HostsError,
    HostsUnavailable,
    ensure_private_dir,
    host_ip,
    host_name,
    log,
    run,
    timed,
)

REQUIRED_TOOLS = (
    "debootstrap",
    "systemd-nspawn",
    "nft",
    "ip",
    "ssh",
    "ssh-keygen",
    "zstd",
    "tar",
    "apt-cacher-ng",
    "mount",
    "umount",
    "chroot",
)
PACKAGES_FILE = Path(".ci/host-packages.txt")


@dataclass
class TargetHost:
    """How to reach one target over SSH."""

    name: str
    ip: str
    port: int = 22
    user: str = "root"


def check_prerequisites() -> None:
    """Raise HostsUnavailable saying what is missing, so CI fails loudly instead of skipping."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (network namespaces, overlay mounts, nspawn)")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        problems.append(f"missing tools: {', '.join(missing)}")
    if problems:
        raise HostsUnavailable(
            "target hosts cannot run on this machine: "
            + "; ".join(problems)
            + f". As root: apt-get install -y $(cat {PACKAGES_FILE})"
        )


class TargetHosts:
    """Starts, stops and describes the target hosts; state lives in `.hosts/`."""

    def __init__(self, boot_timeout: float = 180.0) -> None:
        self.boot_timeout = boot_timeout
        self.hosts: list[TargetHost] = []
        self._pids: dict[str, int] = {}
        self._rootfs: Path | None = None
        self._load_state()

    # -- paths (contract) --------------------------------------------------------------
    @property
    def private_key(self) -> Path:
        return STATE_DIR / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return STATE_DIR / "known_hosts"

    @property
    def inventory_path(self) -> Path:
        return STATE_DIR / "inventory.yml"

    @property
    def state_path(self) -> Path:
        return STATE_DIR / "state.json"

    def ssh_options(self) -> list[str]:
        """ssh -o options: our key only, our known_hosts only, strict checking, no prompts."""
        options = [
            "BatchMode=yes",
            "IdentitiesOnly=yes",
            f"UserKnownHostsFile={self.known_hosts}",
            "GlobalKnownHostsFile=/dev/null",
            "StrictHostKeyChecking=yes",
            "ConnectTimeout=5",
            "LogLevel=ERROR",
        ]
        return [arg for option in options for arg in ("-o", option)]

    def ssh_args(self, host: TargetHost) -> list[str]:
        """Argv for `ssh` to the host; append the remote command."""
        auth = ["-i", str(self.private_key), *self.ssh_options()]
        return ["ssh", *auth, "-p", str(host.port), "-l", host.user, host.ip]

    def host(self, name: str) -> TargetHost:
        """The host called name."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, count: int) -> list[TargetHost]:
        """Boot `count` fresh hosts (replacing any earlier ones) and wait until they are ready."""
        if not 1 <= count <= MAX_HOSTS:
            raise ValueError(f"count must be 1..{MAX_HOSTS}, got {count}")
        check_prerequisites()
        began = time.monotonic()
        self.stop()
        try:
            self._start(count)
        except BaseException:
            log.error("start failed: removing the half-started hosts")
            self.stop()
            raise
        log.info("%d target hosts ready in %.1f s", count, time.monotonic() - began)
        return list(self.hosts)

    def _start(self, count: int) -> None:
        ensure_private_dir(STATE_DIR)
        keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", ""]
        run([*keygen, "-C", "pbd-test-harness", "-f", self.private_key])
        mirror = detect_mirror()
        self._rootfs = ensure_base(mirror)
        with timed("network and apt proxy"):
            network.setup_bridge()
            start_proxy(mirror)
        self.hosts = [TargetHost(host_name(i), host_ip(i)) for i in range(1, count + 1)]
        with timed(f"preparing and launching {count} hosts"):
            for host in self.hosts:
                self._launch(host, fresh=True)
        self._write_files()
        with timed(f"waiting for {count} hosts to finish booting"):
            self._wait_ready(self.hosts)

    def _launch(self, host: TargetHost, *, fresh: bool) -> None:
        """Mount, (personalize), wire up and boot one host."""
        if self._rootfs is None:
            raise HostsError("no base rootfs: start() the hosts first")
        machine = Machine(host.name)
        machine.mount(self._rootfs)
        if fresh:
            peers = {h.name: h.ip for h in self.hosts}
            machine.personalize(host.ip, peers, self.private_key.with_suffix(".pub").read_text())
        network.add_netns(host.name, host.ip)
        self._pids[host.name] = machine.boot(host.name)
        self._save_state()

    def stop(self) -> None:
        """Destroy all hosts, the network and the proxy, including leftovers of earlier runs."""
        with timed("tearing down target hosts"):
            # No orderly poweroff: the disks are deleted anyway, and SIGKILL takes no time.
            kill_cgroup(None)
            for point in mounted_overlays():
                unmount(point)
            network.remove_all()
            stop_proxies()
            if mounts_under(STATE_DIR):
                raise HostsError(f"still mounted under {STATE_DIR}: {mounts_under(STATE_DIR)}")
            shutil.rmtree(STATE_DIR, ignore_errors=True)
            self.hosts, self._pids = [], {}

    def stop_host(self, host: TargetHost, *, kill: bool = False) -> None:
        """Take one host off the network ("host down"): power off, or kill it like a crash.

        Its disk is kept, so `start_host` brings it back like a reboot.
        """
        with timed(f"stopping {host.name}"):
            Machine(host.name).stop(self._pids.pop(host.name, None), kill=kill)
            network.remove_netns(host.name, host.ip)
            self._save_state()

    def start_host(self, host: TargetHost) -> None:
        """Boot a stopped host again on its old disk and wait until it is ready."""
        if self.is_running(host):
            return
        with timed(f"starting {host.name}"):
            self._launch(host, fresh=False)
            self._wait_ready([host])

    def reset_host(self, host: TargetHost) -> None:
        """Replace one host by a fresh one (new disk, new host keys), like a reinstalled VPS.

        For tests that lock a host down: the next test finds a pristine machine again.
        """
        with timed(f"resetting {host.name}"):
            self.stop_host(host, kill=True)
            machine = Machine(host.name)
            machine.unmount()
            shutil.rmtree(machine.dir, ignore_errors=True)
            self._launch(host, fresh=True)
            self._write_files()
            self._wait_ready([host])

    def restart_host(self, host: TargetHost) -> None:
        """Power-cycle one host."""
        self.stop_host(host)
        self.start_host(host)

    def ensure_running(self) -> None:
        """Bring back any host a test stopped, so the next test finds all of them up."""
        for host in self.hosts:
            if not self.is_running(host):
                self.start_host(host)

    def is_running(self, host: TargetHost) -> bool:
        """Whether the host's nspawn process is alive."""
        pid = self._pids.get(host.name)
        return pid is not None and is_nspawn(pid, host.name)

    def status(self) -> dict[str, object]:
        """What runs now, and any leftovers of ours, for the CLI."""
        return {
            "hosts": [
                asdict(h) | {"running": self.is_running(h), "pid": self._pids.get(h.name)}
                for h in self.hosts
            ],
            "proxy_running": proxy_running(),
            "inventory": str(self.inventory_path) if self.inventory_path.exists() else None,
            # Kernel state under our names, whoever made it (an earlier run may have died).
            "found": {
                "netns": network.existing_netns(),
                "overlay_mounts": mounted_overlays(),
                "nspawn_pids": [p for n in network.existing_netns() if (p := find_nspawn(n))],
            },
        }

    # -- readiness ---------------------------------------------------------------------
    def _wait_ready(self, hosts: list[TargetHost]) -> None:
        deadline = time.monotonic() + self.boot_timeout
        with ThreadPoolExecutor(max_workers=max(1, min(len(hosts), 16))) as pool:
            errors = [e for e in pool.map(lambda h: self._wait_one(h, deadline), hosts) if e]
        if errors:
            raise HostsError("target hosts did not become ready:\n" + "\n\n".join(errors))

    def _wait_one(self, host: TargetHost, deadline: float) -> str | None:
        """Poll over SSH until systemd finished booting; return an error text or None."""
        began = time.monotonic()
        machine = Machine(host.name)
        check = [
            *self.ssh_args(host),
            "-o",
            "ConnectTimeout=2",
            "systemctl",
            "is-system-running",
            "--wait",
        ]
        while True:
            if not self.is_running(host):
                return f"{host.name}: nspawn exited during boot; console:\n{machine.console_tail()}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return (
                    f"{host.name}: not ready within {self.boot_timeout} s; "
                    f"console:\n{machine.console_tail()}"
                )
            try:
                proc = subprocess.run(check, capture_output=True, text=True, timeout=remaining)
            except subprocess.TimeoutExpired:
                continue
            if proc.returncode == 255:  # ssh itself failed: sshd not up yet
                time.sleep(0.2)
                continue
            state = proc.stdout.strip()
            if state == "running":
                log.info("%s ready in %.1f s", host.name, time.monotonic() - began)
                return None
            if state == "degraded":
                failed = subprocess.run(
                    [*self.ssh_args(host), "systemctl", "--failed", "--plain", "--no-legend"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                ).stdout.strip()
                log.warning(
                    "%s ready (degraded) in %.1f s; failed units:\n%s",
                    host.name,
                    time.monotonic() - began,
                    failed,
                )
                return None
            return f"{host.name}: system state {state!r} ({proc.stderr.strip()})"

    # -- files -------------------------------------------------------------------------
    def _write_files(self) -> None:
        """known_hosts from the host keys we generated, and the Ansible inventory."""
        lines = []
        for host in self.hosts:
            for key in Machine(host.name).host_keys():
                lines.append(
                    f"{host.ip} {key}\n" if host.port == 22 else f"[{host.ip}]:{host.port} {key}\n"
                )
        self.known_hosts.write_text("".join(lines))
        common = shlex.join(
            [
                "-o",
                f"UserKnownHostsFile={self.known_hosts}",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "IdentitiesOnly=yes",
            ]
        )
        inventory = {
            "all": {
                "children": {
                    "targets": {
                        "hosts": {
                            host.name: {
                                "ansible_host": host.ip,
                                "ansible_port": host.port,
                                "ansible_user": host.user,
                                "ansible_ssh_private_key_file": str(self.private_key),
                                "ansible_ssh_common_args": common,
                                "ansible_python_interpreter": "/usr/bin/python3",
                            }
                            for host in self.hosts
                        }
                    }
                }
            }
        }
        self.inventory_path.write_text(yaml.safe_dump(inventory, sort_keys=False))

    def _save_state(self) -> None:
        state = {
            "hosts": [asdict(h) for h in self.hosts],
            "pids": self._pids,
            "rootfs": str(self._rootfs) if self._rootfs else None,
        }
        self.state_path.write_text(json.dumps(state, indent=2) + "\n")

    def _load_state(self) -> None:
        """Pick up hosts that an earlier process (e.g. `up`) left running."""
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return
        self.hosts = [TargetHost(**h) for h in state.get("hosts", [])]
        self._pids = {name: int(pid) for name, pid in state.get("pids", {}).items()}
        self._rootfs = Path(state["rootfs"]) if state.get("rootfs") else None

"""One target host: an overlay over the base, its own identity, and a booted systemd-nspawn.

Each target's writes land in its private upper directory, so targets never see each
other's files and a stopped target keeps its disk for a restart.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from .system import (
    CGROUP_DIR,
    NAME_PREFIX,
    STATE_DIR,
    HostsError,
    ensure_private_dir,
    exited,
    is_child,
    log,
    pid_cmdline,
    run,
    signal_process,
    spawn,
    wait_exit,
)

MACHINES_DIR = STATE_DIR / "machines"
HOST_KEY_TYPES = ("ed25519", "ecdsa")
# Where an overlay of ours is mounted, in this checkout or in another one (CI uses a fresh clone).
OVERLAY_MOUNT = re.compile(
    rf"/{re.escape(STATE_DIR.name)}/machines/{re.escape(NAME_PREFIX)}\d+/merged$"
)


class Machine:
    """Filesystem, cgroup and process of one target; the network is set up by network.py."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dir = MACHINES_DIR / name
        self.upper = self.dir / "upper"
        self.work = self.dir / "work"
        self.merged = self.dir / "merged"
        self.console_log = self.dir / "console.log"

    def mount(self, lower: Path) -> None:
        """Mount the overlay (the upper dir survives a stop, like a VPS disk)."""
        ensure_private_dir(MACHINES_DIR)
        for d in (self.upper, self.work, self.merged):
            d.mkdir(parents=True, exist_ok=True)
        if str(self.merged) in mounted_overlays():
            return
        options = f"lowerdir={lower},upperdir={self.upper},workdir={self.work}"
        run(["mount", "-t", "overlay", "overlay", "-o", options, self.merged])

    def unmount(self) -> None:
        """Unmount the overlay if mounted; lazily if something still holds it."""
        if str(self.merged) in mounted_overlays():
            unmount(str(self.merged))

    def personalize(self, ip: str, hosts: dict[str, str], authorized_key: str) -> None:
        """Give a fresh target its identity: hostname, machine-id, host keys, root's SSH key."""
        root = self.merged
        (root / "etc/hostname").write_text(f"{self.name}\n")
        (root / "etc/machine-id").write_text(f"{secrets.token_hex(16)}\n")
        peers = "".join(
            f"{peer_ip}\t{peer}\n" for peer, peer_ip in hosts.items() if peer != self.name
        )
        (root / "etc/hosts").write_text(
            f"127.0.0.1\tlocalhost\n{ip}\t{self.name}\n{peers}"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
        )
        for kind in HOST_KEY_TYPES:
            key = root / f"etc/ssh/ssh_host_{kind}_key"
            run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"root@{self.name}", "-f", key])
        ssh_dir = root / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        keys = ssh_dir / "authorized_keys"
        keys.write_text(authorized_key)
        keys.chmod(0o600)

    def host_keys(self) -> list[str]:
        """`type base64` of each SSH host key, for known_hosts."""
        pubs = sorted((self.merged / "etc/ssh").glob("ssh_host_*_key.pub"))
        return [" ".join(p.read_text().split()[:2]) for p in pubs]

    def boot(self, netns: str) -> int:
        """Launch `systemd-nspawn --boot` in the background in its own cgroup; return its pid."""
        cgroups = [root / CGROUP_DIR / self.name for root in cgroup_roots()]
        for cg in cgroups:
            cg.mkdir(parents=True, exist_ok=True)

        def join_cgroups() -> None:
            # Otherwise every nspawn shares our cgroup and they fight over one "payload" child.
            for cg in cgroups:
                (cg / "cgroup.procs").write_text(str(os.getpid()))

        # nspawn keeps /proc/sys read-only unless told; ufw/nft in the target need net.* writable.
        env = os.environ | {"SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"}
        argv = [
            "systemd-nspawn",
            "--boot",
            f"--directory={self.merged}",
            f"--machine={self.name}",
            # No systemd on the host to register with.
            "--register=no",
            "--keep-unit",
            f"--network-namespace-path=/run/netns/{netns}",
            "--capability=CAP_NET_ADMIN",
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
            "--console=passive",
        ]
        self.console_log.write_text("")
        return spawn(argv, self.console_log, env=env, preexec_fn=join_cgroups)

    def console_tail(self, lines: int = 20) -> str:
        """Last lines nspawn and the target's init printed, for error messages."""
        try:
            return "\n".join(self.console_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no console log)"

    def stop(self, pid: int | None, *, kill: bool = False, timeout: float = 20) -> None:
        """Power the target off (SIGTERM to nspawn = orderly shutdown) or kill it like a crash."""
        if pid is not None and is_nspawn(pid, self.name) and not kill:
            signal_process(pid, signal.SIGTERM)
            if not wait_exit(pid, timeout):
                log.warning("%s did not power off within %s s: killing it", self.name, timeout)
        kill_cgroup(self.name)
        if pid is not None:
            exited(pid)
        self.unmount()


def is_nspawn(pid: int, name: str) -> bool:
    """Whether pid is still the nspawn of that target (pids get reused)."""
    if is_child(pid):
        return True
    argv = pid_cmdline(pid)
    return bool(argv) and argv[0].endswith("systemd-nspawn") and f"--machine={name}" in argv


def find_nspawn(name: str) -> int | None:
    """Pid of a running nspawn of that target, found by its cgroup."""
    for pid in cgroup_pids(name):
        if is_nspawn(pid, name):
            return pid
    return None


def cgroup_roots() -> list[Path]:
    """Hierarchies nspawn places itself by: cgroup2 and the v1 name=systemd one (hybrid hosts)."""
    roots = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        sep = fields.index("-")
        fstype, options = fields[sep + 1], fields[sep + 3]
        if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in options.split(",")):
            roots.append(Path(fields[4]))
    return roots


def _cgroup_dirs(name: str | None) -> Iterator[Path]:
    """Our cgroup directories, deepest first (the order rmdir needs)."""
    for root in cgroup_roots():
        top = root / CGROUP_DIR / name if name else root / CGROUP_DIR
        if top.is_dir():
            subdirs = [Path(d) for d, _, _ in os.walk(top)]
            yield from sorted(subdirs, key=lambda p: len(p.parts), reverse=True)


def cgroup_pids(name: str | None, *, payload_only: bool = False) -> set[int]:
    """Processes in a target's cgroups (all targets' if name is None)."""
    pids: set[int] = set()
    for d in _cgroup_dirs(name):
        if payload_only and "payload" not in d.parts:
            continue
        try:
            pids |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
        except OSError:
            continue
    return pids


def _kill_until_gone(name: str | None, deadline: float, *, payload_only: bool) -> bool:
    while pids := cgroup_pids(name, payload_only=payload_only):
        if time.monotonic() > deadline:
            return False
        for pid in pids:
            signal_process(pid, signal.SIGKILL)
        time.sleep(0.1)
        for pid in pids:
            exited(pid)
    return True


def kill_cgroup(name: str | None, timeout: float = 10) -> None:
    """SIGKILL everything in a target's cgroups (or all of ours), then remove the directories.

    The containers go first, so that each nspawn reaps its container's init and exits by
    itself: where PID 1 reaps no orphans (as on these machines), that leaves no zombies.
    """
    deadline = time.monotonic() + timeout
    _kill_until_gone(name, time.monotonic() + 3, payload_only=True)
    nspawns, patience = cgroup_pids(name), time.monotonic() + 3
    while time.monotonic() < patience and not all(exited(p) for p in nspawns):
        time.sleep(0.05)
    if not _kill_until_gone(name, deadline, payload_only=False):
        raise HostsError(f"processes in cgroup {CGROUP_DIR}/{name or ''} won't die")
    for d in _cgroup_dirs(name):
        try:
            d.rmdir()
        except OSError as exc:
            log.warning("cannot remove cgroup %s: %s", d, exc)


def _unescape(path: str) -> str:
    """mountinfo escapes spaces and the like as octal."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def mounted_overlays() -> list[str]:
    """Mount points of overlays of ours, from any checkout, deepest first."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point = _unescape(fields[4])
        if fields[fields.index("-") + 1] == "overlay" and OVERLAY_MOUNT.search(point):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def mounts_under(path: Path) -> list[str]:
    """Anything still mounted below path (deleting such a tree would reach into the mount)."""
    prefix = f"{path}/"
    points = [
        _unescape(line.split()[4]) for line in Path("/proc/self/mountinfo").read_text().splitlines()
    ]
    return [p for p in points if p.startswith(prefix)]


def unmount(point: str) -> None:
    """Unmount, falling back to a lazy unmount when busy."""
    if run(["umount", point], check=False).returncode != 0:
        run(["umount", "--lazy", point])

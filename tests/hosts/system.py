"""Shared plumbing of the target-host harness: fixed names, paths, logging, subprocess calls.

The names are part of the contract with CI and other tests: they must be stable so that a
later run can find (and clean up) what an earlier, killed run left behind.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# A lab is one separate set of hosts (its own names, bridge, subnet 10.213.N.0/24, proxy port
# and state dir), so that two developers or test runs on one machine do not tear down each
# other's hosts. "" is the default lab (10.213.7.0/24); the others are one digit, 1-9 but not 7.
LAB_ENV = "PBD_HOSTS_LAB"
# Every lab, in the order pytest-xdist workers take them: worker gwN runs in the N-th lab
# (gw0 in the default one), or in the N-th of an explicit list such as PBD_HOSTS_LAB=8,9.
LABS = ("", "1", "2", "3", "4", "5", "6", "8", "9")


def pick_lab(environ: Mapping[str, str]) -> str:
    """This process's lab: each xdist worker needs its own, or workers tear down each other's."""
    given = environ.get(LAB_ENV, "")
    labs = given.split(",") if given else list(LABS)
    if given and (not set(labs) <= set(LABS[1:]) or len(set(labs)) < len(labs)):
        raise RuntimeError(
            f"{LAB_ENV} must be one digit from 1 to 9 but not 7, or distinct ones, one per "
            f"xdist worker (8,9); got {given!r}"
        )
    worker = environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker.removeprefix("gw"))
    if index >= len(labs):
        raise RuntimeError(
            f"xdist worker {worker} has no lab of its own: {LAB_ENV}={given} names "
            f"{len(labs)}; give one per worker (e.g. {LAB_ENV}=8,9 for -n 2)"
        )
    return labs[index]


LAB = pick_lab(os.environ)
STATE_DIR = REPO_ROOT / (f".hosts-lab{LAB}" if LAB else ".hosts")
# Per lab: the base's key includes the lab's proxy address, and a build prunes other keys.
CACHE_DIR = REPO_ROOT / ".cache" / (f"hosts-lab{LAB}" if LAB else "hosts")
NAME_PREFIX = f"pbd{LAB}-t"
BRIDGE = f"pbdbr{LAB or 0}"
SUBNET_OCTET = int(LAB) if LAB else 7
BRIDGE_IP = f"10.213.{SUBNET_OCTET}.1"
PREFIX_LEN = 24
SUBNET = f"10.213.{SUBNET_OCTET}.0/{PREFIX_LEN}"
FIRST_HOST_OCTET = 11
MAX_HOSTS = 200
NFT_TABLE = f"pbd_isolation{LAB}"
CGROUP_DIR = f"pbd{LAB}"
PROXY_PORT = 3142 + (int(LAB) if LAB else 0)
PROXY_URL = f"http://{BRIDGE_IP}:{PROXY_PORT}"

log = logging.getLogger("pbd.hosts")

# Background processes started by this Python process, reaped when stopped (no zombies).
_children: dict[int, subprocess.Popen[bytes]] = {}


class HostsError(RuntimeError):
    """A harness step failed; the message names the step and the reason."""


class HostsUnavailable(HostsError):
    """This machine cannot run target hosts at all (not root, tools missing)."""


def host_name(index: int) -> str:
    """Name of the index-th host (1-based): also its netns, machine and cgroup name."""
    return f"{NAME_PREFIX}{index}"


def host_ip(index: int) -> str:
    """Fixed address of the index-th host (1-based) on the private bridge."""
    return f"10.213.{SUBNET_OCTET}.{FIRST_HOST_OCTET + index - 1}"


def run(
    argv: Sequence[str | Path],
    *,
    check: bool = True,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command with captured output; on failure raise with its stderr in the message."""
    args = [str(a) for a in argv]
    try:
        proc = subprocess.run(
            args, input=input, capture_output=True, text=True, env=env, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise HostsError(f"{shlex.join(args)} timed out after {timeout} s") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise HostsError(f"{shlex.join(args)} failed (rc {proc.returncode}): {detail}")
    return proc


@contextmanager
def timed(what: str) -> Iterator[None]:
    """Log how long a step took, so slow CI runs show where the time went."""
    start = time.monotonic()
    log.info("%s ...", what)
    yield
    log.info("%s: done in %.1f s", what, time.monotonic() - start)


def ensure_private_dir(path: Path) -> Path:
    """Create a harness directory that git, ruff and pytest ignore (it holds whole rootfs trees)."""
    path.mkdir(parents=True, exist_ok=True)
    marker = path / ".gitignore"
    if not marker.exists():
        marker.write_text("*\n")
    return path


def pid_cmdline(pid: int) -> list[str]:
    """Argv of a live process, or [] if it is gone (or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def processes() -> Iterator[tuple[int, list[str]]]:
    """All live processes with their argv, for finding leftovers by their command line."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = pid_cmdline(int(entry.name))
            if argv:
                yield int(entry.name), argv


def spawn(
    argv: Sequence[str | Path],
    logfile: Path,
    *,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> int:
    """Start a daemon in its own session, output appended to `logfile`; it may outlive us."""
    with logfile.open("ab") as out:
        proc = subprocess.Popen(
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            preexec_fn=preexec_fn,
        )
    _children[proc.pid] = proc
    return proc.pid


def exited(pid: int) -> bool:
    """Whether a process is gone (a zombie counts as gone); reaps it if it is our child."""
    child = _children.get(pid)
    if child is not None:
        # Not /proc: right after exec a live process briefly shows an empty cmdline.
        if child.poll() is None:
            return False
        del _children[pid]
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def is_child(pid: int) -> bool:
    """Whether pid is a live process this Python process started."""
    return pid in _children and not exited(pid)


def signal_process(pid: int, sig: signal.Signals) -> None:
    """Send a signal, ignoring a process that is already gone."""
    with suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for a process to end; True if it did."""
    deadline = time.monotonic() + timeout
    while not exited(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def terminate(pid: int, *, grace: float) -> None:
    """SIGTERM a process, wait up to `grace` seconds, then SIGKILL it."""
    signal_process(pid, signal.SIGTERM)
    if not wait_exit(pid, grace):
        signal_process(pid, signal.SIGKILL)
        wait_exit(pid, 5)

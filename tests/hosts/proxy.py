"""apt-cacher-ng on the bridge: the targets' only way to Debian's archive.

It also caches .debs inside the repo, so repeated package installs in tests are fast. It
only forwards to this machine's own mirror (ForceManaged), nothing else.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from .base import Mirror
from .system import (
    BRIDGE_IP,
    CACHE_DIR,
    PROXY_PORT,
    STATE_DIR,
    HostsError,
    ensure_private_dir,
    exited,
    is_child,
    log,
    pid_cmdline,
    processes,
    spawn,
    terminate,
)

PROXY_DIR = STATE_DIR / "proxy"
PROXY_CACHE = CACHE_DIR / "apt-cacher-ng"
PID_FILE = PROXY_DIR / "pid"


def _answers(timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on the proxy address."""
    try:
        with socket.create_connection((BRIDGE_IP, PROXY_PORT), timeout=timeout):
            return True
    except OSError:
        return False


def _config(mirror: Mirror) -> str:
    return "\n".join(
        [
            f"CacheDir: {PROXY_CACHE}",
            f"LogDir: {PROXY_DIR / 'log'}",
            "SupportDir: /usr/lib/apt-cacher-ng",
            f"SocketPath: {PROXY_DIR / 'socket'}",
            f"PidFile: {PROXY_DIR / 'acng.pid'}",
            f"BindAddress: {BRIDGE_IP}",
            f"Port: {PROXY_PORT}",
            "ForceManaged: 1",
            "ExThreshold: 4",
            f"Remap-debrep: {Mirror.host_path(mirror.main)} ; {mirror.main}/",
            f"Remap-secdeb: {Mirror.host_path(mirror.security)} ; {mirror.security}/",
            "",
        ]
    )


def _is_ours(argv: list[str]) -> bool:
    """An apt-cacher-ng of this lab, started by this checkout or another one (a CI clone
    cleans up after a developer's session); never another lab's."""
    return (
        bool(argv)
        and Path(argv[0]).name == "apt-cacher-ng"
        and any(arg.endswith(f"/{STATE_DIR.name}/proxy") for arg in argv)
    )


def start_proxy(mirror: Mirror) -> int:
    """Start the proxy on the bridge address (the bridge must exist); return its pid."""
    ensure_private_dir(PROXY_DIR)
    (PROXY_DIR / "log").mkdir(exist_ok=True)
    PROXY_CACHE.mkdir(parents=True, exist_ok=True)
    (PROXY_DIR / "acng.conf").write_text(_config(mirror))
    logfile = PROXY_DIR / "stdout.log"
    pid = spawn(["apt-cacher-ng", "-c", PROXY_DIR, "ForeGround=1"], logfile)
    deadline = time.monotonic() + 15
    while not _answers():
        if exited(pid) or time.monotonic() > deadline:
            terminate(pid, grace=1)
            tail = logfile.read_text(errors="replace")[-1500:]
            raise HostsError(
                f"apt-cacher-ng did not come up on {BRIDGE_IP}:{PROXY_PORT} "
                f"(is another one using the port?); its output:\n{tail}"
            )
        time.sleep(0.1)
    # The proxy may outlive this Python process (`up`): `down` finds it by its pid file.
    PID_FILE.write_text(f"{pid}\n")
    log.info("apt-cacher-ng listening on %s:%s (pid %s)", BRIDGE_IP, PROXY_PORT, pid)
    return pid


def proxy_running() -> bool:
    """Whether our proxy process is alive."""
    try:
        pid = int(PID_FILE.read_text())
    except (OSError, ValueError):
        return False
    return is_child(pid) or _is_ours(pid_cmdline(pid))


def stop_proxies() -> None:
    """Stop every apt-cacher-ng this harness started, including ones from an earlier run."""
    for pid, argv in processes():
        if _is_ours(argv):
            log.info("stopping apt-cacher-ng (pid %s)", pid)
            terminate(pid, grace=5)
    PID_FILE.unlink(missing_ok=True)

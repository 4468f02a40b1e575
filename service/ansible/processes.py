"""Killing a playbook run for real.

ansible-runner SIGKILLs ansible-playbook's process group on cancel, but ansible-core 2.19's
worker forks run in their own sessions and survive it, carrying on with the task on the
hosts. So the whole tree under ansible-playbook is collected from /proc and every member's
process group is killed.

A run is also found without its pid: ansible-playbook's command line names the run's
inventory, and its forks (which never exec) share that command line, so they stay findable
even after ansible-playbook died and they were re-parented.
"""

import os
import signal
from contextlib import suppress
from pathlib import Path

PROC = Path("/proc")


def _pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def _parent_map() -> dict[int, int]:
    parents: dict[int, int] = {}
    for pid in _pids():
        entry = PROC / str(pid)
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (2nd field) is in parentheses and may contain spaces.
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[pid] = int(fields[1])
    return parents


def _trees(roots: list[int]) -> list[int]:
    """`roots` and every process below them, found through parent links in /proc."""
    children: dict[int, list[int]] = {}
    for child, parent in _parent_map().items():
        children.setdefault(parent, []).append(child)
    found: dict[int, None] = {}
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid not in found:
            found[pid] = None
            stack.extend(children.get(pid, []))
    return list(found)


def command_line(pid: int) -> str:
    try:
        return (
            (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def playbook_processes(marker: str) -> list[int]:
    """ansible-playbook processes, and their forks, whose command line contains `marker`."""
    return [
        pid
        for pid in _pids()
        if marker in (line := command_line(pid)) and "ansible-playbook" in line
    ]


def kill_tree(pid: int) -> list[int]:
    """SIGKILL `pid`, all its descendants and their process groups; return what was hit."""
    return _kill(_trees([pid]))


def kill_runs(marker: str) -> list[int]:
    """SIGKILL every ansible-playbook process naming `marker`, with their trees."""
    return _kill(_trees(playbook_processes(marker)))


def _kill(targets: list[int]) -> list[int]:
    own_group = os.getpgrp()
    for target in targets:
        with suppress(ProcessLookupError, PermissionError):
            group = os.getpgid(target)
            if group != own_group:
                os.killpg(group, signal.SIGKILL)
        with suppress(ProcessLookupError, PermissionError):
            os.kill(target, signal.SIGKILL)
    return targets

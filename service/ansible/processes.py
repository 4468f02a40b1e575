"""Killing a playbook run for real.

ansible-runner SIGKILLs ansible-playbook's process group on cancel, but ansible-core 2.19's
worker forks run in their own sessions and survive it, carrying on with the task on the
hosts. So the whole tree under ansible-playbook is collected from /proc and every member's
process group is killed.
"""

import os
import signal
from contextlib import suppress
from pathlib import Path

PROC = Path("/proc")


def _parent_map() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (2nd field) is in parentheses and may contain spaces.
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, found through parent links in /proc."""
    children: dict[int, list[int]] = {}
    for child, parent in _parent_map().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return (
            (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def kill_tree(pid: int) -> list[int]:
    """SIGKILL `pid`, all its descendants and their process groups; return what was hit."""
    own_group = os.getpgrp()
    targets = [pid, *descendants(pid)]
    for target in targets:
        with suppress(ProcessLookupError, PermissionError):
            group = os.getpgid(target)
            if group != own_group:
                os.killpg(group, signal.SIGKILL)
        with suppress(ProcessLookupError, PermissionError):
            os.kill(target, signal.SIGKILL)
    return targets


def alive(pid: int) -> bool:
    try:
        state = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[0] != "Z"

"""Killing a run whose pid is not known: found by its command line, forks included.

A stand-in `ansible-playbook` (a script of that name) behaves like the real one where it
matters: it runs in its own session, as pexpect starts it, and forks a worker that calls
setsid, as ansible-core 2.19's workers do, so killing the main process group misses it.
"""

import asyncio
import subprocess
import sys
import time

from service.ansible import processes
from service.ansible.runner import RunControl

FAKE_PLAYBOOK = """\
import os, time
if os.fork() == 0:
    os.setsid()
time.sleep(600)
"""


def start_fake_run(tmp_path) -> tuple[subprocess.Popen, str]:
    """A fake ansible-playbook and its forked worker; the marker is its inventory path."""
    script = tmp_path / "ansible-playbook"
    script.write_text(FAKE_PLAYBOOK)
    marker = str(tmp_path / "run" / "inventory" / "hosts.yml")
    main = subprocess.Popen([sys.executable, str(script), "-i", marker], start_new_session=True)
    return main, marker


async def wait_for_count(marker: str, count: int, timeout: float = 30) -> list[int]:
    """Wait until exactly `count` processes of the run are left; return them."""
    deadline = time.monotonic() + timeout
    while len(found := processes.playbook_processes(marker)) != count:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    return found


async def test_a_cancel_before_the_first_event_kills_the_run_and_its_forks(tmp_path):
    main, marker = start_fake_run(tmp_path)
    try:
        assert len(await wait_for_count(marker, 2)) == 2, "main process and its worker"
        control = RunControl()
        control.marker = marker
        control.cancel()

        assert control.pid is None
        assert control.poll_cancel() is True

        assert await wait_for_count(marker, 0) == []
        assert main.wait(timeout=30) == -9
    finally:
        processes.kill_runs(marker)
        main.kill()


async def test_forks_left_by_a_dead_playbook_are_still_killed(tmp_path):
    """ansible-runner kills only the main process group (on timeout, say): the re-parented
    worker is found by its command line, as the run's final kill does."""
    main, marker = start_fake_run(tmp_path)
    try:
        assert len(await wait_for_count(marker, 2)) == 2
        main.kill()
        main.wait(timeout=30)
        assert len(await wait_for_count(marker, 1)) == 1, "the worker outlives it"
        control = RunControl()
        control.marker = marker

        control.kill()

        assert await wait_for_count(marker, 0) == []
    finally:
        processes.kill_runs(marker)

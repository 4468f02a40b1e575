"""Following a task over the WebSocket: replay when joining late, Ctrl-C (cancel or detach),
and resuming after the connection is lost without showing an event twice.

A host whose SSH port is closed is unreachable at once; with a second attempt after a long
backoff its task then waits, queued, for as long as a test needs it to."""

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from tests.client.conftest import Cli, closed_port
from tests.service_process import start_service


@pytest.fixture(scope="module")
def service_env() -> dict[str, str]:
    return {"PBD_UNREACHABLE_ATTEMPTS": "2", "PBD_RETRY_BACKOFF": "600", "PBD_WORKERS": "2"}


def _unreachable_server(cli: Cli, name: str) -> None:
    added = cli("servers", "add", name, "--host", "127.0.0.1", "--port", str(closed_port()))
    assert added.returncode == 0, added.stderr


def _follow_until_retry_waits(cli: Cli, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start a following command and read its lines until the first attempt's unreachable
    result: the task is then queued for its retry."""
    process = subprocess.Popen(
        [sys.executable, "-m", "service", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env=cli.env(), start_new_session=True,
    )  # fmt: skip
    lines = []
    for line in process.stdout:
        lines.append(line)
        if " unreachable: " in line:
            return process, lines
    raise AssertionError(f"no unreachable result: {lines} {process.stderr.read()}")


def test_ctrl_c_with_cancel_on_interrupt_cancels_and_exits_2(cli):
    _unreachable_server(cli, "slow-1")
    process, _ = _follow_until_retry_waits(
        cli, "servers", "test", "slow-1", "--follow", "--cancel-on-interrupt"
    )
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2, out + err
    assert "cancelling task" in err
    assert "(connection_test) cancelled in " in out
    assert "slow-1  ok=" in out and "unreachable=1" in out


def test_ctrl_c_without_a_terminal_detaches_and_the_task_goes_on(cli):
    _unreachable_server(cli, "slow-2")
    process, _ = _follow_until_retry_waits(cli, "servers", "test", "slow-2", "--follow")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2, out + err
    task_id = err.split("task ")[1].split(" ")[0].rstrip(";")
    assert "goes on" in err and cli.json("tasks", "show", task_id)["status"] == "queued"
    assert cli.json("tasks", "cancel", task_id)["cancel_requested"] is True
    watched = cli("tasks", "watch", task_id)
    assert watched.returncode == 2
    assert f"task {task_id} (connection_test) cancelled" in watched.stdout


async def test_a_lost_connection_resumes_after_the_last_event_without_duplicates(
    tmp_path, service_env
):
    service = await start_service(tmp_path / "data", extra_env=service_env)
    port = int(service.base_url.rsplit(":", 1)[1])
    cli = Cli(service.base_url, service.token, tmp_path)
    _unreachable_server(cli, "flaky")
    watcher, lines = await asyncio.to_thread(
        _follow_until_retry_waits, cli, "servers", "test", "flaky", "--follow"
    )
    try:
        await service.stop(signal.SIGKILL)
        service = await start_service(tmp_path / "data", port, extra_env=service_env)
        # the restarted service marks the task interrupted, which the watcher learns only
        # by connecting again
        out, err = await asyncio.to_thread(watcher.communicate, timeout=90)
    finally:
        if watcher.returncode is None:
            os.killpg(watcher.pid, signal.SIGKILL)
        await service.stop()
    text = "".join(lines) + out
    assert watcher.returncode == 2, text + err
    assert "(connection_test) interrupted in " in text
    unreachable = [line for line in text.splitlines() if " unreachable: " in line]
    assert len(unreachable) == 1, text

"""Following a task live over the WebSocket: replay from the start, resume after a lost
connection from the last seq, draw one line per host, then the failures and a summary.

Exit codes: 0 successful, 1 failed, 2 cancelled, timed out, interrupted or detached."""

import asyncio
import signal
import sys
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from service.client.http import Client, ConnectionFailed
from service.client.output import console

FINAL_STATUSES = {"successful", "failed", "cancelled", "timeout", "interrupted"}
EXIT_CODES = {"successful": 0, "failed": 1}
RECONNECT_ATTEMPTS = 8
COUNTERS = ("ok", "changed", "failed", "unreachable")


def exit_code(task: dict[str, Any]) -> int:
    return EXIT_CODES.get(task["status"], 2)


def _elapsed(task: dict[str, Any]) -> str:
    started = task.get("started_at")
    if not started:
        return "0:00:00"
    end = task.get("finished_at")
    stop = datetime.fromisoformat(end) if end else datetime.now(UTC)
    seconds = max(0, int((stop - datetime.fromisoformat(started)).total_seconds()))
    return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"


def host_line(host: str, counts: dict[str, int]) -> str:
    return f"{host}  " + "  ".join(f"{name}={counts.get(name, 0)}" for name in COUNTERS)


class Display(Protocol):
    def on_status(self, task: dict[str, Any]) -> None: ...
    def on_event(self, event: dict[str, Any]) -> None: ...
    def on_progress(self, progress: dict[str, Any]) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def finish(self, task: dict[str, Any]) -> None: ...


class Run:
    """What is known of the task so far: its record, figures and failed results."""

    def __init__(self) -> None:
        self.task: dict[str, Any] = {}
        self.progress: dict[str, Any] = {}
        self.failures: list[str] = []

    def on_status(self, task: dict[str, Any]) -> None:
        self.task = task
        self.progress = task.get("progress") or self.progress

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            result = event.get("result") or {}
            message = result.get("msg") or result.get("stderr") or event.get("stdout") or ""
            self.failures.append(f"{event.get('host')} · {event.get('task')}: {message}".strip())

    def on_progress(self, progress: dict[str, Any]) -> None:
        self.progress = progress

    def summary(self, task: dict[str, Any]) -> list[str]:
        self.on_status(task)
        hosts = self.progress.get("hosts") or {}
        lines = [host_line(host, counts) for host, counts in sorted(hosts.items())]
        lines += [f"FAILED {failure}" for failure in self.failures]
        if task.get("error") and not self.failures:  # a failure's message says it already
            lines.append(f"error: {task['error']}")
        lines.append(f"task {task['id']} ({task['kind']}) {task['status']} in {_elapsed(task)}")
        return lines


class PlainDisplay(Run):
    """Timestamped lines, for logs and pipes: one per status change and host result."""

    def _line(self, text: str) -> None:
        print(f"{datetime.now().astimezone():%H:%M:%S} {text}", flush=True)

    def on_status(self, task: dict[str, Any]) -> None:
        if task.get("status") != self.task.get("status"):
            self._line(f"task {task['id']} ({task['kind']}) {task['status']}")
        super().on_status(task)

    def on_event(self, event: dict[str, Any]) -> None:
        super().on_event(event)
        kind = event.get("event", "")
        if kind.startswith("runner_on_") and kind != "runner_on_start":
            outcome = kind.removeprefix("runner_on_")
            outcome = "changed" if outcome == "ok" and event.get("changed") else outcome
            self._line(f"{event.get('host')}  {outcome}: {event.get('task')}")

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def finish(self, task: dict[str, Any]) -> None:
        for line in self.summary(task):
            self._line(line)


class LiveDisplay(Run):
    """A rich live view: a header with the current task and elapsed time, a line per host."""

    def __init__(self) -> None:
        super().__init__()
        self.live = Live(console=console(), get_renderable=self._render, refresh_per_second=4)
        self.live.start()

    def _render(self) -> Group:
        """The header names the task running now; once the run is over, every bar is full."""
        task, progress = self.task, self.progress
        final = task.get("status") in FINAL_STATUSES
        header = Text.assemble(
            (f"task {task.get('id', '?')} {task.get('kind', '')} ", "bold"),
            (str(task.get("status", "connecting")), "red" if final and exit_code(task) else "cyan"),
            f"  {_elapsed(task) if task else ''}  ",
            ("" if final else progress.get("current_task") or "", "italic"),
        )
        table = Table(box=None, pad_edge=False)
        for column in ("host", "", *COUNTERS):
            table.add_column(column, justify="left" if column in ("host", "") else "right")
        total = progress.get("total_tasks") or max(progress.get("tasks_started") or 1, 1)
        for host, counts in sorted((progress.get("hosts") or {}).items()):
            done = sum(counts.get(name, 0) for name in ("ok", "failed", "skipped", "unreachable"))
            bar = ProgressBar(
                total=max(total, done), completed=max(total, done) if final else done, width=20
            )
            table.add_row(host, bar, *(str(counts.get(name, 0)) for name in COUNTERS))
        return Group(header, table)

    def pause(self) -> None:
        self.live.stop()

    def resume(self) -> None:
        self.live.start()

    def finish(self, task: dict[str, Any]) -> None:
        self.on_status(task)
        self.live.stop()
        out = console()
        for line in self.summary(task)[len(self.progress.get("hosts") or {}) :]:
            out.print(Text(line, style="red" if line.startswith("FAILED") else ""))


def make_display() -> Display:
    return LiveDisplay() if sys.stdout.isatty() else PlainDisplay()


async def _stream(api: Client, task_id: int, display: Display) -> None:
    """Subscribe with replay and feed the display until the task is final; a lost connection
    subscribes again after the last seq seen, so no event is shown twice or missed."""
    last_seq, failures, final = 0, 0, False
    while True:
        try:
            async with api.session.ws_connect(api.api_url("/ws"), heartbeat=30) as ws:
                topic = f"task:{task_id}"
                await ws.send_json({"type": "subscribe", "topic": topic, "after": last_seq})
                replaying = True
                async for frame in ws:
                    if frame.type != aiohttp.WSMsgType.TEXT:
                        continue
                    failures = 0
                    message = frame.json()
                    kind = message.get("type")
                    if kind == "task.status" and message["task"]["id"] == task_id:
                        display.on_status(message["task"])
                        final = message["task"]["status"] in FINAL_STATUSES
                    elif kind == "task.event" and message.get("task_id") == task_id:
                        if message["seq"] > last_seq:
                            last_seq = message["seq"]
                            display.on_event(message["event"])
                    elif kind == "task.progress" and message.get("task_id") == task_id:
                        display.on_progress(message["progress"])
                    elif kind == "replayed":
                        replaying = False
                    elif kind == "error":
                        raise ConnectionFailed(api.url, message.get("message"))
                    if final and not replaying:
                        return
        except (aiohttp.ClientError, TimeoutError) as exc:
            failures += 1
            if failures > RECONNECT_ATTEMPTS:
                raise ConnectionFailed(api.url, exc) from exc
        else:
            failures += 1  # closed by the service (restart, too slow): subscribe again
            if failures > RECONNECT_ATTEMPTS:
                raise ConnectionFailed(api.url, "the WebSocket kept closing")
        await asyncio.sleep(min(0.25 * 2**failures, 5))


async def _ask_to_cancel(task_id: int) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = await asyncio.to_thread(input, f"\nCancel task {task_id}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def follow(api: Client, task_id: int, *, cancel_on_interrupt: bool = False) -> int:
    """Draw the task until it is final and return its exit code. Ctrl-C cancels it (asked,
    or at once with `cancel_on_interrupt`) and goes on until it has stopped, or detaches."""
    display = make_display()
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    streaming = asyncio.create_task(_stream(api, task_id, display))
    try:
        while not streaming.done():
            waiting = asyncio.create_task(interrupted.wait())
            await asyncio.wait({streaming, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if not interrupted.is_set():
                continue
            interrupted.clear()
            display.pause()
            if cancel_on_interrupt or await _ask_to_cancel(task_id):
                await api.post(f"/tasks/{task_id}/cancel")
                print(f"cancelling task {task_id}...", file=sys.stderr, flush=True)
                display.resume()
            else:
                print(
                    f"stopped following; task {task_id} goes on "
                    f"(`pb-deployer tasks watch {task_id}`)",
                    file=sys.stderr,
                )
                return 2
        streaming.result()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        streaming.cancel()
        await asyncio.gather(streaming, return_exceptions=True)
    task = await api.get(f"/tasks/{task_id}")
    display.finish(task)
    return exit_code(task)

"""Running `pb-deployer serve` as a real process, for tests and benchmarks."""

import asyncio
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

PROJECT_DIR = Path(__file__).resolve().parents[1]
TOKEN_RE = re.compile(r"^\s+(pbd_\S+)$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_kib(pid: int, field: str) -> int:
    """A memory figure of a process from /proc (VmRSS, VmHWM, ...), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass
class ServiceProcess:
    process: asyncio.subprocess.Process
    base_url: str
    output: str

    @property
    def token(self) -> str | None:
        match = TOKEN_RE.search(self.output)
        return match.group(1) if match else None

    async def connection_test(self, name: str, host: str, key_path: Path) -> tuple[dict, str]:
        """Register a server reached with `key_path`, run its connection test to the end:
        (the finished task, its events as the API answers them)."""
        api = f"{self.base_url}/api/v1"
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            server = {"name": name, "host": host, "manual_key_path": str(key_path)}
            async with session.post(f"{api}/servers", json=server) as response:
                assert response.status == 201, await response.text()
                server_id = (await response.json())["id"]
            async with session.post(f"{api}/servers/{server_id}/test-connection") as response:
                assert response.status == 202, await response.text()
                task_id = (await response.json())["task"]["id"]
            async with asyncio.timeout(180):
                while True:
                    async with session.get(f"{api}/tasks/{task_id}") as response:
                        task = await response.json()
                    if task["status"] not in ("queued", "running"):
                        break
                    await asyncio.sleep(0.2)
            async with session.get(f"{api}/tasks/{task_id}/events") as response:
                return task, await response.text()

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        async with asyncio.timeout(30):
            return await self.process.wait()


async def start_service(
    data_dir: Path,
    port: int | None = None,
    *,
    extra_env: dict[str, str] | None = None,
    cwd: Path | None = None,
    command: Sequence[str | Path] | None = None,
) -> ServiceProcess:
    """Start the service and wait until /health answers; stdout is kept for the token line.

    `data_dir` may be relative: it is then taken from `cwd`, as a user's shell would.
    `command` is how to call pb-deployer (another installation's console script, say); by
    default this checkout's code, wherever `cwd` is.
    """
    port = port or free_port()
    env = {**os.environ, **(extra_env or {})}
    if command is None:
        command = [sys.executable, "-m", "service"]
        env["PYTHONPATH"] = str(PROJECT_DIR)
    else:
        env.pop("PYTHONPATH", None)  # that installation's own code, not this checkout's
    process = await asyncio.create_subprocess_exec(
        *command, "serve", "--port", str(port), "--data-dir", str(data_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=env, cwd=cwd,
    )  # fmt: skip
    output = ""
    base = f"http://127.0.0.1:{port}"
    async with asyncio.timeout(60):
        while f"127.0.0.1:{port}" not in output:
            line = await process.stdout.readline()
            assert line, f"service exited early:\n{output}"
            output += line.decode()
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"{base}/api/v1/health") as response:
                        if response.status in (200, 503):
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
    return ServiceProcess(process, base, output)


@asynccontextmanager
async def running_service(data_dir: Path, **kwargs: object) -> AsyncIterator[ServiceProcess]:
    service = await start_service(data_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield service
    finally:
        await service.stop()


@contextmanager
def service_in_thread(
    data_dir: Path, **kwargs: object
) -> Iterator[tuple[ServiceProcess, list[str]]]:
    """The service for synchronous tests: its process lives on a loop in a thread of its own,
    so its output keeps being read (a full pipe would block the service) while the test holds
    the main thread. Yields the process and its output lines, growing as they come."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="service-process", daemon=True)
    thread.start()

    async def collect(service: ServiceProcess, output: list[str]) -> None:
        while line := await service.process.stdout.readline():
            output.append(line.decode(errors="replace"))

    def run(work: object) -> object:
        return asyncio.run_coroutine_threadsafe(work, loop).result(timeout=120)  # type: ignore[arg-type]

    try:
        service = run(start_service(data_dir, **kwargs))  # type: ignore[arg-type]
        output = [service.output]
        collecting = asyncio.run_coroutine_threadsafe(collect(service, output), loop)
        try:
            yield service, output
        finally:
            run(service.stop())
            collecting.result(timeout=30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

"""Several real `pb-deployer serve` processes on one PostgreSQL, for the cluster tests."""

import asyncio
import json
import random
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.service_process import ServiceProcess, start_service

FINISHED = {"successful", "failed", "cancelled", "timeout", "interrupted"}


@contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never speaks: an SSH connection test
    to it runs until ssh gives up waiting for the banner (Ansible's 10 s timeout)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@dataclass
class Instance:
    """One service process and an HTTP session with the cluster's admin token. Its output
    is read all along (a full pipe would block the service's logging, and so the service)."""

    process: ServiceProcess
    http: aiohttp.ClientSession
    name: str
    reader: "asyncio.Task[None] | None" = None

    def read_output(self) -> None:
        async def drain() -> None:
            while line := await self.process.process.stdout.readline():
                self.process.output += line.decode(errors="replace")

        self.reader = asyncio.create_task(drain())

    @property
    def port(self) -> int:
        return int(self.process.base_url.rsplit(":", 1)[1])

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        url = f"{self.process.base_url}/api/v1/{path}"
        async with self.http.request(method, url, **kwargs) as response:
            body = await response.json() if response.status != 204 else None
            return response.status, body

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, **kwargs)
        assert status < 300, (method, path, status, body)
        return body

    def ws(self) -> Any:
        return self.http.ws_connect(f"{self.process.base_url}/api/v1/ws")


class Cluster:
    """N instances sharing one database and one data dir (as on one machine)."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.env = env
        self.instances: list[Instance] = []
        self.token = ""

    async def start(self, count: int) -> None:
        """The first instance alone (it migrates and makes the keys), then the others."""
        first = await start_service(self.data_dir, extra_env=self.env)
        self.token = first.token or ""
        assert self.token, first.output
        self.instances.append(await self._wrap(first))
        others = await asyncio.gather(
            *(start_service(self.data_dir, extra_env=self.env) for _ in range(count - 1))
        )
        self.instances.extend([await self._wrap(process) for process in others])

    async def restart(self, index: int) -> Instance:
        """Start instance `index` again on its port: the same name, a new process."""
        old = self.instances[index]
        await old.http.close()
        process = await start_service(self.data_dir, old.port, extra_env=self.env)
        self.instances[index] = await self._wrap(process)
        return self.instances[index]

    async def _wrap(self, process: ServiceProcess) -> Instance:
        http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.token}"})
        instance = Instance(process, http, "")
        instance.read_output()
        health = await instance.ok("GET", "health")
        instance.name = health["components"]["instances"]["this"]
        return instance

    async def stop(self) -> None:
        for instance in self.instances:
            await instance.http.close()
            await instance.process.stop()

    def any(self) -> Instance:
        """A random instance among those whose process is alive."""
        return random.choice([i for i in self.instances if i.process.process.returncode is None])

    def named(self, name: str) -> Instance:
        return next(instance for instance in self.instances if instance.name == name)

    def other_than(self, name: str) -> Instance:
        return next(
            i for i in self.instances if i.name != name and i.process.process.returncode is None
        )

    async def wait_task(
        self, task_id: int, statuses: set[str] = FINISHED, timeout: float = 180
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                task = await self.any().ok("GET", f"tasks/{task_id}")
                if task["status"] in statuses:
                    return task
                await asyncio.sleep(0.1)


@asynccontextmanager
async def cluster(
    data_dir: Path, database_url: str, count: int, **env: str
) -> AsyncIterator[Cluster]:
    settings = {"PBD_DATABASE_URL": database_url, "PBD_UNREACHABLE_ATTEMPTS": "1", **env}
    group = Cluster(data_dir, settings)
    try:
        await group.start(count)
        yield group
    finally:
        await group.stop()


async def next_message(ws: Any, accept: Any, timeout: float = 60) -> dict[str, Any]:
    """The next message on `ws` for which `accept(message)` is true."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads((await ws.receive()).data)
            if accept(message):
                return message

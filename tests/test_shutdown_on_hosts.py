"""SIGTERM (systemctl stop) in the middle of a run: a clean, bounded shutdown."""

import asyncio
import time

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType

from tests.service_process import start_service
from tests.tasks.helpers import ansible_processes

pytestmark = pytest.mark.hosts


async def test_sigterm_kills_the_run_marks_it_interrupted_and_closes_websockets(
    tmp_path, running_hosts, target_hosts
):
    host = running_hosts[0]
    service = await start_service(tmp_path)
    headers = {"Authorization": f"Bearer {service.token}"}
    base = f"{service.base_url}/api/v1"
    async with aiohttp.ClientSession(headers=headers) as session:
        server = {"name": "term", "host": host.ip, "manual_key_path": str(target_hosts.private_key)}
        server_id = (await (await session.post(f"{base}/servers", json=server)).json())["id"]
        accepted = await (await session.post(f"{base}/servers/{server_id}/setup/packages")).json()
        task_id = accepted["task"]["id"]
        ws = await session.ws_connect(f"{base}/ws")
        await ws.send_json({"type": "subscribe", "topic": f"task:{task_id}", "after": 0})
        async with asyncio.timeout(120):
            async for message in ws:  # wait for the run to be under way on the host
                data = message.json()
                if data.get("event", {}).get("event") == "runner_on_start":
                    break
        assert ansible_processes(tmp_path), "the run is under way"

        async def read_until_closed() -> None:
            while (await ws.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED):
                pass

        reader = asyncio.create_task(read_until_closed())  # a client keeps reading
        began = time.monotonic()
        rc = await service.stop()  # SIGTERM
        took = time.monotonic() - began
        async with asyncio.timeout(10):
            await reader
        assert ws.close_code == WSCloseCode.GOING_AWAY
    assert rc == 0 and took < 20, f"exited {rc} after {took:.1f} s"
    assert ansible_processes(tmp_path) == [], "no run outlives the service"

    port = int(service.base_url.rsplit(":", 1)[1])
    restarted = await start_service(tmp_path, port)
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            task = await (await session.get(f"{base}/tasks/{task_id}")).json()
        assert task["status"] == "interrupted", task
        assert task["finished_at"] and "shut down" in task["error"]
    finally:
        await restarted.stop()

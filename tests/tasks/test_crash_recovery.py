"""kill -9 of the service in the middle of a run, then a restart."""

import asyncio
import signal

import aiohttp
import pytest

from tests.service_process import start_service
from tests.tasks.helpers import ansible_processes, no_ansible_left

pytestmark = pytest.mark.hosts


async def test_a_run_cut_by_a_crash_is_interrupted_and_its_processes_killed(
    tmp_path, running_hosts, target_hosts
):
    host = running_hosts[0]
    service = await start_service(tmp_path)
    headers = {"Authorization": f"Bearer {service.token}"}
    base = f"{service.base_url}/api/v1"
    async with aiohttp.ClientSession(headers=headers) as session:
        server = await (
            await session.post(
                f"{base}/servers",
                json={
                    "name": "crash",
                    "host": host.ip,
                    "manual_key_path": str(target_hosts.private_key),
                },
            )
        ).json()
        accepted = await (
            await session.post(f"{base}/servers/{server['id']}/setup/packages")
        ).json()
        task_id = accepted["task"]["id"]
        async with asyncio.timeout(120):
            while True:
                task = await (await session.get(f"{base}/tasks/{task_id}")).json()
                if (
                    task["status"] == "running"
                    and task["last_seq"] >= 3
                    and task["progress"]["tasks_started"] >= 1
                ):
                    break
                await asyncio.sleep(0.2)
    await service.stop(signal.SIGKILL)
    orphans = ansible_processes(tmp_path)
    assert orphans, "ansible-playbook outlives a SIGKILLed parent (it runs in its own session)"

    port = int(service.base_url.rsplit(":", 1)[1])
    restarted = await start_service(tmp_path, port)
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            task = await (await session.get(f"{base}/tasks/{task_id}")).json()
            assert task["status"] == "interrupted", task
            assert "retry" in task["error"]
            events = await (await session.get(f"{base}/tasks/{task_id}/events")).json()
            assert [e["seq"] for e in events["items"]][:3] == [1, 2, 3]
            retry = await session.post(f"{base}/tasks/{task_id}/retry", json={})
            assert retry.status == 202
            new_id = (await retry.json())["task"]["id"]
            cancel = await session.post(f"{base}/tasks/{new_id}/cancel")
            assert cancel.status == 202
        assert await no_ansible_left(tmp_path) == []
    finally:
        await restarted.stop()

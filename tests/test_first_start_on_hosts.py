"""The service as a newcomer starts it: from some directory, with a relative data dir."""

import asyncio

import aiohttp
import pytest

from tests.service_process import running_service

pytestmark = pytest.mark.hosts


async def test_a_relative_data_dir_runs_playbooks_against_a_real_host(
    tmp_path, target_hosts, running_hosts
):
    host = running_hosts[0]
    workdir = tmp_path / "somewhere"
    workdir.mkdir()
    async with running_service("data", cwd=workdir) as service:
        headers = {"Authorization": f"Bearer {service.token}"}
        api = f"{service.base_url}/api/v1"
        async with aiohttp.ClientSession(headers=headers) as session:
            server = {
                "name": "first",
                "host": host.ip,
                "manual_key_path": str(target_hosts.private_key),
            }
            async with session.post(f"{api}/servers", json=server) as response:
                assert response.status == 201, await response.text()
                server_id = (await response.json())["id"]
            async with session.post(f"{api}/servers/{server_id}/test-connection") as response:
                assert response.status == 202
                task_id = (await response.json())["task"]["id"]
            async with asyncio.timeout(180):
                while True:
                    async with session.get(f"{api}/tasks/{task_id}") as response:
                        task = await response.json()
                    if task["status"] not in ("queued", "running"):
                        break
                    await asyncio.sleep(0.2)
            async with session.get(f"{api}/tasks/{task_id}/events") as response:
                events = await response.text()
    assert task["status"] == "successful", task["error"]
    assert f"data:     {workdir / 'data'}" in service.output
    assert "ok: [first]" in events and "\\u001b" not in events, "plain text, no colours"
    assert (workdir / "data" / "pb-deployer.sqlite3").is_file()

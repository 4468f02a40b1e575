"""An app's environment on a real host: secrets reach the app exactly, and nowhere else."""

import asyncio
import json
import logging
import subprocess

import pytest

from tests.deploy.test_deploy_api_on_hosts import deploy, upload
from tests.tasks.helpers import create_server, wait_for_task

pytestmark = pytest.mark.hosts
SECRET = "pbd-known-secret-7f3a"
TRICKY = "it's \"quoted\" \\ $HOME #not-a-comment {{ lookup('pipe', 'id') }}"


def on_host(target_hosts, host, command: str) -> str:
    result = subprocess.run(
        [*target_hosts.ssh_args(host), command], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result.stdout


def app_environment(target_hosts, host, unit: str) -> dict[str, str]:
    """The environment of the unit's running process, as the app sees it."""
    pid = on_host(target_hosts, host, f"systemctl show -P MainPID {unit}").strip()
    raw = on_host(target_hosts, host, f"tr '\\0' '\\n' < /proc/{pid}/environ")
    return dict(line.split("=", 1) for line in raw.splitlines() if "=" in line)


def files_containing(root, needle: bytes) -> list[str]:
    return [
        str(path) for path in root.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    ]  # fmt: skip


async def test_the_environment_reaches_the_slot_and_the_secret_nothing_else(
    api, target_hosts, app_host, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    server = await create_server(api, app_host, target_hosts.private_key, name="app-host")
    setup = await api.post(f"/api/v1/servers/{server['id']}/setup")
    assert (await wait_for_task(api, setup.body["task"]["id"], timeout=600))["status"] == (
        "successful"
    )
    app = {"name": "shop", "server_id": server["id"], "remote_path": "/srv/apps/shop",
           "service_name": "shop"}  # fmt: skip
    shop = (await api.post("/api/v1/apps", json=app)).body
    env_path = f"/api/v1/apps/{shop['id']}/env"
    reply = await api.put(env_path, json={"variables": [
        {"name": "DATABASE_URL", "value": "postgres://db/shop"},
        {"name": "API_KEY", "value": SECRET, "secret": True},
        {"name": "TRICKY", "value": TRICKY, "secret": True},
    ]})  # fmt: skip
    assert reply.status == 200, reply.body

    v1 = await upload(api, shop["id"], "1.0.0", tmp_path)
    first = await deploy(api, shop["id"], v1["id"])
    assert first["deployment"]["status"] == "completed", first
    slot = first["deployment"]["host_results"]["app-host"]["slot"]
    seen = app_environment(target_hosts, app_host, f"shop-{slot}.service")
    assert seen["API_KEY"] == SECRET
    assert seen["TRICKY"] == TRICKY  # quotes, backslashes, $ and braces arrive as written
    assert seen["DATABASE_URL"] == "postgres://db/shop"
    assert seen["PORT"]  # the deploy's own variables are still there
    env_file = f"/etc/pb-deployer/env/shop-{slot}.env"
    assert on_host(target_hosts, app_host, f"stat -c '%U %a' {env_file}").strip() == "root 600"
    assert "/srv/apps/shop" not in env_file

    # A changed secret restarts nothing; the next deploy's slot gets it, the old slot keeps
    # the value it was deployed with (a rollback brings it back).
    await api.patch(env_path, json={"variables": [{"name": "API_KEY", "value": SECRET + "-2"}]})
    assert app_environment(target_hosts, app_host, f"shop-{slot}.service")["API_KEY"] == SECRET
    v2 = await upload(api, shop["id"], "2.0.0", tmp_path)
    second = await deploy(api, shop["id"], v2["id"])
    assert second["deployment"]["status"] == "completed", second
    new_slot = second["deployment"]["host_results"]["app-host"]["slot"]
    assert new_slot != slot
    seen = app_environment(target_hosts, app_host, f"shop-{new_slot}.service")
    assert seen["API_KEY"] == SECRET + "-2"
    old_file = on_host(target_hosts, app_host, f"cat /etc/pb-deployer/env/shop-{slot}.env")
    assert SECRET in old_file and SECRET + "-2" not in old_file

    # Nowhere on the service's side: database (and its WAL), data dir, events, logs, API.
    tasks = (await api.get("/api/v1/tasks?per_page=100")).body["items"]
    answers = [json.dumps((await api.get(env_path)).body), json.dumps(tasks)]
    for task in tasks:
        answers.append((await api.get(f"/api/v1/tasks/{task['id']}/events")).body)
    for deployment in (first, second):
        answers.append(json.dumps(deployment))
    await asyncio.sleep(0.1)
    data_dir = tmp_path / "data"
    for secret in (SECRET, "lookup('pipe'"):
        assert files_containing(data_dir, secret.encode()) == [], secret
        assert all(secret not in str(answer) for answer in answers), secret
        assert secret not in caplog.text, secret

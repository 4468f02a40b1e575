"""`pb-deployer inventory` and `pb-deployer-inventory`, run as an operator and Ansible run them."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import Settings
from service.models import App, Server
from service.storage.db import database

BIN = Path(sys.executable).parent
PAYLOAD = "{{ lookup('pipe','id') }}"


async def _seed(settings: Settings) -> None:
    async with database(settings.database_url):
        web = await Server.create(name="web-1", host="10.0.0.5")
        await Server.create(name="db-1", host=PAYLOAD, security_locked=True, app_username="ops")
        await App.create(name="shop", server=web, remote_path="/srv/apps/shop", service_name="shop")


@pytest.fixture
def data_dir(tmp_path) -> Path:
    directory = tmp_path / "data"
    asyncio.run(_seed(Settings(data_dir=directory)))
    return directory


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
        **extra,
    }


def run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=tmp_path,
        env=env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cli(tmp_path: Path, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(
        tmp_path, sys.executable, "-m", "service", "inventory", *args, "--data-dir", str(data_dir)
    )


def ansible_inventory(tmp_path: Path, source: Path, **extra: str) -> dict:
    result = run(tmp_path, "ansible-inventory", "-i", str(source), "--list", **extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_export_is_an_inventory_ansible_reads_with_the_service_key(tmp_path, data_dir):
    exported = tmp_path / "inventory.yml"
    result = cli(tmp_path, data_dir, "export", "--output", str(exported))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""

    hostvars = ansible_inventory(tmp_path, exported)["_meta"]["hostvars"]
    assert sorted(hostvars) == ["db-1", "web-1"]
    assert hostvars["db-1"]["ansible_host"] == {"__ansible_unsafe": PAYLOAD}
    assert hostvars["db-1"]["ansible_user"] == {"__ansible_unsafe": "ops"}
    assert hostvars["db-1"]["ansible_become"] is True
    key_file = hostvars["web-1"]["ansible_ssh_private_key_file"]["__ansible_unsafe"]
    assert Path(key_file) == (data_dir / "ssh" / "id_ed25519").absolute()
    assert Path(key_file).exists()


def test_export_to_stdout_and_by_server_or_app(tmp_path, data_dir):
    everything = cli(tmp_path, data_dir, "export")
    assert everything.returncode == 0, everything.stderr
    assert '"web-1": !unsafe {' in everything.stdout and '"db-1": !unsafe {' in everything.stdout
    for scope in (["--server", "1"], ["--app", "1"]):
        one = cli(tmp_path, data_dir, "export", *scope)
        assert '"web-1"' in one.stdout and '"db-1"' not in one.stdout
    missing = cli(tmp_path, data_dir, "export", "--app", "9")
    assert missing.returncode == 1 and "App 9 does not exist" in missing.stderr


def test_list_and_host_speak_the_script_protocol(tmp_path, data_dir):
    listed = json.loads(cli(tmp_path, data_dir, "--list").stdout)
    assert listed["all"]["hosts"] == ["web-1", "db-1"]
    assert listed["_meta"]["hostvars"]["db-1"]["ansible_host"] == {"__ansible_unsafe": PAYLOAD}
    host = json.loads(cli(tmp_path, data_dir, "--host", "db-1").stdout)
    assert host == listed["_meta"]["hostvars"]["db-1"]
    assert cli(tmp_path, data_dir, "--host", "nope").returncode == 1
    assert cli(tmp_path, data_dir, "--list", "--server", "1").returncode == 2
    assert cli(tmp_path, data_dir).returncode == 2


def test_console_script_is_an_inventory_source_for_ansible(tmp_path, data_dir):
    script = BIN / "pb-deployer-inventory"
    assert script.exists(), "run `.venv/bin/pip install -e .` to create the console script"
    exported = tmp_path / "inventory.yml"
    assert cli(tmp_path, data_dir, "export", "--output", str(exported)).returncode == 0

    from_script = ansible_inventory(tmp_path, script, PBD_DATA_DIR=str(data_dir))
    from_file = ansible_inventory(tmp_path, exported)
    assert from_script["_meta"]["hostvars"] == from_file["_meta"]["hostvars"]
    assert sorted(from_script["all"]["children"]) == ["ungrouped"]
    assert sorted(from_script["ungrouped"]["hosts"]) == ["db-1", "web-1"]

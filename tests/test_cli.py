"""The `pb-deployer` command, run as a user runs it: a real process, a real SQLite file."""

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from service.cli import main
from tests.service_process import start_service


def run_cli(*args: str, env_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args, "--data-dir", str(env_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_lifecycle(tmp_path):
    assert run_cli("migrate", env_dir=tmp_path).returncode == 0
    created = run_cli("token", "create", "--name", "ci", "--role", "deployer", env_dir=tmp_path)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("pbd_")
    listed = run_cli("token", "list", env_dir=tmp_path)
    assert "ci" in listed.stdout and "deployer" in listed.stdout and secret not in listed.stdout
    unknown = run_cli(
        "token", "create", "--name", "x", "--role", "viewer", "--apps", "web", env_dir=tmp_path
    )
    assert unknown.returncode == 1 and "There is no app 'web'." in unknown.stderr
    expiring = run_cli(
        "token",
        "create",
        "--name",
        "e",
        "--role",
        "viewer",
        "--servers",
        "--expires",
        "2d",
        env_dir=tmp_path,
    )
    assert expiring.returncode == 2  # --servers needs at least one name
    expiring = run_cli(
        "token", "create", "--name", "e", "--role", "viewer", "--expires", "2d", env_dir=tmp_path
    )
    assert expiring.returncode == 0, expiring.stderr
    assert run_cli("token", "revoke", "1", env_dir=tmp_path).returncode == 0
    assert run_cli("token", "revoke", "99", env_dir=tmp_path).returncode == 1
    assert (tmp_path / "pb-deployer.sqlite3").exists()


@pytest.mark.parametrize(
    "command",
    [
        ("token", "list"),
        ("token", "create", "--name", "x", "--role", "viewer"),
        ("inventory", "export"),
    ],
)
def test_commands_other_than_serve_and_migrate_never_create_a_database(tmp_path, command):
    result = run_cli(*command, env_dir=tmp_path / "elsewhere")
    assert result.returncode == 2
    assert f"no database at {tmp_path / 'elsewhere' / 'pb-deployer.sqlite3'}" in result.stderr
    assert "--data-dir" in result.stderr and "PBD_DATA_DIR" in result.stderr
    assert not (tmp_path / "elsewhere").exists(), "neither a database nor a key was created"


def test_a_bad_configuration_file_is_a_clear_error(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("prot = 8080\n")
    result = subprocess.run(
        [sys.executable, "-m", "service", "token", "list", "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown setting 'prot'" in result.stderr and "Traceback" not in result.stderr


def test_migrate_creates_the_schema(tmp_path):
    result = run_cli("migrate", env_dir=tmp_path)
    assert result.returncode == 0 and "up to date" in result.stdout


def test_openapi_to_stdout(capsys):
    assert main(["openapi"]) == 0
    assert "openapi: 3.0.3" in capsys.readouterr().out


def test_playbooks_path_names_the_shipped_content(capsys):
    assert main(["playbooks", "path"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert (path / "ansible.cfg").is_file() and (path / "playbooks" / "setup.yml").is_file()
    assert (path / "roles" / "app_user" / "tasks" / "main.yml").is_file()


def test_version_flag():
    result = subprocess.run(
        [sys.executable, "-m", "service", "--version"], capture_output=True, text=True, check=False
    )
    assert result.stdout.startswith("pb-deployer ")


async def test_serve_end_to_end_and_survives_kill(tmp_path):
    # A bare PATH: ansible-playbook must be found next to the interpreter all the same.
    bare = {"PATH": "/usr/bin:/bin"}
    service = await start_service(tmp_path, extra_env=bare)
    assert service.token, service.output
    headers = {"Authorization": f"Bearer {service.token}"}
    base = f"{service.base_url}/api/v1"
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{base}/health") as response:
            health = await response.json()
        assert response.status == 200, health
        async with session.post(
            f"{base}/servers", json={"name": "web-1", "host": "10.0.0.1"}
        ) as response:
            assert response.status == 201
    await service.stop(signal.SIGKILL)

    port = int(service.base_url.rsplit(":", 1)[1])
    again = await start_service(tmp_path, port, extra_env=bare)
    assert again.token is None, "the admin token is only created on the first start"
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(f"{base}/servers") as response:
                body = await response.json()
        assert [server["name"] for server in body["items"]] == ["web-1"]
    finally:
        assert await again.stop() == 0


async def test_token_never_reaches_the_log(tmp_path):
    service = await start_service(tmp_path)
    secret = service.token
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {secret}"}) as session:
        async with session.get(f"{service.base_url}/api/v1/servers?page=1") as response:
            assert response.status == 200
    await service.stop()
    rest = (await service.process.stdout.read()).decode()
    assert "GET /api/v1/servers 200" in rest
    assert secret not in rest
    assert "pbd_" not in rest


async def test_a_malformed_request_is_logged_as_a_client_error_without_a_traceback(tmp_path):
    service = await start_service(tmp_path)
    host, port = service.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await service.stop()
    log = service.output + (await service.process.stdout.read()).decode()
    assert b" 400 " in status_line
    assert "WARNING aiohttp.server: Error handling request" in log
    assert "Traceback" not in log and "ERROR" not in log


async def test_a_token_revoked_by_the_cli_is_refused_by_the_running_service_at_once(tmp_path):
    """The service takes a verified token on trust for a few seconds (no read per request);
    a revocation by the CLI, another process, must still count from the next request."""
    service = await start_service(tmp_path)
    try:
        headers = {"Authorization": f"Bearer {service.token}"}
        created = await asyncio.to_thread(
            run_cli, "token", "create", "--name", "ci", "--role", "viewer", env_dir=tmp_path
        )
        secret = created.stdout.strip().splitlines()[-1]
        async with aiohttp.ClientSession(base_url=service.base_url) as http:
            ci = {"Authorization": f"Bearer {secret}"}
            async with http.get("/api/v1/servers", headers=ci) as response:
                assert response.status == 200  # now verified, and remembered
            async with http.get("/api/v1/tokens", headers=headers) as response:
                token_id = next(
                    t["id"] for t in (await response.json())["items"] if t["name"] == "ci"
                )
            revoked = await asyncio.to_thread(
                run_cli, "token", "revoke", str(token_id), env_dir=tmp_path
            )
            assert revoked.returncode == 0, revoked.stderr
            async with http.get("/api/v1/servers", headers=ci) as response:
                assert response.status == 401
            async with http.get("/api/v1/servers", headers=headers) as response:
                assert response.status == 200
    finally:
        await service.stop()

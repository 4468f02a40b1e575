"""The `pb-deployer` command, run as a user runs it: a real process, a real SQLite file."""

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from service.cli import main

TOKEN_RE = re.compile(r"^\s+(pbd_\S+)$", re.MULTILINE)


def run_cli(*args: str, env_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args, "--data-dir", str(env_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_lifecycle(tmp_path):
    created = run_cli("token", "create", "--name", "ci", env_dir=tmp_path)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("pbd_")
    listed = run_cli("token", "list", env_dir=tmp_path)
    assert "ci" in listed.stdout and secret not in listed.stdout
    assert run_cli("token", "revoke", "1", env_dir=tmp_path).returncode == 0
    assert run_cli("token", "revoke", "99", env_dir=tmp_path).returncode == 1
    assert (tmp_path / "pb-deployer.sqlite3").exists()


def test_migrate_creates_the_schema(tmp_path):
    result = run_cli("migrate", env_dir=tmp_path)
    assert result.returncode == 0 and "up to date" in result.stdout


def test_openapi_to_stdout(capsys):
    assert main(["openapi"]) == 0
    assert "openapi: 3.0.3" in capsys.readouterr().out


def test_version_flag():
    result = subprocess.run(
        [sys.executable, "-m", "service", "--version"], capture_output=True, text=True, check=False
    )
    assert result.stdout.startswith("pb-deployer ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def start_service(data_dir: Path, port: int) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PATH": "/usr/bin:/bin"},
    )
    output = ""
    async with asyncio.timeout(30):
        while f"127.0.0.1:{port}" not in output:
            line = await process.stdout.readline()
            assert line, f"service exited early:\n{output}"
            output += line.decode()
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/api/v1/health") as response:
                        if response.status in (200, 503):
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
    return process, output


async def test_serve_end_to_end_and_survives_kill(tmp_path):
    port = free_port()
    process, output = await start_service(tmp_path, port)
    match = TOKEN_RE.search(output)
    assert match, output
    headers = {"Authorization": f"Bearer {match.group(1)}"}
    base = f"http://127.0.0.1:{port}/api/v1"
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{base}/health") as response:
            health = await response.json()
        # ansible-playbook is found next to the interpreter even without the venv on PATH.
        assert response.status == 200, health
        async with session.post(
            f"{base}/servers", json={"name": "web-1", "host": "10.0.0.1"}
        ) as response:
            assert response.status == 201
    process.send_signal(signal.SIGKILL)
    await process.wait()

    process, output = await start_service(tmp_path, port)
    assert not TOKEN_RE.search(output), "the admin token is only created on the first start"
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(f"{base}/servers") as response:
                body = await response.json()
        assert [server["name"] for server in body["items"]] == ["web-1"]
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await process.wait() == 0


async def test_token_never_reaches_the_log(tmp_path):
    port = free_port()
    process, output = await start_service(tmp_path, port)
    secret = TOKEN_RE.search(output).group(1)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {secret}"}) as session:
        async with session.get(f"http://127.0.0.1:{port}/api/v1/servers?page=1") as response:
            assert response.status == 200
    process.send_signal(signal.SIGTERM)
    rest = (await process.stdout.read()).decode()
    await process.wait()
    assert "GET /api/v1/servers 200" in rest
    assert secret not in rest and "pbd_" not in rest

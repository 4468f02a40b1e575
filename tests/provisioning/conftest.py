"""Fixtures of the provisioning tests: the service in-process, a host they may lock down and
an ssh-agent."""

import os
import signal
import subprocess

import pytest

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from tests.conftest import Api


@pytest.fixture
def service_settings(data_dir) -> Settings:
    return Settings(data_dir=data_dir, workers=2)


@pytest.fixture
async def api(aiohttp_client, service_settings, running_hosts):
    client = await aiohttp_client(create_app(service_settings))
    return Api(client, (await tokens.issue_token("t")).secret)


@pytest.fixture
def lab_host(target_hosts, running_hosts):
    """The last host, handed back pristine afterwards (it gets locked down and bans us)."""
    host = running_hosts[-1]
    yield host
    target_hosts.reset_host(host)


@pytest.fixture
def ssh_agent(tmp_path, monkeypatch):
    """An ssh-agent of this test, its socket in the service's environment; call it with a
    private key file to load that key."""
    socket = tmp_path / "agent.sock"
    started = subprocess.run(
        ["ssh-agent", "-a", str(socket), "-s"], capture_output=True, text=True, check=True
    )
    pid = int(started.stdout.split("SSH_AGENT_PID=")[1].split(";")[0])
    monkeypatch.setenv("SSH_AUTH_SOCK", str(socket))

    def add(private_key) -> None:
        subprocess.run(["ssh-add", "-q", str(private_key)], check=True, capture_output=True)

    yield add
    os.kill(pid, signal.SIGTERM)

"""Fixtures of the provisioning tests: the service in-process and a host they may lock down."""

import pytest

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from tests.conftest import Api


@pytest.fixture
def service_settings(tmp_path, running_hosts) -> Settings:
    return Settings(data_dir=tmp_path / "data", workers=2)


@pytest.fixture
async def api(aiohttp_client, service_settings):
    client = await aiohttp_client(create_app(service_settings))
    return Api(client, (await tokens.issue_token("t")).secret)


@pytest.fixture
def lab_host(target_hosts, running_hosts):
    """The last host, handed back pristine afterwards (it gets locked down and bans us)."""
    host = running_hosts[-1]
    yield host
    target_hosts.reset_host(host)

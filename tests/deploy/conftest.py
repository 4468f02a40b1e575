"""Fixtures of the deploy tests that drive the API against real hosts."""

import pytest

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from tests.conftest import Api


@pytest.fixture
async def api(aiohttp_client, data_dir, running_hosts):
    settings = Settings(data_dir=data_dir, workers=2)
    client = await aiohttp_client(create_app(settings))
    return Api(client, (await tokens.issue_token("t")).secret)


@pytest.fixture
def app_host(target_hosts, running_hosts):
    """The second host, handed back pristine (it gets nginx, an app user and releases)."""
    host = running_hosts[1]
    yield host
    target_hosts.reset_host(host)

"""Verified tokens are taken on trust for a few seconds, never past a revocation or expiry."""

from datetime import UTC, datetime, timedelta

import pytest

from service.config import DATABASE_FILE
from service.domain import tokens
from service.domain.tokens import VERIFIED_FOR, VerifiedTokens
from service.errors import Unauthorized
from service.models import ApiToken
from service.storage.db import database


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def stored(data_dir):
    async with database(f"sqlite://{data_dir / DATABASE_FILE}"):
        yield


@pytest.fixture
async def issued(stored):
    return await tokens.issue_token("ci")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verified(tmp_path, clock) -> VerifiedTokens:
    return VerifiedTokens(tmp_path / tokens.REVOKED_STAMP, clock)


async def test_a_verified_token_is_not_read_again_until_its_time_is_up(issued, verified, clock):
    assert await tokens.authenticate(issued.secret, verified) is not None
    await ApiToken.filter(id=issued.token.id).update(revoked_at=datetime.now(UTC))  # unstamped
    assert await tokens.authenticate(issued.secret, verified) is not None
    clock.now += VERIFIED_FOR + 0.1
    assert await tokens.authenticate(issued.secret, verified) is None


async def test_a_revocation_counts_at_once(issued, verified, tmp_path):
    assert await tokens.authenticate(issued.secret, verified) is not None
    await tokens.revoke_token(issued.token.id, tmp_path)
    assert await tokens.authenticate(issued.secret, verified) is None


async def test_a_note_from_another_instance_forgets_them(issued, verified):
    assert await tokens.authenticate(issued.secret, verified) is not None
    await ApiToken.filter(id=issued.token.id).update(revoked_at=datetime.now(UTC))
    verified.forget()
    assert await tokens.authenticate(issued.secret, verified) is None


async def test_expiry_is_checked_on_every_use(stored, verified):
    issued = await tokens.issue_token("ci", expires_at=datetime.now(UTC) + timedelta(seconds=1))
    assert await tokens.authenticate(issued.secret, verified) is not None
    entry = verified.get(tokens.hash_secret(issued.secret))
    assert entry is not None
    entry.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(Unauthorized, match="expired"):
        await tokens.authenticate(issued.secret, verified)

"""API tokens: random bearer secrets, stored only as SHA-256 digests.

Tokens carry 256 bits of randomness, so a fast hash is enough (no password stretching);
the visible prefix lets an operator tell tokens apart without the secret.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.errors import NotFound
from service.models import ApiToken

TOKEN_PREFIX = "pbd_"  # noqa: S105 -- a public marker, not a secret
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_token(name: str) -> IssuedToken:
    """Create a token; the returned secret is never retrievable again."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = await ApiToken.create(
        name=name, prefix=secret[: len(TOKEN_PREFIX) + 6], token_hash=hash_secret(secret)
    )
    return IssuedToken(token=token, secret=secret)


async def ensure_admin_token() -> IssuedToken | None:
    """On a database without any token, create the first one (shown once by the caller)."""
    if await ApiToken.exists():
        return None
    return await issue_token("admin")


async def authenticate(secret: str) -> ApiToken | None:
    """The live token matching `secret`, or None. Records use at most once a minute."""
    token = await ApiToken.get_or_none(token_hash=hash_secret(secret), revoked_at=None)
    if token is None:
        return None
    now = datetime.now(UTC)
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        await ApiToken.filter(id=token.id).update(last_used_at=now)
    return token


async def list_tokens() -> list[ApiToken]:
    return await ApiToken.all()


async def revoke_token(token_id: int) -> ApiToken:
    token = await ApiToken.get_or_none(id=token_id)
    if token is None:
        raise NotFound(f"Token {token_id} does not exist.")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        await token.save(update_fields=["revoked_at"])
    return token

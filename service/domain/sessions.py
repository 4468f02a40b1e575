"""Web dashboard sessions: an API token exchanged once for a random cookie secret.

The cookie's secret is stored only as a SHA-256 digest. Its CSRF token is derived from it
(an HMAC), so nothing else is stored and a database copy reveals neither. A login always
makes a new session, whatever cookie the browser sent (no session fixation).
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.domain import tokens
from service.domain.tokens import Principal
from service.errors import Unauthorized
from service.models import WebSession


@dataclass(frozen=True)
class OpenedSession:
    secret: str
    expires_at: datetime
    principal: Principal


def csrf_token(session_secret: str) -> str:
    """The token every state-changing request of this session must carry."""
    return hmac.new(session_secret.encode(), b"csrf", hashlib.sha256).hexdigest()


async def open_session(token_secret: str, lifetime: timedelta) -> OpenedSession:
    """Log in with an API token: a new session that lasts `lifetime`, or less if the token
    expires sooner. An unknown, revoked or expired token raises Unauthorized."""
    who = await tokens.authenticate(token_secret)
    if who is None:
        raise Unauthorized("The token is unknown or revoked.")
    token = await tokens.ApiToken.get(id=who.token_id)
    expires_at = datetime.now(UTC) + lifetime
    if token.expires_at is not None:
        expires_at = min(expires_at, token.expires_at)
    secret = secrets.token_urlsafe(32)
    await WebSession.filter(expires_at__lte=datetime.now(UTC)).delete()  # ended ones go here
    await WebSession.create(
        key_hash=tokens.hash_secret(secret), token_id=token.id, expires_at=expires_at
    )
    return OpenedSession(secret=secret, expires_at=expires_at, principal=who)


async def session_principal(session_secret: str) -> Principal | None:
    """Who the session acts as, or None when it has ended (logged out, expired, or its
    token was revoked or expired)."""
    session = await WebSession.get_or_none(
        key_hash=tokens.hash_secret(session_secret), expires_at__gt=datetime.now(UTC)
    ).select_related("token")
    if session is None or session.token.revoked_at is not None:
        return None
    token = session.token
    if token.expires_at is not None and token.expires_at <= datetime.now(UTC):
        return None
    return Principal.of(token)


async def close_session(session_secret: str) -> None:
    await WebSession.filter(key_hash=tokens.hash_secret(session_secret)).delete()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())

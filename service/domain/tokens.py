"""API tokens: random bearer secrets, stored only as SHA-256 digests, each with a role and an
optional scope.

Tokens carry 256 bits of randomness, so a fast hash is enough (no password stretching);
the visible prefix lets an operator tell tokens apart without the secret.
"""

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.domain.records import require_references
from service.errors import NotFound, Unauthorized
from service.models import ApiToken, App, Role, Server

TOKEN_PREFIX = "pbd_"  # noqa: S105 -- a public marker, not a secret
LAST_USED_RESOLUTION = timedelta(minutes=1)
VERIFIED_FOR = 5.0
"""Seconds a verified token is taken on trust without reading its record again."""
MAX_VERIFIED = 10_000
REVOKED_STAMP = "tokens.revoked"
"""A file in the data directory that grows by a byte at every revocation (VerifiedTokens)."""
DURATION_RE = re.compile(r"^([1-9][0-9]{0,3})([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def expiry(lifetime: str | None, now: datetime | None = None) -> datetime | None:
    """`30d` → the moment 30 days from now; None → never."""
    if lifetime is None:
        return None
    match = DURATION_RE.match(lifetime)
    if match is None:
        raise ValueError(f"not a lifetime such as 30d: {lifetime!r}")
    amount, unit = match.groups()
    return (now or datetime.now(UTC)) + timedelta(**{UNITS[unit]: int(amount)})


@dataclass(frozen=True)
class Actor:
    """Who asked for a task or deployment (its `created_by` and `actor`): a token, or a
    component of the service with a token id of None."""

    token_id: int | None
    name: str


DEPLOY_HOOK = Actor(token_id=None, name="deploy-hook")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, name and role, and what it may see.

    `apps`/`servers` are None for an unscoped token; a scoped token sees exactly the apps and
    servers it lists (either set may be empty), and everything else is as if it did not exist.
    """

    token_id: int
    name: str
    role: Role
    apps: frozenset[int] | None = None
    servers: frozenset[int] | None = None

    @classmethod
    def of(cls, token: ApiToken) -> "Principal":
        scoped = token.scope_apps is not None or token.scope_servers is not None
        return cls(
            token_id=token.id,
            name=token.name,
            role=token.role,
            apps=frozenset(token.scope_apps or ()) if scoped else None,
            servers=frozenset(token.scope_servers or ()) if scoped else None,
        )

    @property
    def actor(self) -> Actor:
        return Actor(token_id=self.token_id, name=self.name)

    @property
    def scoped(self) -> bool:
        return self.apps is not None

    def sees_app(self, app_id: int | None) -> bool:
        return self.apps is None or app_id in self.apps

    def sees_server(self, server_id: int | None) -> bool:
        return self.servers is None or server_id in self.servers


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def _existing_ids(
    model: type[App] | type[Server], field: str, ids: Collection[int]
) -> list[int]:
    await require_references(model, field, ids)
    return sorted(set(ids))


async def issue_token(
    name: str,
    role: Role = Role.ADMIN,
    *,
    apps: Collection[int] | None = None,
    servers: Collection[int] | None = None,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Create a token; the returned secret is never retrievable again.

    Naming apps or servers makes a scoped token: it sees only those.
    """
    scoped = apps is not None or servers is not None
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = await ApiToken.create(
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        token_hash=hash_secret(secret),
        role=role,
        scope_apps=await _existing_ids(App, "apps", apps or ()) if scoped else None,
        scope_servers=await _existing_ids(Server, "servers", servers or ()) if scoped else None,
        expires_at=expires_at,
    )
    return IssuedToken(token=token, secret=secret)


async def named_ids(model: type[App] | type[Server], given: Collection[str]) -> list[int]:
    """Ids for names or ids as an operator types them (`web`, `7`); an unknown one is an error."""
    ids = []
    for item in given:
        record = await model.get_or_none(
            **({"id": int(item)} if item.isdigit() else {"name": item})
        )
        if record is None:
            raise NotFound(f"There is no {model.__name__.lower()} {item!r}.")
        ids.append(record.id)
    return ids


async def ensure_admin_token() -> IssuedToken | None:
    """On a database without any token, create the first one (shown once by the caller)."""
    if await ApiToken.exists():
        return None
    return await issue_token("admin")


@dataclass
class VerifiedToken:
    principal: Principal
    expires_at: datetime | None
    last_used_at: datetime | None
    verified_at: float


class VerifiedTokens:
    """Tokens verified in the last few seconds (VERIFIED_FOR), by hash, so that a request
    costs no database read for its token (the read was a third of a cheap request's time).

    A revocation still counts at once: every revocation, by the API or by
    `pb-deployer token revoke` in another process, grows the stamp file in the data
    directory by a byte, and every lookup compares its size (one `stat`, no query); other
    instances of a PostgreSQL service are told by a `tokens` note (`forget`). Expiry is
    checked on every use.
    """

    def __init__(self, stamp: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.stamp = stamp
        self.clock = clock
        self._entries: dict[str, VerifiedToken] = {}
        self._stamp_seen = self._stamp_size()

    def _stamp_size(self) -> int:
        try:
            return self.stamp.stat().st_size
        except FileNotFoundError:
            return 0

    def get(self, token_hash: str) -> VerifiedToken | None:
        stamp = self._stamp_size()
        if stamp != self._stamp_seen:
            self._stamp_seen = stamp
            self.forget()
        entry = self._entries.get(token_hash)
        if entry is None or self.clock() - entry.verified_at > VERIFIED_FOR:
            return None
        return entry

    def put(self, token_hash: str, token: ApiToken) -> VerifiedToken:
        if len(self._entries) >= MAX_VERIFIED:
            self.forget()  # many distinct tokens at once: start again rather than grow
        entry = VerifiedToken(
            Principal.of(token), token.expires_at, token.last_used_at, self.clock()
        )
        self._entries[token_hash] = entry
        return entry

    def forget(self) -> None:
        self._entries.clear()


def stamp_revocation(data_dir: Path) -> None:
    """Tell a service running on `data_dir` that a token was revoked (see VerifiedTokens)."""
    with (data_dir / REVOKED_STAMP).open("a") as stamp:
        stamp.write("\n")


async def _verify(token_hash: str, verified: VerifiedTokens | None) -> VerifiedToken | None:
    entry = verified.get(token_hash) if verified is not None else None
    if entry is not None:
        return entry
    token = await ApiToken.get_or_none(token_hash=token_hash, revoked_at=None)
    if token is None:
        return None
    if verified is None:
        return VerifiedToken(Principal.of(token), token.expires_at, token.last_used_at, 0.0)
    return verified.put(token_hash, token)


async def authenticate(secret: str, verified: VerifiedTokens | None = None) -> Principal | None:
    """Who holds `secret`, or None for an unknown or revoked token. An expired token is
    refused with its own message. Records use at most once a minute."""
    entry = await _verify(hash_secret(secret), verified)
    if entry is None:
        return None
    now = datetime.now(UTC)
    if entry.expires_at is not None and entry.expires_at <= now:
        raise Unauthorized("The token has expired.")
    if entry.last_used_at is None or now - entry.last_used_at > LAST_USED_RESOLUTION:
        await ApiToken.filter(id=entry.principal.token_id).update(last_used_at=now)
        entry.last_used_at = now
    return entry.principal


async def list_tokens() -> list[ApiToken]:
    return await ApiToken.all()


async def revoke_token(token_id: int, data_dir: Path) -> ApiToken:
    """Revoke the token, and tell a service on `data_dir` that its verified tokens are stale
    (after the change is stored, so that a lookup in between reads the revoked record)."""
    token = await ApiToken.get_or_none(id=token_id)
    if token is None:
        raise NotFound(f"Token {token_id} does not exist.")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        await token.save(update_fields=["revoked_at"])
    stamp_revocation(data_dir)
    return token

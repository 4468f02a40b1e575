"""Incoming deploy hooks: an app's HMAC key, and GitHub-compatible signature checks.

A caller signs the exact bytes of its request body with the app's secret and sends
`X-Hub-Signature-256: sha256=<hex HMAC-SHA256>` (what GitHub sends for a webhook with a
secret). An HMAC cannot be checked against a digest of its key, so the key is stored sealed
(encrypted under the secrets key file); it lives in its own table and is shown once, when it
is set.
"""

import hashlib
import hmac
import secrets

from service.domain.records import get_or_404
from service.errors import NotFound, Unauthorized, ValidationFailed
from service.models import App, DeployHook, Version
from service.storage.secrets import SecretBox

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
REFUSED = "The signature is missing or does not match the body (or the app has no deploy hook)."


def signature(secret: str, body: bytes) -> str:
    """The header value a caller sends: `sha256=` and the hex HMAC-SHA256 of the body."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def set_secret(app_id: int, box: SecretBox) -> tuple[DeployHook, str]:
    """Give the app a new hook secret (replacing any older one, which stops working)."""
    app = await get_or_404(App, app_id)
    secret = secrets.token_hex(32)
    sealed = box.seal(secret)
    hook, made = await DeployHook.get_or_create(app_id=app.id, defaults={"secret": sealed})
    if not made:
        hook.secret = sealed
        await hook.save(update_fields=["secret"])
    return hook, secret


async def remove(app_id: int) -> None:
    app = await get_or_404(App, app_id)
    if not await DeployHook.filter(app_id=app.id).delete():
        raise NotFound(f"App {app.id} has no deploy hook.")


async def verify(app_id: int, body: bytes, header: str | None, box: SecretBox) -> None:
    """Refuse (401) a body whose signature is missing or wrong, compared in constant time.

    An app without a hook (or no such app) gets the same answer, so that the public route
    tells a caller without the secret nothing.
    """
    hook = await DeployHook.get_or_none(app_id=app_id)
    given = (header or "").strip().encode("utf-8", "surrogateescape")
    if hook is None or not hmac.compare_digest(
        signature(box.unseal(hook.secret), body).encode(), given
    ):
        raise Unauthorized(REFUSED)


async def version_id(app_id: int, request: dict) -> int:
    """The version a hook body names: `version_id`, or `version` (its version number)."""
    if "version_id" in request:
        return request["version_id"]
    version = await Version.get_or_none(app_id=app_id, version_number=request["version"])
    if version is None:
        raise ValidationFailed(
            "The request is not valid.",
            details={"version": [f"The app has no version {request['version']}."]},
        )
    return version.id

"""Webhooks: existing filter targets, and a secret the service can sign with."""

import secrets
from typing import Any

from service.domain.records import get_or_404, require_changes, require_reference, save
from service.models import App, Server, Webhook, WebhookEvent
from service.storage.secrets import SecretBox

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix that marks made secrets, not one)


async def create_webhook(data: dict[str, Any], box: SecretBox) -> tuple[Webhook, str | None]:
    """The new webhook, and its secret if the service made it (the admin gave none). The
    secret is stored sealed: the service signs with it, so it cannot keep a digest only."""
    await _require_filters(data)
    generated = None if data.get("secret") else SECRET_PREFIX + secrets.token_urlsafe(32)
    webhook = Webhook(**{**data, "secret": box.seal(data.get("secret") or generated)})
    webhook.events = event_values(data["events"])
    return await save(webhook), generated


async def update_webhook(webhook_id: int, changes: dict[str, Any], box: SecretBox) -> Webhook:
    require_changes(changes)
    webhook = await get_or_404(Webhook, webhook_id)
    await _require_filters(changes)
    webhook.update_from_dict(changes)
    if "secret" in changes:
        webhook.secret = box.seal(changes["secret"])
    if "events" in changes:
        webhook.events = event_values(changes["events"])
    return await save(webhook)


def event_values(events: list[str]) -> list[str]:
    """Each event once, in the order the enum lists them."""
    return [event.value for event in WebhookEvent if event in events]


async def _require_filters(data: dict[str, Any]) -> None:
    if data.get("server_id") is not None:
        await require_reference(Server, "server_id", data["server_id"])
    if data.get("app_id") is not None:
        await require_reference(App, "app_id", data["app_id"])

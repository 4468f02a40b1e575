"""What a delivery says: the event as JSON or as a chat message, and the signature over it."""

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.models import WebhookFormat

SIGNATURE_HEADER = "X-PBD-Signature-256"
TIMESTAMP_HEADER = "X-PBD-Timestamp"
EVENT_HEADER = "X-PBD-Event"
DELIVERY_HEADER = "X-PBD-Delivery"
DISCORD_MAX_CONTENT = 2000


@dataclass(frozen=True)
class Occurrence:
    """One named event about a record, with what webhook filters match it on."""

    event: str
    data: dict[str, Any]
    at: datetime
    server_ids: frozenset[int] = field(default_factory=frozenset)
    app_id: int | None = None


def render(occurrence: Occurrence, format: WebhookFormat) -> str:
    """The exact body to POST (stored with the delivery, so every attempt sends the same)."""
    if format == WebhookFormat.SLACK:
        document: dict[str, Any] = {"text": _slack_escape(summary(occurrence))}
    elif format == WebhookFormat.DISCORD:
        document = {
            "content": summary(occurrence)[:DISCORD_MAX_CONTENT],
            "allowed_mentions": {"parse": []},  # a name such as "@everyone" pings nobody
        }
    else:
        document = {
            "event": occurrence.event,
            "timestamp": occurrence.at.isoformat(),
            "data": occurrence.data,
        }
    # default=str: a notice may carry a datetime or a path; it must not stop the delivery.
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + HMAC-SHA256 of `<timestamp>.<body>`: the timestamp cannot be swapped."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def summary(occurrence: Occurrence) -> str:
    """One line for a chat channel."""
    data = occurrence.data
    task = data.get("task") or {}
    deployment = data.get("deployment") or {}
    if occurrence.event == "task.finished":
        where = f" on server {task['server_id']}" if task.get("server_id") else ""
        error = f": {task['error']}" if task.get("error") else ""
        return f"pb-deployer: task {task['id']} ({task['kind']}){where} {task['status']}{error}"
    if occurrence.event == "deployment.finished":
        return (
            f"pb-deployer: {deployment['kind']} {deployment['id']} of app "
            f"{deployment['app_id']} {deployment['status']}"
        )
    if occurrence.event == "deployment.rolled_back":
        return (
            f"pb-deployer: deployment {deployment['id']} of app {deployment['app_id']} "
            "was rolled back"
        )
    if occurrence.event == "server.locked":
        server = data["server"]
        return f"pb-deployer: server {server['name']} ({server['host']}) is locked down"
    about = [f"server {i}" for i in sorted(occurrence.server_ids)]
    if occurrence.app_id is not None:
        about.append(f"app {occurrence.app_id}")
    message = data.get("message") or data.get("summary")
    return (
        f"pb-deployer: {occurrence.event}"
        + (f" ({', '.join(about)})" if about else "")
        + (f": {message}" if isinstance(message, str) else "")
    )


def _slack_escape(text: str) -> str:
    """Slack reads `<...>` as links and mentions (`<!channel>`); names must stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

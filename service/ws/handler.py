"""GET /api/v1/ws: subscribe to topics and receive typed JSON messages.

Client → server: `{"type": "subscribe", "topic": "task:7", "after": 12}`,
`{"type": "unsubscribe", "topic": "task:7"}`, `{"type": "ping"}`. Topics: `all`, `task:ID`,
`server:ID`, `app:ID`, `deployment:ID`. With `after`, a task subscription first replays the
stored events after that sequence number, then continues live: no gap, no duplicate.

A plain GET (no upgrade) gets 400 `bad_request` in the error format.

Authentication: the `Authorization: Bearer` header, the web dashboard's session cookie (from
one of its pages), or (for other browser clients, which cannot set the header) a first
message `{"type": "auth", "token": "..."}` within 10 seconds.
"""

import asyncio
import json
import re
from contextlib import suppress
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp_apispec import response_schema

from service.api.access import allowed_topics, topic_visible
from service.api.audit_log import record_ws_login
from service.api.auth import SESSION_COOKIE, public, same_origin, session_principal
from service.api.common import operation
from service.domain import tokens
from service.domain.tokens import Principal
from service.errors import BadRequest, Unauthorized
from service.jsontext import dumps_text
from service.keys import ENGINE, HUB, PRINCIPAL
from service.models import Task
from service.tasks.events import stored_batches
from service.ws.hub import Subscriber
from service.ws.publisher import task_status_message

TOPIC_RE = re.compile(r"^(all|(task|server|app|deployment):[1-9][0-9]{0,8})$")
AUTH_TIMEOUT = 10
HEARTBEAT = 30
# No permessage-deflate (browsers offer it): each message is serialised once for every
# subscriber, but deflate runs per connection, and a frame over 5 KiB is compressed in a
# thread of its own; small JSON messages gain little from it.
MAX_MESSAGE = 64 * 1024
MAX_SEQ = 2**31 - 1
MESSAGE_TYPES = (
    "task.status",
    "task.event",
    "task.progress",
    "server.status",
    "service.status",
    "log",
    "audit.drift",
    "app.health",
    "app.down",
    "app.up",
)
"""What a subscription may be narrowed to with `types`."""


async def _authenticate(request: web.Request, ws: web.WebSocketResponse) -> Principal | None:
    """The token from the upgrade's header, the dashboard's session, or a first `auth`
    message within the timeout."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if not secret and SESSION_COOKIE in request.cookies and same_origin(request):
        return await session_principal(request)
    if not (scheme.lower() == "bearer" and secret):
        secret = ""
        with suppress(TimeoutError, ValueError, TypeError):
            first = await ws.receive_json(timeout=AUTH_TIMEOUT)
            if isinstance(first, dict) and first.get("type") == "auth":
                secret = first.get("token")
    if not isinstance(secret, str) or not secret.strip():
        return None
    with suppress(Unauthorized):  # an expired token is closed like an unknown one
        return await tokens.authenticate(secret.strip())
    return None


async def _subscribe(request: web.Request, subscriber: Subscriber, message: dict[str, Any]) -> None:
    topic, after = message.get("topic"), message.get("after")
    if not isinstance(topic, str) or not TOPIC_RE.match(topic):
        subscriber.send(
            {"type": "error", "code": "invalid_topic", "message": f"Unknown topic {topic!r}."}
        )
        return
    if after is not None and (
        not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_SEQ
    ):
        subscriber.send(
            {
                "type": "error",
                "code": "invalid_after",
                "message": "`after` is a sequence number >= 0.",
            }
        )
        return
    types = message.get("types")
    if types is not None and not (
        isinstance(types, list) and types and all(kind in MESSAGE_TYPES for kind in types)
    ):
        subscriber.send(
            {
                "type": "error",
                "code": "invalid_types",
                "message": f"`types` is a list of message types: {', '.join(MESSAGE_TYPES)}.",
            }
        )
        return
    subscriber.follow(topic, frozenset(types) if types is not None else None)
    subscriber.send({"type": "subscribed", "topic": topic})
    if not topic.startswith("task:") or not await topic_visible(request[PRINCIPAL], topic):
        return  # a task outside the scope is as if it did not exist: nothing to replay
    task_id = int(topic.split(":", 1)[1])
    engine = request.config_dict[ENGINE]
    subscriber.begin_replay(topic)
    task = await Task.get_or_none(id=task_id)
    if task is not None:
        subscriber.send(task_status_message(task))
    last, pending = after or 0, []
    if after is not None:
        # The unstored events first: one stored meanwhile is in both (sent once), never in
        # neither; the stored ones stream a batch at a time, paced by the client.
        running = engine.running.get(task_id)
        unstored = running.events.pending_messages() if running else []
        pending = [(seq, dumps_text(body)) for seq, body in unstored]
        async for batch in stored_batches(task_id, after):
            last = await subscriber.replay(batch, last)
    last = subscriber.end_replay(topic, pending, last)
    if after is not None:
        subscriber.send({"type": "replayed", "topic": topic, "last_seq": last})


MESSAGES = """\
Live updates over a WebSocket. Authenticate with the `Authorization: Bearer` header, the web
dashboard's session cookie, or (other browser clients) with a first message
`{"type": "auth", "token": "pbd_..."}` within 10 s; otherwise the socket is closed with code
1008. The server sends a heartbeat ping every 30 s.

**Client → server**
- `{"type": "subscribe", "topic": "task:7", "after": 12}`: topics are `all`, `task:ID`,
  `server:ID`, `app:ID`, `deployment:ID`. With `after` (task topics), the stored events after
  that sequence number come first, then `{"type": "replayed", "topic": "task:7", "last_seq": 40}`,
  then live events: no gap, no duplicate. Every task subscription first gets the task's
  current `task.status` (right after `subscribed`), so a client needs no extra GET.
  `"types": ["task.status", "server.status"]` narrows a subscription to those message types
  (a page of many servers need not hear every log line of every run); subscribing again
  without `types` widens it.
- `{"type": "unsubscribe", "topic": "task:7"}`, `{"type": "ping"}` (→ `{"type": "pong"}`).

**Server → client** (every message is a JSON object with a `type`)
- `hello` on connect; `subscribed` / `unsubscribed` `{"topic"}`; `error` `{"code", "message"}`
  with code `invalid_topic`, `invalid_after`, `invalid_types` or `invalid_message`.
- `task.status`: `{"type": "task.status", "task": {...Task...}}` whenever a task is queued,
  starts, is retried or finishes.
- `task.event`: `{"type": "task.event", "task_id": 7, "seq": 13, "event": {"event":
  "runner_on_ok", "host": "web-1", "task": "Install packages", "task_action":
  "ansible.builtin.apt", "changed": true, "result": {"changed": true}, "duration": 4.2,
  "created": "2026-11-26T10:00:00.123456+00:00"}}`. `event.event` is ansible-runner's event
  name: playbook_on_start, playbook_on_play_start, playbook_on_task_start, runner_on_start,
  runner_on_ok, runner_on_failed, runner_on_skipped, runner_on_unreachable, playbook_on_stats
  (with `stats`). `result` is trimmed (msg, rc, stdout/stderr up to 4 KiB, ...).
- `task.progress`: `{"type": "task.progress", "task_id": 7, "progress": {"tasks_started": 3,
  "total_tasks": null, "current_task": "Install packages", "hosts": {"web-1": {"ok": 2,
  "changed": 1, "failed": 0, "skipped": 0, "unreachable": 0}}}}`.
- `server.status`: `{"type": "server.status", "server": {...Server...}}` after a task changed
  what is known of a server (connection test, setup, lockdown).
- `service.status`: `{"type": "service.status", "server_id": 1, "service_name": "shop.service",
  "status": {"active_state": "active", "sub_state": "running", ...}, "checked_at":
  "2026-11-26T10:00:02.000000+00:00"}` after every service run that saw the unit (a status or
  logs read, a start/stop/restart/...), on `all`, `server:ID` and `task:ID`: the same state
  `GET /services/{server_id}` then lists as the unit's last known one.
- `log`: `{"type": "log", "server_id": 1, "service_name": "shop.service", "time":
  "2026-11-26T10:00:01.000000Z", "priority": 6, "pid": 4242, "message": "started"}`.
- `app.health`: `{"type": "app.health", "app_id": 3, "health_status": "degraded",
  "server_id": 2, "hosts": [{"server_id": 1, "up": true}, {"server_id": 2, "up": false}]}`
  whenever the health checker sees a host of the app go down or come back (`server_id`: that
  host; null when only the app's status was read again), on `all` and `app:ID`.
- `app.down` / `app.up`: `{"type": "app.down", "app_id": 3, "app_name": "shop", "server_id":
  2, "server_name": "web-2", "state": "down", "since": "...", "error": "HTTP 502", "message":
  "..."}` for that host, on `all`, `server:ID` and `app:ID` (webhook events of the same name).

A client that cannot keep up (1000 queued messages) is closed with code 1008 ("too slow")
so that it never slows the others down; reconnect and subscribe with `after` to catch up.
"""


def _unsubscribe(subscriber: Subscriber, topic: object) -> None:
    if not isinstance(topic, str) or not TOPIC_RE.match(topic):
        subscriber.send(
            {"type": "error", "code": "invalid_topic", "message": f"Unknown topic {topic!r}."}
        )
        return
    subscriber.unfollow(topic)
    subscriber.send({"type": "unsubscribed", "topic": topic})


@public
@operation(
    tags=["websocket"],
    summary="Live task, server and service updates",
    description=MESSAGES,
    errors=[BadRequest],
)
@response_schema(None, 101, description="Switching to the WebSocket protocol.")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE, compress=False)
    if not ws.can_prepare(request).ok:
        raise BadRequest(
            "This is a WebSocket endpoint: send a WebSocket upgrade request "
            "(Connection: Upgrade, Upgrade: websocket, Sec-WebSocket-Key/Version)."
        )
    await ws.prepare(request)
    who = await _authenticate(request, ws)
    if who is None:
        await record_ws_login(request, 401)
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"unauthorized")
        return ws
    request[PRINCIPAL] = who
    await record_ws_login(request, 101)
    hub = request.config_dict[HUB]
    subscriber = hub.add(ws, allowed_topics(who))
    sender = asyncio.create_task(subscriber.run_sender())
    subscriber.send(
        {"type": "hello", "topics": ["all", "task:ID", "server:ID", "app:ID", "deployment:ID"]}
    )
    try:
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            try:
                message = json.loads(frame.data)
            except ValueError:
                message = None
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "subscribe":
                await _subscribe(request, subscriber, message)
            elif kind == "unsubscribe":
                _unsubscribe(subscriber, message.get("topic"))
            elif kind == "ping":
                subscriber.send({"type": "pong"})
            else:
                subscriber.send(
                    {
                        "type": "error",
                        "code": "invalid_message",
                        "message": "Send JSON objects of type subscribe, unsubscribe or ping.",
                    }
                )
    finally:
        hub.remove(subscriber)
        sender.cancel()
        with suppress(asyncio.CancelledError):
            await sender
    return ws


def register(app: web.Application) -> None:
    app.router.add_get("/ws", websocket)

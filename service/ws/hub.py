"""Fan-out of live messages to WebSocket subscribers.

Each message is serialised once and offered to every subscriber whose topics match. A
subscriber has a bounded queue drained by its own sender task, so a slow or dead client is
dropped (closed with 1008/"too slow") instead of holding up the others or growing memory.
"""

import asyncio
import logging
from collections.abc import Collection, Iterable
from contextlib import suppress
from typing import Any

from aiohttp import WSCloseCode, web

from service.jsontext import dumps_text

log = logging.getLogger(__name__)

ALL = "all"
DEFAULT_QUEUE_SIZE = 1000
REPLAY_STALL = 30.0


def task_topic(task_id: int) -> str:
    return f"task:{task_id}"


def in_scope(allowed: frozenset[str], topics: Collection[str]) -> bool:
    """Whether a scoped token may hear a message: an app's by its app, any other by its
    servers, every one of them (as the REST rules decide; see service/api/access.py)."""
    apps = [topic for topic in topics if topic.startswith("app:")]
    if apps:
        return not allowed.isdisjoint(apps)
    servers = [topic for topic in topics if topic.startswith("server:")]
    return bool(servers) and allowed.issuperset(servers)


class Subscriber:
    """One WebSocket client: its topics, its outgoing queue and replay buffers."""

    def __init__(
        self, ws: web.WebSocketResponse, queue_size: int, allowed: frozenset[str] | None = None
    ) -> None:
        self.ws = ws
        self.topics: set[str] = set()
        self.only: dict[str, frozenset[str]] = {}
        """Topics subscribed for some message types only (`types` in the subscribe)."""
        self.allowed = allowed
        """For a scoped token: the `server:ID`/`app:ID` topics it may hear; None: all."""
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.dropped = False
        self._replaying: dict[str, list[tuple[int, str]]] = {}
        self._sent_seq: dict[str, int] = {}
        """Per replayed topic, the last event seq sent: a live copy of an event already
        replayed (another instance's events, read from the database) is not sent again."""

    def wants(self, topics: Collection[str], kind: str | None = None) -> bool:
        if self.allowed is not None and not in_scope(self.allowed, topics):
            return False
        if not self.only:
            return ALL in self.topics or not self.topics.isdisjoint(topics)
        return any(
            kind in self.only.get(topic, (kind,))
            for topic in self.topics
            if topic == ALL or topic in topics
        )

    def follow(self, topic: str, types: frozenset[str] | None = None) -> None:
        """Subscribe to `topic`: every message of it, or only those of `types`."""
        self.topics.add(topic)
        if types is None:
            self.only.pop(topic, None)
        else:
            self.only[topic] = types

    def unfollow(self, topic: str) -> None:
        self.topics.discard(topic)
        self.only.pop(topic, None)
        self._sent_seq.pop(topic, None)

    def offer(self, text: str, topics: Collection[str], seq: int | None) -> None:
        """Queue a message, or hold it back while one of its topics is being replayed."""
        for topic in topics:
            buffer = self._replaying.get(topic)
            if buffer is not None:
                buffer.append((seq, text))
                return
        if seq is not None and self._sent_seq:
            for topic in topics:
                last = self._sent_seq.get(topic)
                if last is not None:
                    if seq <= last:
                        return
                    self._sent_seq[topic] = seq
        self.send_text(text)

    def send_text(self, text: str) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self._drop()

    async def send_paced(self, text: str) -> None:
        """Queue `text`, waiting for room: a replay may be longer than the queue. A client
        that takes no message for REPLAY_STALL seconds is dropped like a slow one."""
        if self.dropped:
            return
        try:
            async with asyncio.timeout(REPLAY_STALL):
                await self.queue.put(text)
        except TimeoutError:
            self._drop()

    def _drop(self) -> None:
        self.dropped = True
        log.warning("dropping a WebSocket client that does not keep up")
        asyncio.get_running_loop().create_task(
            self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"too slow")
        )

    def send(self, message: dict[str, Any]) -> None:
        self.send_text(dumps_text(message))

    def begin_replay(self, topic: str) -> None:
        """From now on, hold live messages of `topic` until `end_replay`."""
        self._replaying[topic] = []

    async def replay(self, history: Iterable[tuple[int, str]], last: int) -> int:
        """Send the stored events after seq `last`, paced (see `send_paced`), between
        `begin_replay` and `end_replay`; the seq of the last one sent."""
        for seq, text in history:
            if seq > last:
                await self.send_paced(text)
                last = seq
        return last

    def end_replay(self, topic: str, history: Iterable[tuple[int, str]], after: int) -> int:
        """Send history and held events after seq `after` in order (each seq once), then the
        other held messages in the order they came; go live. Synchronous, so nothing
        published meanwhile can slip in between: the last status a client sees is the latest.
        """
        held = self._replaying.pop(topic, [])
        sequenced = [(seq, text) for seq, text in held if seq is not None]
        last = after
        for seq, text in sorted([*history, *sequenced], key=lambda item: item[0]):
            if seq > last:
                self.send_text(text)
                last = seq
        for seq, text in held:
            if seq is None:
                self.send_text(text)
        self._sent_seq[topic] = last
        return last

    async def run_sender(self) -> None:
        while True:
            text = await self.queue.get()
            if self.ws.closed:
                return
            await self.ws.send_str(text)


class Hub:
    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()

    def add(self, ws: web.WebSocketResponse, allowed: frozenset[str] | None = None) -> Subscriber:
        subscriber = Subscriber(ws, self.queue_size, allowed)
        self.subscribers.add(subscriber)
        return subscriber

    def remove(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def publish(
        self, topics: Collection[str], message: dict[str, Any], seq: int | None = None
    ) -> None:
        """Offer `message` to every subscriber of any of `topics` (serialised once)."""
        text: str | None = None
        kind = message.get("type")
        for subscriber in list(self.subscribers):
            if subscriber.wants(topics, kind):
                text = text or dumps_text(message)
                subscriber.offer(text, topics, seq)

    async def close_all(self) -> None:
        for subscriber in list(self.subscribers):
            with suppress(Exception):
                await subscriber.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        self.subscribers.clear()

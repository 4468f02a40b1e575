"""Notes between instances: small JSON objects over PostgreSQL's LISTEN/NOTIFY.

A note says what happened (`{"t": "wake"}`, `{"t": "cancel", "task": 7}`, `{"t": "events",
"task": 7, "from": 40, "to": 52, ...}`), never carries rows: receivers read those from the
database, so NOTIFY's 8,000-byte payload limit is never near. Notes queued together go out
together, as one JSON list per NOTIFY, in the order they were queued, from one connection:
PostgreSQL delivers them in that order, after the transactions that wrote what they name.
On SQLite (one instance) there is no one to tell, and `LocalBus` drops them.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from tortoise import connections

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "pb_deployer"
MAX_PAYLOAD = 7900
"""Bytes per NOTIFY payload; PostgreSQL refuses 8,000 and more."""
RECONNECT_DELAY = 1.0

Note = dict[str, Any]
Receiver = Callable[[Note], Awaitable[None]]


class Bus(Protocol):
    async def start(self, receive: Receiver) -> None: ...
    async def stop(self) -> None: ...
    def send(self, note: Note) -> None:
        """Queue a note for every other instance; never waits."""


class LocalBus:
    """The only instance: notes have no one to reach."""

    async def start(self, receive: Receiver) -> None:
        """Nothing to listen to."""

    async def stop(self) -> None:
        """Nothing to close."""

    def send(self, note: Note) -> None:
        """No other instance."""


def asyncpg_dsn(database_url: str) -> str:
    """Tortoise's `postgres://` URL as asyncpg takes it: its own query options removed."""
    parts = urlsplit(database_url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


def pack(notes: list[Note]) -> list[str]:
    """`notes` as few payloads as fit (each a JSON list), in order; a note too big for one
    payload on its own is logged and left out."""
    payloads: list[str] = []
    batch: list[str] = []
    size = 2
    for note in notes:
        text = json.dumps(note, separators=(",", ":"))
        if len(text.encode()) + 2 > MAX_PAYLOAD:
            log.warning("a %s note is too big to send to other instances", note.get("t"))
            continue
        if batch and size + len(text.encode()) + 1 > MAX_PAYLOAD:
            payloads.append("[" + ",".join(batch) + "]")
            batch, size = [], 2
        batch.append(text)
        size += len(text.encode()) + 1
    if batch:
        payloads.append("[" + ",".join(batch) + "]")
    return payloads


class PostgresBus:
    """One asyncpg connection of its own (Tortoise's pool hands connections around, and a
    LISTEN lives on one), reconnected when it drops; the notes of this instance are sent on
    it too, by one sender task, so they leave in order."""

    def __init__(self, database_url: str, origin: str) -> None:
        import asyncpg  # the `postgres` extra: only a PostgreSQL service needs it

        self.asyncpg = asyncpg
        self.dsn = asyncpg_dsn(database_url)
        self.origin = origin
        self._outbox: list[Note] = []
        self._ready = asyncio.Event()
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._connection: asyncpg.Connection | None = None
        self._connecting = asyncio.Lock()
        self._sending = asyncio.Lock()
        self.reconnects = 0

    async def start(self, receive: Receiver) -> None:
        self._connection = await self._connect()
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="cluster-bus-sender"),
            asyncio.create_task(self._receive_loop(receive), name="cluster-bus-receiver"),
        ]

    async def stop(self) -> None:
        """Send what is still queued (the last statuses of a shutdown), then close."""
        with suppress(Exception):
            async with asyncio.timeout(5):
                await self._send_queued()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._connection is not None:
            with suppress(Exception):
                await self._connection.close(timeout=5)
            self._connection = None

    def send(self, note: Note) -> None:
        self._outbox.append({**note, "o": self.origin})
        self._ready.set()

    async def _connect(self) -> "asyncpg.Connection":
        connection = await self.asyncpg.connect(self.dsn)
        await connection.add_listener(CHANNEL, self._heard)
        return connection

    def _heard(self, connection: object, pid: int, channel: str, payload: str) -> None:
        self._inbox.put_nowait(payload)

    async def _live_connection(self) -> "asyncpg.Connection":
        """The connection, opened again (after a pause) while it is down."""
        async with self._connecting:
            return await self._reconnect()

    async def _reconnect(self) -> "asyncpg.Connection":
        while self._connection is None or self._connection.is_closed():
            try:
                self._connection = await self._connect()
                self.reconnects += 1
                log.warning("reconnected to PostgreSQL for notes between instances")
                self._inbox.put_nowait(json.dumps([{"t": "reconnected"}]))
            except (OSError, self.asyncpg.PostgresError) as exc:
                log.warning("cannot reach PostgreSQL for notes (%s); retrying", exc)
                await asyncio.sleep(RECONNECT_DELAY)
        return self._connection

    async def _send_loop(self) -> None:
        while True:
            await self._ready.wait()
            await self._send_queued()

    async def _send_queued(self) -> None:
        async with self._sending:
            self._ready.clear()
            notes, self._outbox = self._outbox, []
            for payload in pack(coalesce(notes)):
                while True:
                    connection = await self._live_connection()
                    try:
                        await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
                        break
                    except (
                        OSError,
                        self.asyncpg.PostgresError,
                        self.asyncpg.InterfaceError,
                    ) as exc:
                        log.warning("could not send a note to other instances: %s", exc)
                        with suppress(Exception):
                            await connection.close(timeout=1)

    async def _receive_loop(self, receive: Receiver) -> None:
        """Hand each note from another instance to `receive`, one at a time, in order;
        also watch the connection, which only the sender would otherwise notice."""
        while True:
            try:
                async with asyncio.timeout(RECONNECT_DELAY * 5):
                    payload = await self._inbox.get()
            except TimeoutError:
                await self._live_connection()
                continue
            for note in notes_in(payload):
                if note.get("o") == self.origin:
                    continue
                try:
                    await receive(note)
                except Exception:
                    log.exception("could not take a %s note from another instance", note.get("t"))


async def tell_other_instances(note: Note) -> None:
    """Send one note from a process with no bus of its own (the CLI), on the database it
    opened; on SQLite there is no other instance."""
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query("SELECT pg_notify($1, $2)", [CHANNEL, pack([note])[0]])


def notes_in(payload: str) -> list[Note]:
    """The notes of a payload; anything else on the channel (any database user may NOTIFY
    on it) is logged and ignored."""
    try:
        notes = json.loads(payload)
    except ValueError:
        notes = None
    if not isinstance(notes, list) or not all(isinstance(note, dict) for note in notes):
        log.warning("ignoring a payload on %s that is not a list of notes", CHANNEL)
        return []
    return notes


def coalesce(notes: list[Note]) -> list[Note]:
    """Notes as sent: of a task's progress notes queued together only the last counts,
    and one wake-up says as much as several."""
    last_progress = {
        note["task"]: index for index, note in enumerate(notes) if note["t"] == "progress"
    }
    kept: list[Note] = []
    woken = False
    for index, note in enumerate(notes):
        if note["t"] == "progress" and last_progress[note["task"]] != index:
            continue
        if note["t"] == "wake":
            if woken:
                continue
            woken = True
        kept.append(note)
    return kept

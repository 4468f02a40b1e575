"""Which instances are alive: each one's row in `instances`, with a heartbeat.

An instance whose heartbeat is older than the lease is taken for dead by the first
survivor to notice (one conditional update decides who), which then interrupts its tasks
(see TaskEngine._take_over). Names are stable across restarts, so an instance that comes back
finds its own row and what its previous life left running.
"""

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from service.config import Settings
from service.models import Instance

CLAIM_LOCK_KEY = 0x70626400
"""The PostgreSQL advisory lock every instance takes around a claim (see `claim_lock`)."""


def instance_name(settings: Settings) -> str:
    return settings.instance_name or f"{socket.gethostname()}:{settings.port}"


class Registry:
    """This instance's row, and its view of the others'."""

    def __init__(self, settings: Settings) -> None:
        self.name = instance_name(settings)
        self.hostname = socket.gethostname()
        self.lease = timedelta(seconds=settings.instance_lease)
        self.postgres = not settings.database_url.startswith("sqlite")
        self._claiming = asyncio.Lock()
        self.leader = not self.postgres
        """Whether this is the oldest alive instance, which alone runs the apps' health
        checks; decided at each heartbeat (alone on SQLite, it always is)."""

    async def register(self) -> None:
        now = datetime.now(UTC)
        fields = {
            "hostname": self.hostname,
            "pid": os.getpid(),
            "started_at": now,
            "heartbeat_at": now,
            "stopped_at": None,
            "stop_reason": None,
        }
        await Instance.update_or_create(defaults=fields, name=self.name)

    async def beat(self) -> bool:
        """Renew the lease; False if another instance had already taken this one for dead
        (its tasks are interrupted: what still runs here must stop)."""
        now = datetime.now(UTC)
        renewed = await Instance.filter(name=self.name, stopped_at=None).update(heartbeat_at=now)
        if not renewed:
            await self.register()
        return bool(renewed)

    async def deregister(self, reason: str = "stopped") -> None:
        await Instance.filter(name=self.name).update(
            stopped_at=datetime.now(UTC), stop_reason=reason
        )

    async def take_expired(self) -> list[Instance]:
        """Other instances whose lease ran out, each marked stopped by this instance: the
        caller interrupts their tasks. Two survivors never take the same one."""
        now = datetime.now(UTC)
        taken = []
        for instance in await Instance.filter(
            stopped_at=None, heartbeat_at__lt=now - self.lease
        ).exclude(name=self.name):
            reason = (
                f"its heartbeat stopped at {instance.heartbeat_at.isoformat()} "
                f"(lease {self.lease.total_seconds():g} s); taken over by {self.name}"
            )
            won = await Instance.filter(
                name=instance.name, stopped_at=None, heartbeat_at=instance.heartbeat_at
            ).update(stopped_at=now, stop_reason=reason)
            if won:
                instance.stop_reason = reason
                taken.append(instance)
        return taken

    async def elect(self) -> bool:
        """Whether this instance leads now: the oldest alive instance (by start, then name)."""
        now = datetime.now(UTC)
        running = Instance.filter(stopped_at=None).order_by("started_at", "name")
        oldest = next((i for i in await running if self.alive(i, now)), None)
        self.leader = oldest is None or oldest.name == self.name
        return self.leader

    def alive(self, instance: Instance, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return instance.stopped_at is None and instance.heartbeat_at >= now - self.lease

    @asynccontextmanager
    async def claim_lock(self) -> AsyncIterator[None]:
        """One claim at a time over every instance: on PostgreSQL a transaction holding an
        advisory lock (released with it), so the running tasks read inside are every
        instance's and a claim commits before the next one reads. On SQLite, one instance,
        this process's lock is enough, and no transaction: Tortoise's SQLite transaction
        never releases the connection if it is cancelled while it begins (at shutdown)."""
        async with self._claiming:
            if not self.postgres:
                yield
                return
            async with in_transaction() as connection:
                await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [CLAIM_LOCK_KEY])
                yield

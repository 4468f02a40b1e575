"""Outgoing webhooks: one background component beside the task engine.

It listens on the engine's publisher (`WebhookListener`: queue only, never await), stores
each event as a delivery row per matching webhook (`Outbox`), and POSTs the rows
(`Dispatcher`). The rows are the source of truth: pending ones are sent after a restart.
"""

import asyncio
from contextlib import suppress

from service.config import Settings
from service.notifications.clock import Clock
from service.notifications.delivery import Dispatcher
from service.notifications.listener import Report, WebhookListener
from service.notifications.outbox import Outbox


class Notifications:
    def __init__(self, settings: Settings) -> None:
        self.clock = Clock()
        queue: asyncio.Queue[Report] = asyncio.Queue()
        self.listener = WebhookListener(queue, self.clock)
        self.dispatcher = Dispatcher(settings, self.clock)
        self.outbox = Outbox(queue, self.clock, self.dispatcher.wake)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.outbox.run(), name="webhook-outbox"),
            asyncio.create_task(self.dispatcher.run(), name="webhook-dispatcher"),
        ]

    async def stop(self) -> None:
        """Cancel both loops, then store what the engine reported last (rows outlive us)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.outbox.drain()

"""Outgoing webhooks: one background component beside the task engine.

It listens on the engine's publisher (`WebhookListener`: queue only, never await), stores
each event as a delivery row per matching webhook (`Outbox`), and POSTs the rows
(`Dispatcher`). The rows are the source of truth: pending ones are sent after a restart.
"""

import asyncio
from contextlib import suppress

from service.clock import Clock, SystemClock
from service.config import Settings
from service.notifications.delivery import Dispatcher
from service.notifications.listener import Report, WebhookListener
from service.notifications.outbox import Outbox


class Notifications:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        queue: asyncio.Queue[Report | None] = asyncio.Queue()
        self.listener = WebhookListener(queue, self.clock)
        self.dispatcher = Dispatcher(settings, self.clock)
        self.outbox = Outbox(queue, self.clock, self.dispatcher.wake)

    def start(self) -> None:
        self._outbox = asyncio.create_task(self.outbox.run(), name="webhook-outbox")
        self._dispatcher = asyncio.create_task(self.dispatcher.run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        """Store what the engine reported last, then stop sending (the rows outlive us)."""
        self.outbox.stop()
        await self._outbox
        self._dispatcher.cancel()
        with suppress(asyncio.CancelledError):
            await self._dispatcher

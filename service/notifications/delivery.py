"""The delivery worker: POSTs due deliveries, signed, in a bounded pool, with backoff.

A delivery is claimed in the database by moving its `next_attempt_at` forward by a lease
(the attempt's timeout plus a margin), so a second instance, or this one after a crash,
takes it up again only once that attempt can no longer be running. Each webhook gets at
most `PER_WEBHOOK` of the pool's slots: an endpoint that hangs holds those until their
timeout, and the other webhooks' deliveries go on through the rest.
"""

import asyncio
import logging
import time
from collections import Counter
from contextlib import suppress
from datetime import timedelta
from typing import Any

import aiohttp
from tortoise.queryset import QuerySet

from service.clock import Clock
from service.config import Settings
from service.models import DeliveryStatus, WebhookDelivery
from service.notifications.payloads import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from service.storage.secrets import SecretBox

log = logging.getLogger(__name__)

PER_WEBHOOK = 2
"""Attempts in flight for one webhook at a time."""
LEASE_MARGIN = 30
"""Seconds past an attempt's timeout before another worker may take its delivery."""
IDLE_POLL = 5
"""Longest sleep between looks at the table (rows another instance wrote, clock jumps)."""
CLAIM_BATCH = 100
MAX_ERROR = 500
USER_AGENT = "pb-deployer-webhooks"


class Dispatcher:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.secrets = SecretBox(settings.secrets_key_file)
        self.session: aiohttp.ClientSession | None = None
        self.in_flight: dict[int, asyncio.Task[None]] = {}
        self.per_webhook: Counter[int] = Counter()
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """New rows, a free slot or a moved clock: look at the table now."""
        self._wakeup.set()

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.settings.webhook_concurrency)
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
        # trust_env: through HTTPS_PROXY / HTTP_PROXY unless NO_PROXY names the host.
        session = aiohttp.ClientSession(connector=connector, headers=headers, trust_env=True)
        async with session:
            self.session = session
            try:
                while True:
                    self._wakeup.clear()  # before the look: a wake during it is kept
                    try:
                        await self._start_due()
                        pause = await self._seconds_to_next()
                    except Exception:
                        log.exception("could not read the webhook deliveries")
                        pause = IDLE_POLL
                    await self._pause(pause)
            finally:
                await self._stop_attempts()

    async def _pause(self, seconds: float) -> None:
        """Until a wake, or `seconds` of real time. Not on the clock's `sleep`: the clock
        is shared, and a test moving it wakes this worker itself. Not `wait_for` either: on
        3.11 a wake racing the shutdown's cancel could lose that cancel and hang shutdown."""
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()

    async def _start_due(self) -> None:
        free = self.settings.webhook_concurrency - len(self.in_flight)
        if free <= 0:
            return
        now = self.clock.now()
        due = self._waiting().filter(next_attempt_at__lte=now)
        lease = now + timedelta(seconds=self.settings.webhook_timeout + LEASE_MARGIN)
        batch = due.select_related("webhook").order_by("next_attempt_at", "id").limit(CLAIM_BATCH)
        for delivery in await batch:
            if free <= 0:
                break
            if self.per_webhook[delivery.webhook_id] >= PER_WEBHOOK:
                continue
            claimed = await WebhookDelivery.filter(
                id=delivery.id,
                status=DeliveryStatus.PENDING,
                next_attempt_at=delivery.next_attempt_at,
            ).update(next_attempt_at=lease)
            if claimed:
                free -= 1
                self._start(delivery)

    def _waiting(self) -> QuerySet[WebhookDelivery]:
        """Pending deliveries this worker could start: enabled webhooks with a free slot
        (a webhook at its limit is left out, or its due rows would keep the loop awake)."""
        waiting = WebhookDelivery.filter(status=DeliveryStatus.PENDING, webhook__enabled=True)
        full = [hook for hook, count in self.per_webhook.items() if count >= PER_WEBHOOK]
        return waiting.exclude(webhook_id__in=full) if full else waiting

    def _start(self, delivery: WebhookDelivery) -> None:
        self.per_webhook[delivery.webhook_id] += 1
        attempt = asyncio.create_task(self._attempt(delivery), name=f"webhook-{delivery.id}")
        self.in_flight[delivery.id] = attempt

        def done(_: asyncio.Task[None]) -> None:
            if self.in_flight.get(delivery.id) is attempt:  # not a retry started meanwhile
                del self.in_flight[delivery.id]
            self.per_webhook[delivery.webhook_id] -= 1
            if self.per_webhook[delivery.webhook_id] <= 0:
                del self.per_webhook[delivery.webhook_id]
            self.wake()

        attempt.add_done_callback(done)

    async def _seconds_to_next(self) -> float:
        """Until the earliest pending delivery is due (at most IDLE_POLL)."""
        if len(self.in_flight) >= self.settings.webhook_concurrency:
            return IDLE_POLL  # a finishing attempt wakes the loop
        upcoming = (
            await self._waiting()
            .order_by("next_attempt_at")
            .limit(1)
            .values_list("next_attempt_at", flat=True)
        )
        if not upcoming:
            return IDLE_POLL
        wait = (upcoming[0] - self.clock.now()).total_seconds()
        return min(max(wait, 0.0), IDLE_POLL)

    async def _attempt(self, delivery: WebhookDelivery) -> None:
        try:
            outcome = await self._post(delivery)
            await self._record(delivery, **outcome)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook delivery %s failed in the worker", delivery.id)

    async def _post(self, delivery: WebhookDelivery) -> dict[str, Any]:
        """One signed POST, bounded by the timeout: what it got, and how long it took."""
        assert self.session is not None
        webhook = delivery.webhook
        started_at = self.clock.now()
        timestamp = str(int(started_at.timestamp()))
        body = delivery.body.encode()
        headers = {
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: str(delivery.id),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self.secrets.unseal(webhook.secret), timestamp, body),
        }
        timeout = self.settings.webhook_timeout
        code: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                async with self.session.post(
                    webhook.url, data=body, headers=headers, allow_redirects=False
                ) as response:
                    code = response.status
            if not 200 <= code < 300:
                error = f"The endpoint answered HTTP {code}."
        except TimeoutError:
            error = f"No answer within {timeout} s."
        except (aiohttp.ClientError, OSError, ValueError) as exc:  # ValueError: a URL yarl refuses
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        return {
            "started_at": started_at,
            "code": code,
            "error": error,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        }

    async def _record(self, delivery: WebhookDelivery, **outcome: Any) -> None:
        """Store the attempt: delivered, failed for good, or pending after a backoff."""
        attempts = delivery.attempts + 1
        history = [
            *delivery.history,
            {
                "at": outcome["started_at"].isoformat(),
                "response_code": outcome["code"],
                "duration_ms": outcome["duration_ms"],
                "error": outcome["error"],
            },
        ]
        now = self.clock.now()
        changes: dict[str, Any] = {
            "attempts": attempts,
            "history": history,
            "response_code": outcome["code"],
            "duration_ms": outcome["duration_ms"],
            "error": outcome["error"],
        }
        if outcome["error"] is None:
            changes |= {"status": DeliveryStatus.DELIVERED, "finished_at": now}
        elif attempts >= self.settings.webhook_max_attempts:
            changes |= {"status": DeliveryStatus.FAILED, "finished_at": now}
        else:
            delay = self.settings.webhook_backoff * 2 ** (attempts - 1)
            changes["next_attempt_at"] = now + timedelta(seconds=delay)
        # By id: a webhook deleted meanwhile took its deliveries along, and this updates none.
        await WebhookDelivery.filter(id=delivery.id).update(**changes)

    async def _stop_attempts(self) -> None:
        """Cancel the attempts still running and hand their deliveries back at once, so the
        next start sends them without waiting for the lease to run out."""
        attempts = dict(self.in_flight)
        for attempt in attempts.values():
            attempt.cancel()
        for attempt in attempts.values():
            with suppress(asyncio.CancelledError):
                await attempt
        cut = [delivery_id for delivery_id, attempt in attempts.items() if attempt.cancelled()]
        if cut:
            await WebhookDelivery.filter(id__in=cut, status=DeliveryStatus.PENDING).update(
                next_attempt_at=self.clock.now()
            )

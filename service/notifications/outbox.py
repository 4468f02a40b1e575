"""The outbox: reports from the listener become durable delivery rows, one per webhook."""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from service.api.schemas import DeploymentSchema, ServerSchema
from service.clock import Clock
from service.models import (
    Deployment,
    Server,
    TaskKind,
    TaskStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from service.notifications.listener import Report, TaskFinished
from service.notifications.payloads import Occurrence, render

log = logging.getLogger(__name__)

DEPLOYMENT = DeploymentSchema()
SERVER = ServerSchema()
DEPLOYMENT_KINDS = frozenset({TaskKind.DEPLOY, TaskKind.ROLLBACK})


class Outbox:
    def __init__(
        self, queue: asyncio.Queue[Report | None], clock: Clock, wrote: Callable[[], None]
    ) -> None:
        self.queue = queue
        self.clock = clock
        self.wrote = wrote
        """Called after new rows are stored (wakes the dispatcher)."""

    async def run(self) -> None:
        """Store reports in batches of whatever has queued up meanwhile, until `stop()`."""
        while True:
            reports = [await self.queue.get()]
            while not self.queue.empty():
                reports.append(self.queue.get_nowait())
            await self.store([report for report in reports if report is not None])
            if None in reports:
                return

    def stop(self) -> None:
        """End `run` once everything reported before this call is stored (not cancelled
        half-way through a write: the engine's last reports arrive during shutdown)."""
        self.queue.put_nowait(None)

    async def store(self, reports: list[Report]) -> None:
        if not reports:
            return
        try:
            webhooks = await Webhook.filter(enabled=True)
            wanted = {event for webhook in webhooks for event in webhook.events}
            rows = []
            for report in reports:
                for occurrence in await occurrences(report, wanted):
                    rows += [
                        WebhookDelivery(
                            webhook_id=webhook.id,
                            event=occurrence.event,
                            body=render(occurrence, webhook.format),
                            next_attempt_at=self.clock.now(),
                        )
                        for webhook in webhooks
                        if matches(webhook, occurrence)
                    ]
            if rows:
                await WebhookDelivery.bulk_create(rows)
                self.wrote()
        except Exception:
            log.exception("could not store %d webhook report(s)", len(reports))


def matches(webhook: Webhook, occurrence: Occurrence) -> bool:
    """The webhook wants the event, and its server and app filters (if any) fit."""
    return (
        occurrence.event in webhook.events
        and (webhook.server_id is None or webhook.server_id in occurrence.server_ids)
        and (webhook.app_id is None or webhook.app_id == occurrence.app_id)
    )


async def occurrences(report: Report, wanted: set[str]) -> list[Occurrence]:
    """The events a report means, reading the records only for events someone wants."""
    if isinstance(report, Occurrence):
        return [report] if report.event in wanted else []
    task = report.task
    servers = frozenset(task["server_ids"] or ([task["server_id"]] if task["server_id"] else []))

    def occurrence(event: WebhookEvent, **data: Any) -> Occurrence:
        return Occurrence(event, {**data, "task": task}, report.at, servers, task["app_id"])

    found = []
    if WebhookEvent.TASK_FINISHED in wanted:
        found.append(occurrence(WebhookEvent.TASK_FINISHED))
    deployment_events = wanted & {
        WebhookEvent.DEPLOYMENT_FINISHED,
        WebhookEvent.DEPLOYMENT_ROLLED_BACK,
    }
    if report.kind in DEPLOYMENT_KINDS and task["deployment_id"] and deployment_events:
        deployment = await Deployment.get_or_none(id=task["deployment_id"])
        if deployment is not None:
            record = DEPLOYMENT.dump(deployment)
            if WebhookEvent.DEPLOYMENT_FINISHED in wanted:
                found.append(occurrence(WebhookEvent.DEPLOYMENT_FINISHED, deployment=record))
            if WebhookEvent.DEPLOYMENT_ROLLED_BACK in wanted and rolled_back(report):
                found.append(occurrence(WebhookEvent.DEPLOYMENT_ROLLED_BACK, deployment=record))
    locked = report.kind == TaskKind.LOCKDOWN and task["status"] == TaskStatus.SUCCESSFUL
    if locked and WebhookEvent.SERVER_LOCKED in wanted:
        for server in await Server.filter(id__in=servers, security_locked=True):
            found.append(occurrence(WebhookEvent.SERVER_LOCKED, server=SERVER.dump(server)))
    return found


def rolled_back(report: TaskFinished) -> bool:
    """A rollback that went through, or a deploy a host undid itself (status `rolled_back`
    in the role's per-host report: the old release serves again)."""
    task = report.task
    if report.kind == TaskKind.ROLLBACK:
        return task["status"] == TaskStatus.SUCCESSFUL
    hosts = (task["result"] or {}).get("hosts") or {}
    return any(
        isinstance(host, dict) and host.get("status") == "rolled_back" for host in hosts.values()
    )

"""The application factory: the only place where the pieces are wired together."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import suppress

from aiohttp import web

from service.ansible import toolchain
from service.api import docs
from service.api.audit_log import audit_middleware
from service.api.errors import error_middleware, request_id_middleware
from service.api.health import install_health_checks
from service.api.openapi import API_PREFIX, build_openapi
from service.api.v1 import create_v1_app
from service.cluster.bus import LocalBus, PostgresBus
from service.cluster.feed import ClusterFeed, Forwarder
from service.cluster.instances import Registry
from service.config import Settings
from service.domain.secrets_at_rest import seal_stored_keys
from service.domain.tokens import REVOKED_STAMP, VerifiedTokens
from service.health.checker import HealthChecker
from service.keys import (
    CLOCK,
    DATABASE,
    ENGINE,
    FORWARDER,
    HEALTH,
    HUB,
    NOTIFICATIONS,
    OPENAPI,
    RETENTION,
    SCHEDULER,
    SECRETS,
    SETTINGS,
    VERIFIED_TOKENS,
)
from service.notifications import Notifications
from service.retention import RetentionJob
from service.scheduling.scheduler import AuditScheduler
from service.storage.db import database
from service.storage.secrets import SecretBox
from service.storage.uploads import remove_partial_files
from service.tasks.engine import TaskEngine
from service.tasks.publishers import FanOut
from service.web import register as register_dashboard
from service.ws.hub import Hub
from service.ws.publisher import HubPublisher


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open (and migrate) the database for the app's lifetime; close that same context.
    The secrets key file is made with it: a database is never without its key."""
    settings = app[SETTINGS]
    settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
    secrets = SecretBox(settings.secrets_key_file)
    secrets.ensure_key_file()
    app[SECRETS] = secrets
    async with database(settings.database_url) as context:
        app[DATABASE] = context
        await seal_stored_keys(secrets)
        yield


async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
    """The WebSocket hub and the task engine, not started yet: listeners join its
    publisher first (the next contexts), so they hear its recovery and its shutdown.
    Its reports also go, as notes, to the other instances on the same PostgreSQL."""
    settings = app[SETTINGS]
    hub = Hub()
    app[HUB] = hub
    registry = Registry(settings)
    bus = PostgresBus(settings.database_url, registry.name) if registry.postgres else LocalBus()
    publisher = FanOut(HubPublisher(hub), ClusterFeed(bus))
    app[ENGINE] = TaskEngine(settings, publisher, registry=registry, bus=bus)
    yield


async def notifications_ctx(app: web.Application) -> AsyncIterator[None]:
    """Outgoing webhooks, listening to the engine; they store its last reports on the way out."""
    notifications = Notifications(app[SETTINGS], app.get(CLOCK))
    app[NOTIFICATIONS] = notifications
    app[ENGINE].publisher.add(notifications.listener)
    notifications.start()
    yield
    await notifications.stop()


async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """The engine's workers: they recover interrupted tasks, then run the queue. Notes
    from other instances are heard from before the first claim until after the last run."""
    engine = app[ENGINE]
    forwarder = Forwarder(engine, app[HUB], app[VERIFIED_TOKENS])
    app[FORWARDER] = forwarder
    await engine.bus.start(forwarder.receive)
    try:
        await engine.start()
        yield
        await engine.stop()
    finally:
        await engine.bus.stop()


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """Scheduled audits, queued through the engine at the times of the app's clock."""
    scheduler = AuditScheduler(app[ENGINE], app.get(CLOCK))
    app[SCHEDULER] = scheduler
    scheduler.start()
    yield
    await scheduler.stop()


async def health_ctx(app: web.Application) -> AsyncIterator[None]:
    """The apps' health checks, told of finished deploys by the engine's publisher."""
    checker = HealthChecker(app[SETTINGS], app[ENGINE], app.get(CLOCK))
    app[HEALTH] = checker
    app[ENGINE].publisher.add(checker.listener)
    app[FORWARDER].status_listeners.append(checker.listener)
    checker.start()
    yield
    await checker.stop()


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """The retention job, on its schedule unless `retention_interval` is 0."""
    job = RetentionJob(app[SETTINGS], app.get(CLOCK))
    app[RETENTION] = job
    schedule = None
    if app[SETTINGS].retention_interval:
        schedule = asyncio.create_task(job.run_forever(), name="retention")
    yield
    if schedule is not None:
        schedule.cancel()
        with suppress(asyncio.CancelledError):
            await schedule


async def clean_partial_uploads(app: web.Application) -> None:
    """Uploads cut off by a crash (kill -9) left `.part` files that nothing will finish."""
    remove_partial_files(app[SETTINGS].uploads_dir)


async def close_websockets(app: web.Application) -> None:
    await app[HUB].close_all()


def create_app(settings: Settings) -> web.Application:
    toolchain.ensure_on_path()
    app = web.Application(
        # The audit middleware records the status the error middleware answered with.
        middlewares=[request_id_middleware, audit_middleware, error_middleware],
        client_max_size=settings.max_json_body_bytes,
        handler_args={
            # aiohttp's keep-alive timer also bounds how long a client may take to send its
            # request line and headers (byte by byte or not at all); bodies: body_timeout.
            "keepalive_timeout": settings.header_timeout,
            # A client that disconnects does not cancel its handler half-way (run_app's
            # default, pinned so that tests run the same way): reads fail, state stays whole.
            "handler_cancellation": False,
        },
    )
    app[SETTINGS] = settings
    app[VERIFIED_TOKENS] = VerifiedTokens(settings.data_dir / REVOKED_STAMP)
    app.on_startup.append(clean_partial_uploads)
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(engine_ctx)
    app.cleanup_ctx.append(notifications_ctx)
    app.cleanup_ctx.append(workers_ctx)
    app.cleanup_ctx.append(retention_ctx)
    app.cleanup_ctx.append(scheduler_ctx)
    app.cleanup_ctx.append(health_ctx)
    app.on_shutdown.append(close_websockets)
    install_health_checks(app)
    v1 = create_v1_app()
    app[OPENAPI] = build_openapi(v1)
    app.add_subapp(API_PREFIX, v1)
    docs.register(app)
    register_dashboard(app)
    return app

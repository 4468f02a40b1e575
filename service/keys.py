"""Typed keys for everything the application and its requests share (no globals)."""

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ChainMapProxy, web
from tortoise.context import TortoiseContext

from service.clock import Clock
from service.cluster.feed import Forwarder
from service.config import Settings
from service.domain.tokens import Principal, VerifiedTokens
from service.health.checker import HealthChecker
from service.notifications import Notifications
from service.retention import RetentionJob
from service.scheduling.scheduler import AuditScheduler
from service.storage.secrets import SecretBox
from service.tasks.engine import TaskEngine
from service.ws.hub import Hub

HealthCheck = Callable[[ChainMapProxy], Awaitable[dict[str, Any]]]

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", TortoiseContext)
HEALTH_CHECKS = web.AppKey("health_checks", dict[str, HealthCheck])
ANSIBLE_VERSION = web.AppKey("ansible_version", str)

REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
QUERY = web.RequestKey("query", dict)
BODY = web.RequestKey("body", dict)
OPENAPI = web.AppKey("openapi", dict)
HUB = web.AppKey("hub", Hub)
ENGINE = web.AppKey("engine", TaskEngine)
FORWARDER = web.AppKey("forwarder", Forwarder)
"""Other instances' notes, acted on here (service/cluster/feed.py)."""
NOTIFICATIONS = web.AppKey("notifications", Notifications)
RETENTION = web.AppKey("retention", RetentionJob)
CLOCK = web.AppKey("clock", Clock)
"""The clock of the background components (service/clock.py); tests set one they move."""
SCHEDULER = web.AppKey("scheduler", AuditScheduler)
HEALTH = web.AppKey("health", HealthChecker)
"""The apps' health checker (service/health/)."""
VERIFIED_TOKENS = web.AppKey("verified_tokens", VerifiedTokens)
"""Tokens verified in the last seconds (service/domain/tokens.py): no read per request."""
SECRETS = web.AppKey("secrets", SecretBox)
"""App secrets' encryption under the key file (created at the first start)."""

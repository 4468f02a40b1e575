"""Tortoise ORM models: the service's whole persistent state."""

from service.models.apps import App, AppCertificate, AppStatus, DeployHook
from service.models.audit import AuditRecord
from service.models.deployments import (
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    DeployStrategy,
)
from service.models.environment import AppVariable
from service.models.health import AppHostHealth, HealthSample, HealthStatus
from service.models.instances import Instance
from service.models.security_audits import AuditReport, AuditSchedule, FiredOccurrence
from service.models.servers import Server, ServerGroup, ServerGroupMember, UnitStatus
from service.models.tasks import Task, TaskEvent, TaskKind, TaskServer, TaskStatus
from service.models.tokens import ApiToken, Role
from service.models.versions import Version
from service.models.web_sessions import WebSession
from service.models.webhooks import (
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookFormat,
)

__all__ = [
    "ApiToken",
    "App",
    "AppCertificate",
    "AppHostHealth",
    "AppStatus",
    "AppVariable",
    "AuditRecord",
    "AuditReport",
    "AuditSchedule",
    "DeliveryStatus",
    "DeployHook",
    "DeployStrategy",
    "Deployment",
    "DeploymentKind",
    "DeploymentStatus",
    "FiredOccurrence",
    "HealthSample",
    "HealthStatus",
    "Instance",
    "Role",
    "Server",
    "ServerGroup",
    "ServerGroupMember",
    "Task",
    "TaskEvent",
    "TaskKind",
    "TaskServer",
    "TaskStatus",
    "UnitStatus",
    "Version",
    "WebSession",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookFormat",
]

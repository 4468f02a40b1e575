"""Tortoise ORM models: the service's whole persistent state."""

from service.models.apps import App, AppStatus
from service.models.audits import AuditReport, AuditSchedule, FiredOccurrence
from service.models.deployments import (
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    DeployStrategy,
)
from service.models.servers import Server
from service.models.tasks import Task, TaskEvent, TaskKind, TaskStatus
from service.models.tokens import ApiToken, Role
from service.models.versions import Version

__all__ = [
    "ApiToken",
    "App",
    "AppStatus",
    "AuditReport",
    "AuditSchedule",
    "DeployStrategy",
    "Deployment",
    "DeploymentKind",
    "DeploymentStatus",
    "FiredOccurrence",
    "Role",
    "Server",
    "Task",
    "TaskEvent",
    "TaskKind",
    "TaskStatus",
    "Version",
]

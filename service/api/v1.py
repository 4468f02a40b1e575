"""The `/api/v1` sub-application: authenticated, validated, one module per resource."""

from aiohttp import web

from service.api import (
    app_health,
    apps,
    audit_log,
    certificates,
    deploy_hooks,
    deployments,
    environment,
    health,
    operations,
    security_audits,
    server_groups,
    servers,
    services,
    tasks,
    tokens,
    versions,
    webhooks,
)
from service.api.access import access_middleware, body_scope_middleware, check_rules
from service.api.auth import auth_middleware
from service.api.validation import validation_middleware
from service.ws import handler

RESOURCES = (
    health,
    servers,
    server_groups,
    apps,
    app_health,
    environment,
    certificates,
    versions,
    deployments,
    deploy_hooks,
    tasks,
    operations,
    security_audits,
    services,
    webhooks,
    tokens,
    audit_log,
    handler,
)


def create_v1_app() -> web.Application:
    v1 = web.Application(
        middlewares=[
            auth_middleware,
            access_middleware,
            validation_middleware,
            body_scope_middleware,
        ]
    )
    for resource in RESOURCES:
        resource.register(v1)
    check_rules(v1)
    return v1

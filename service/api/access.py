"""Who may do what: one table of the least role each operation needs, and the scope rules.

`RULES` is the specification (the tests walk it). The middleware refuses a request whose
token role is below the operation's with 403, and hides records outside a scoped token's
apps and servers with 404, as if they did not exist. List handlers narrow their queries
with `visible`. Every route must have a row: `check_rules` fails the app's start otherwise.
"""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from service.api.auth import is_public_handler
from service.api.common import API_PREFIX
from service.domain.tokens import Principal
from service.errors import Forbidden, NotFound, ValidationFailed
from service.keys import BODY, PRINCIPAL
from service.models import (
    App,
    AuditRecord,
    Deployment,
    Role,
    Server,
    ServerGroup,
    ServerGroupMember,
    Task,
    TaskServer,
    Version,
)

V, D, A = Role.VIEWER, Role.DEPLOYER, Role.ADMIN
M = TypeVar("M", bound=Model)

PUBLIC = None
"""A row for a route that takes no token: its handler authenticates the call itself."""

RULES: dict[tuple[str, str], Role | None] = {
    ("GET", "/health"): V,
    ("GET", "/ws"): V,
    # Servers and their operations
    ("GET", "/servers"): V,
    ("POST", "/servers"): A,
    ("GET", "/servers/{id}"): V,
    ("PATCH", "/servers/{id}"): A,
    ("DELETE", "/servers/{id}"): A,
    ("POST", "/servers/test-connection"): D,
    ("POST", "/servers/setup"): D,
    ("POST", "/servers/security/lockdown"): D,
    ("POST", "/servers/security/audit"): D,
    ("POST", "/servers/{id}/test-connection"): D,
    ("POST", "/servers/{id}/setup"): D,
    ("POST", "/servers/{id}/setup/user"): D,
    ("POST", "/servers/{id}/setup/packages"): D,
    ("POST", "/servers/{id}/security/lockdown"): D,
    ("POST", "/servers/{id}/security/audit"): D,
    ("GET", "/servers/{id}/security/audit"): V,
    ("GET", "/servers/{id}/security/audits"): V,
    ("GET", "/servers/{id}/audit-schedule"): V,
    ("PUT", "/servers/{id}/audit-schedule"): A,
    ("DELETE", "/servers/{id}/audit-schedule"): A,
    ("GET", "/server-groups"): V,
    ("POST", "/server-groups"): A,
    ("GET", "/server-groups/{id}"): V,
    ("PATCH", "/server-groups/{id}"): A,
    ("DELETE", "/server-groups/{id}"): A,
    # Services on a server
    ("GET", "/services/{server_id}"): V,
    ("GET", "/services/{server_id}/{service_name}"): V,
    ("POST", "/services/{server_id}/{service_name}"): D,
    ("GET", "/services/{server_id}/{service_name}/logs"): V,
    # Apps, versions, deployments
    ("GET", "/apps"): V,
    ("POST", "/apps"): A,
    ("GET", "/apps/{id}"): V,
    ("PATCH", "/apps/{id}"): A,
    ("DELETE", "/apps/{id}"): A,
    ("GET", "/apps/{id}/servers"): V,
    ("PUT", "/apps/{id}/servers"): A,
    ("POST", "/apps/{id}/deploy"): D,
    ("POST", "/apps/{id}/rollback"): D,
    ("POST", "/apps/{id}/reconcile"): D,
    ("GET", "/apps/{id}/env"): V,
    ("GET", "/apps/{id}/health"): V,
    ("POST", "/apps/{id}/restart"): D,
    ("PUT", "/apps/{id}/env"): A,
    ("PATCH", "/apps/{id}/env"): A,
    ("GET", "/apps/{id}/certificate"): V,
    ("PUT", "/apps/{id}/certificate"): A,
    ("DELETE", "/apps/{id}/certificate"): A,
    ("PUT", "/apps/{id}/deploy-hook"): A,
    ("DELETE", "/apps/{id}/deploy-hook"): A,
    ("POST", "/apps/{id}/deploy-hook"): PUBLIC,  # signed with the hook's secret
    ("GET", "/versions"): V,
    ("POST", "/versions"): D,
    ("GET", "/versions/{id}"): V,
    ("DELETE", "/versions/{id}"): A,
    ("POST", "/versions/{id}/upload"): D,
    ("GET", "/versions/{id}/download"): V,
    ("GET", "/deployments"): V,
    ("GET", "/deployments/stats"): V,
    ("GET", "/deployments/{id}/status"): V,
    ("POST", "/deployments/{id}/cancel"): D,
    # Tasks
    ("GET", "/tasks"): V,
    ("GET", "/tasks/{id}"): V,
    ("GET", "/tasks/{id}/events"): V,
    ("POST", "/tasks/{id}/cancel"): D,
    ("POST", "/tasks/{id}/retry"): D,
    # Tokens
    ("GET", "/tokens"): A,
    ("POST", "/tokens"): A,
    ("DELETE", "/tokens/{id}"): A,
    # Outgoing webhooks (service-wide, like tokens)
    ("GET", "/webhooks"): A,
    ("POST", "/webhooks"): A,
    ("GET", "/webhooks/{id}"): A,
    ("PATCH", "/webhooks/{id}"): A,
    ("DELETE", "/webhooks/{id}"): A,
    ("GET", "/webhooks/{id}/deliveries"): A,
    # Audit log (read only)
    ("GET", "/audit-log"): A,
}


def rule_key(method: str, canonical: str) -> tuple[str, str]:
    """The table's key for a route: HEAD is GET; paths are written without `/api/v1`."""
    return ("GET" if method == hdrs.METH_HEAD else method, canonical.removeprefix(API_PREFIX))


def route_path(request: web.Request) -> str | None:
    """The matched route's path pattern, e.g. `/servers/{id}`; None when nothing matched."""
    resource = request.match_info.route.resource
    return None if resource is None else resource.canonical.removeprefix(API_PREFIX)


def check_rules(app: web.Application) -> None:
    """Refuse to build an API in which some route has no row (or a row has no route)."""
    routes = {
        rule_key(r.method, r.resource.canonical): r.handler
        for r in app.router.routes()
        if r.resource
    }
    missing, stale = routes.keys() - RULES.keys(), RULES.keys() - routes.keys()
    if missing or stale:
        raise RuntimeError(
            f"role table out of date: missing {sorted(missing)}, stale {sorted(stale)}"
        )
    unmarked = [
        key for key, role in RULES.items() if role is PUBLIC and not is_public_handler(routes[key])
    ]
    if unmarked:
        raise RuntimeError(f"public in the role table but not @public: {sorted(unmarked)}")


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


# Scope ------------------------------------------------------------------------------------


async def _task_visible(who: Principal, task_id: int) -> bool:
    """An app's task by its app; any other by its servers, every one of them (a task over
    several servers shows each one's output)."""
    task = await Task.get_or_none(id=task_id).only("id", "app_id", "server_id", "server_ids")
    if task is None:
        return False
    if task.app_id:
        return who.sees_app(task.app_id)
    return all(who.sees_server(i) for i in task.servers_covered)


async def _app_owned_visible(
    model: type[Version] | type[Deployment], who: Principal, record_id: int
) -> bool:
    record = await model.get_or_none(id=record_id).only("id", "app_id")
    return record is not None and who.sees_app(record.app_id)


async def _server_visible(who: Principal, server_id: int) -> bool:
    return who.sees_server(server_id)


async def group_visible(who: Principal, group_id: int) -> bool:
    """A group by its servers, every one of them (as a task over several servers)."""
    members = ServerGroupMember.filter(group_id=group_id).values_list("server_id", flat=True)
    return all(who.sees_server(i) for i in await members)


async def _app_visible(who: Principal, app_id: int) -> bool:
    return who.sees_app(app_id)


async def _version_visible(who: Principal, version_id: int) -> bool:
    return await _app_owned_visible(Version, who, version_id)


async def _deployment_visible(who: Principal, deployment_id: int) -> bool:
    return await _app_owned_visible(Deployment, who, deployment_id)


PathCheck = Callable[[Principal, int], Awaitable[bool]]
PATH_OWNERS: dict[str, tuple[str, PathCheck, type[Model]]] = {
    "servers": ("id", _server_visible, Server),
    "server-groups": ("id", group_visible, ServerGroup),
    "services": ("server_id", _server_visible, Server),
    "apps": ("id", _app_visible, App),
    "versions": ("id", _version_visible, Version),
    "deployments": ("id", _deployment_visible, Deployment),
    "tasks": ("id", _task_visible, Task),
}
"""For each collection: the path parameter naming its record, who may see that record, and
its model (a hidden record's 404 says what a missing one's says)."""


async def check_path_scope(request: web.Request, path: str, who: Principal) -> None:
    collection = path.split("/")[1]
    owner = PATH_OWNERS.get(collection)
    if owner is None or owner[0] not in request.match_info:
        return
    parameter, visible_to, model = owner
    raw = request.match_info[parameter]
    if raw.isdigit() and not await visible_to(who, int(raw)):
        raise NotFound(f"{model.__name__} {int(raw)} does not exist.")


BODY_REFERENCES: dict[str, tuple[type[Model], Callable[[Principal, int], bool]]] = {
    "app_id": (App, Principal.sees_app),
    "server_id": (Server, Principal.sees_server),
    "server_ids": (Server, Principal.sees_server),
}


def check_body_scope(request: web.Request, who: Principal) -> None:
    """A body naming an app or server outside the scope is told it does not exist (422)."""
    given = request.get(BODY, {})
    details = {}
    for field, (model, sees) in BODY_REFERENCES.items():
        ids = given.get(field)
        for record_id in ids if isinstance(ids, list) else [ids]:
            if isinstance(record_id, int) and not sees(who, record_id):
                details[field] = [f"{model.__name__} {record_id} does not exist."]
    if details:
        raise ValidationFailed("The request is not valid.", details=details)


def allowed_topics(who: Principal) -> frozenset[str] | None:
    """The WebSocket topics a scoped token may hear (messages carry their server and app)."""
    if not who.scoped:
        return None
    return frozenset(
        [f"server:{i}" for i in who.servers or ()] + [f"app:{i}" for i in who.apps or ()]
    )


async def topic_visible(who: Principal, topic: str) -> bool:
    kind, _, raw = topic.partition(":")
    if not who.scoped or kind == "all":
        return True
    return await PATH_OWNERS[f"{kind}s"][1](who, int(raw))


def visible(request: web.Request, queryset: QuerySet[M]) -> QuerySet[M]:
    """`queryset` narrowed to what the calling token may see."""
    who = principal(request)
    if not who.scoped:
        return queryset
    apps, servers = list(who.apps or ()), list(who.servers or ())
    model: Any = queryset.model
    if model is Server:
        return queryset.filter(id__in=servers)
    if model is ServerGroup:
        outside = ServerGroupMember.filter(server_id__not_in=servers).values("group_id")
        return queryset.filter(~Q(id__in=Subquery(outside)))
    if model is App:
        return queryset.filter(id__in=apps)
    if model is Task:  # as _task_visible: every server of a task over several
        outside = TaskServer.filter(server_id__not_in=servers).values("task_id")
        own = Q(app_id=None, server_id__in=servers) & ~Q(id__in=Subquery(outside))
        return queryset.filter(Q(app_id__in=apps) | own)
    if model is AuditRecord:  # only what was done to its own servers and apps
        return queryset.filter(
            Q(target_kind="server", target_id__in=servers)
            | Q(target_kind="app", target_id__in=apps)
        )
    return queryset.filter(app_id__in=apps)


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Role, then path scope (before the body is read: 403/404 need no valid body)."""
    who, path = request.get(PRINCIPAL), route_path(request)
    if who is None or path is None:  # public endpoints; no such route (404/405 follow)
        return await handler(request)
    needed = RULES[rule_key(request.method, path)]
    if needed is not PUBLIC and not who.role.includes(needed):
        raise Forbidden(
            f"This needs the {needed} role; the token's role is {who.role}.",
            details={"required_role": str(needed), "role": str(who.role)},
        )
    if who.scoped:
        await check_path_scope(request, path, who)
    return await handler(request)


@web.middleware
async def body_scope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After validation: ids named in the body must be inside a scoped token's scope."""
    who = request.get(PRINCIPAL)
    if who is not None and who.scoped:
        check_body_scope(request, who)
    return await handler(request)

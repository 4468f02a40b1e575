"""The OpenAPI 3.0 document, built from aiohttp-apispec's per-handler metadata.

aiohttp-apispec only emits Swagger 2.0, so its decorators are kept as the single source of
truth (they also drive request validation) and this module turns their metadata into an
OpenAPI 3 document with apispec's MarshmallowPlugin: request bodies, responses, examples,
the bearer scheme and every error response in the one error format.
"""

from typing import Any

import yaml
from aiohttp import hdrs, web
from aiohttp_apispec.aiohttp_apispec import resolver
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from service import __version__
from service.api.access import RULES, rule_key
from service.api.auth import PUBLIC_ATTRIBUTE
from service.api.common import API_PREFIX
from service.api.errors import error_body
from service.api.schemas import ErrorSchema
from service.errors import (
    APIError,
    Forbidden,
    InvalidJSON,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from service.models import Role

OPENAPI_VERSION = "3.0.3"

DESCRIPTION = """\
Provision and deploy to Linux servers by running real Ansible playbooks.

**Authentication.** Every endpoint except `/health` needs `Authorization: Bearer <token>`;
the deploy hook (`POST /apps/{id}/deploy-hook`) is signed with the app's hook secret instead.
Tokens are created with `pb-deployer token create --name NAME --role ROLE` or `POST /tokens`.

**Roles.** A token is a `viewer` (reads everything, WebSocket included), a `deployer` (also
runs operations, deploys, rollbacks and service actions, creates and uploads versions) or an
`admin` (everything: servers, apps, deletes, tokens). Each operation states the least role it
needs (`x-required-role`); a token below it gets 403 `forbidden`. A token limited to some apps
and servers (its scope) gets 404 for everything else, as if it did not exist.

**Errors.** Every failure has the same body:
`{"error": {"code": "...", "message": "...", "details": {...}, "request_id": "..."}}`.
`code` is stable: bad_request, invalid_json (400), unauthorized (401), forbidden (403),
not_found (404), method_not_allowed (405), request_timeout (408), conflict (409),
payload_too_large (413), unsupported_media_type (415), range_not_satisfiable (416),
validation_failed (422, `details` maps each field to its messages), internal_error (500,
reveals nothing; quote the request id), service_unavailable (503), gateway_timeout (504,
`details.task_id` names the task that goes on). Every response carries an `X-Request-ID` header.

**Lists** take `page` (from 1), `per_page` (1-100) and `sort` (a field, `-` for descending)
and return `items`, `page`, `per_page`, `total_items`, `total_pages`. Unknown query
parameters and unknown body fields are refused with 422.
"""

CREATED = 201
LOCATION_HEADER = {
    "description": "The path of the record, e.g. `/api/v1/servers/7`.",
    "required": True,
    "schema": {"type": "string"},
}
"""Every 201 names its record (service.api.common.created)."""

EXAMPLE_DETAILS: dict[str, dict[str, Any]] = {
    ValidationFailed.code: {
        "port": ["Must be greater than or equal to 1 and less than or equal to 65535."]
    },
}


def _error_example(error: type[APIError]) -> dict[str, Any]:
    return error_body(
        error.code,
        f"Example {error.code} message.",
        "5f0c6a3e9b5d4c0e8f1a2b3c4d5e6f70",
        EXAMPLE_DETAILS.get(error.code),
    )


def _error_responses(errors: list[type[APIError]]) -> dict[str, Any]:
    """One response per status, listing every error code that status can carry."""
    by_status: dict[int, list[type[APIError]]] = {}
    for error in errors:
        bucket = by_status.setdefault(error.status, [])
        if error not in bucket:
            bucket.append(error)
    responses: dict[str, Any] = {}
    for status, group in sorted(by_status.items()):
        codes = ", ".join(f"`{error.code}`" for error in group)
        responses[str(status)] = {
            "description": f"Error ({codes}).",
            "content": {
                "application/json": {
                    "schema": "Error",
                    "examples": {error.code: {"value": _error_example(error)} for error in group},
                }
            },
        }
    return responses


def _path_schema(key: str) -> dict[str, Any]:
    if key == "id" or key.endswith("_id"):
        return {"type": "integer", "minimum": 1}
    return {"type": "string", "maxLength": 255}


def _operation(handler: Any, path_keys: list[str], role: Role | None) -> dict[str, Any]:
    meta = handler.__apispec__
    is_public = getattr(handler, PUBLIC_ATTRIBUTE, False)
    operation: dict[str, Any] = {
        "tags": meta.get("tags", []),
        "summary": meta.get("summary", ""),
        "operationId": handler.__name__,
        "x-required-role": str(role) if role else "none",
    }
    needs = f"**Role:** `{role}` or above." if role else "**Role:** none (no token)."
    operation["description"] = (
        f"{meta['description']}\n\n{needs}" if meta.get("description") else needs
    )
    parameters: list[dict[str, Any]] = [
        {"in": "path", "name": key, "required": True, "schema": _path_schema(key)}
        for key in path_keys
    ]
    parameters += [
        {"in": "header", "name": name, "description": text, "schema": {"type": "string"}}
        for name, text in meta.get("request_headers", {}).items()
    ]
    errors: list[type[APIError]] = [APIError]
    if not is_public:
        errors.append(Unauthorized)
    if role not in (Role.VIEWER, None):
        errors.append(Forbidden)
    for spec in meta.get("schemas", []):
        errors.append(ValidationFailed)
        if spec["location"] == "json":
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": spec["schema"]}},
            }
            errors.extend([InvalidJSON, UnsupportedMediaType, PayloadTooLarge])
        else:
            parameters.append({"in": "query", "schema": spec["schema"]})
    if parameters:
        operation["parameters"] = parameters
    errors.extend(meta.get("errors", []))
    responses: dict[str, Any] = {}
    for status, response in meta.get("responses", {}).items():
        entry: dict[str, Any] = {"description": response.get("description") or "Success."}
        if response.get("schema") is not None:
            entry["content"] = {"application/json": {"schema": response["schema"]}}
        if int(status) == CREATED:
            entry["headers"] = {"Location": LOCATION_HEADER}
        responses[str(status)] = entry
    responses.update(_error_responses(errors))
    operation["responses"] = responses
    if is_public:
        operation["security"] = []
    return operation


def build_openapi(v1: web.Application) -> dict[str, Any]:
    """The OpenAPI 3 document of the `/api/v1` sub-application's routes."""
    spec = APISpec(
        title="pb-deployer API",
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin(schema_name_resolver=resolver)],
        info={"description": DESCRIPTION},
        servers=[{"url": API_PREFIX}],
        security=[{"bearerAuth": []}, {"dashboardSession": []}],
    )
    spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "An API token."}
    )
    spec.components.security_scheme(
        "dashboardSession",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": "pbd_session",
            "description": (
                "The web dashboard's session (POST /login with a token). Requests that change "
                "something must also send its CSRF token in `X-CSRF-Token`, from a page of "
                "the same origin; otherwise 403."
            ),
        },
    )
    spec.components.schema("Error", schema=ErrorSchema)
    paths: dict[str, dict[str, Any]] = {}
    for route in v1.router.routes():
        handler = route.handler
        if route.method in (hdrs.METH_HEAD, hdrs.METH_ANY) or not hasattr(handler, "__apispec__"):
            continue
        info = route.resource.get_info() if route.resource else {}
        path = route.resource.canonical if route.resource else ""
        path_keys = list(info.get("pattern").groupindex) if "pattern" in info else []
        role = RULES[rule_key(route.method, path)]
        paths.setdefault(path, {})[route.method.lower()] = _operation(handler, path_keys, role)
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return spec.to_dict()


class _DocumentDumper(yaml.SafeDumper):
    """Plain YAML for a committed file: no anchors, multi-line strings as blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_DocumentDumper.add_representer(str, _represent_str)


def openapi_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(
        document, Dumper=_DocumentDumper, sort_keys=False, width=100, allow_unicode=True
    )

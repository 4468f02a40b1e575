"""What every handler shares: operation metadata, inputs, paging and serialisation."""

import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from aiohttp_apispec import docs
from marshmallow import Schema
from tortoise.queryset import QuerySet

from service.domain.tokens import Actor
from service.errors import APIError
from service.jsontext import dumps
from service.keys import BODY, PRINCIPAL, QUERY

F = TypeVar("F", bound=Callable[..., Any])

API_PREFIX = "/api/v1"

ID_PATTERN = r"{id:\d{1,9}}"
"""Path ids: digits only and small enough for every database's integer column."""


def operation(
    *,
    tags: list[str],
    summary: str,
    description: str = "",
    errors: Iterable[type[APIError]] = (),
    headers: dict[str, str] | None = None,
) -> Callable[[F], F]:
    """OpenAPI metadata for a handler; `errors` lists the failures beyond the generic ones,
    `headers` the request headers it reads (name: description)."""
    return docs(
        tags=tags,
        summary=summary,
        description=description,
        errors=list(errors),
        request_headers=headers or {},
    )


def record_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def actor(request: web.Request) -> Actor:
    """The calling token, as the `created_by` of the tasks and deployments it starts."""
    return request[PRINCIPAL].actor


def body(request: web.Request) -> dict[str, Any]:
    return request.get(BODY, {})


def query(request: web.Request) -> dict[str, Any]:
    return request.get(QUERY, {})


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON body; every API response goes out through this one encoder."""
    return web.Response(
        body=dumps(data), status=status, headers=headers, content_type="application/json"
    )


def respond(schema: Schema, record: Any, status: int = 200) -> web.Response:
    return json_response(schema.dump(record), status=status)


def created(schema: Schema, record: Any, collection: str, **extra: Any) -> web.Response:
    """201 with the record (and `extra` fields) and a `Location` naming it, e.g.
    `/api/v1/servers/7`."""
    dumped = schema.dump(record)
    return json_response(
        {**dumped, **extra},
        status=201,
        headers={"Location": f"{API_PREFIX}/{collection}/{dumped['id']}"},
    )


def ordering(sort: str) -> list[str]:
    """`-name` → ORDER BY name DESC, id DESC: the id tiebreak keeps pages deterministic."""
    descending = sort.startswith("-")
    field = sort.lstrip("-")
    if field == "id":
        return [sort]
    tiebreak = "-id" if descending else "id"
    return [sort, tiebreak]


def filter_by(queryset: QuerySet[Any], params: dict[str, Any], *keys: str) -> QuerySet[Any]:
    """Narrow a list to the equality filters (`server_id`, `status`, ...) the query gave."""
    present = {key: params[key] for key in keys if key in params}
    return queryset.filter(**present) if present else queryset


@dataclass(frozen=True)
class Computed:
    """Fields of a list item that are not columns: `fill` adds them to a page's rows."""

    names: frozenset[str]
    fill: Callable[[list[dict[str, Any]]], Awaitable[None]]


async def paginate(
    queryset: QuerySet[Any], params: dict[str, Any], item: Schema, computed: Computed | None = None
) -> web.Response:
    """One page of `queryset` in the list envelope (`items`, `page`, `total_items`, ...).

    Rows are read as plain values for exactly the item schema's output fields (but the
    `computed` ones): building model instances and running marshmallow over them cost most
    of a list request's time. A page that is not full is the last one, so it gives the total
    without a count query (most filtered lists fit on one page).
    """
    page, per_page = params["page"], params["per_page"]
    skipped = computed.names if computed else frozenset()
    columns = {
        name: field.attribute or name
        for name, field in item.dump_fields.items()
        if name not in skipped
    }
    rows = (
        await queryset.order_by(*ordering(params["sort"]))
        .offset((page - 1) * per_page)
        .limit(per_page)
        .values(**columns)
    )
    if 0 < len(rows) < per_page or (page == 1 and not rows):
        total = (page - 1) * per_page + len(rows)  # the last page: no count needed
    else:
        total = await queryset.count()
    if computed:
        await computed.fill(rows)
    return json_response(
        {
            "items": rows,
            "page": page,
            "per_page": per_page,
            "total_items": total,
            "total_pages": math.ceil(total / per_page) if total else 0,
        }
    )


def no_content() -> web.Response:
    return web.Response(status=204)

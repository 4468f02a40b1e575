"""The deployments page: the history with the API's filters, and its figures over time."""

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from markupsafe import Markup
from marshmallow import EXCLUDE, ValidationError, fields, post_load, validate, validates_schema

from service.api.access import visible
from service.api.common import ordering
from service.api.deployments import matching
from service.api.schemas import MAX_PER_PAGE, DeploymentListQuerySchema, Integer
from service.domain.deployments import WINDOWS, duration, stats_over_time
from service.errors import ValidationFailed
from service.models import App, DeploymentKind, DeploymentStatus, Task
from service.web.charts import line_chart, plain_number
from service.web.pages import Paging, page, render

PER_PAGE = 50
DEFAULT_RANGE = WINDOWS["30d"]
MAX_POINTS = 60
"""Up to this many days the chart has a point per day; longer ranges get wider buckets."""
DAY = timedelta(days=1)
EARLIEST, LATEST = date(1970, 1, 1), date(9999, 1, 1)
FILTERS = ("app_id", "status", "kind", "since", "until")


class HistoryQuerySchema(DeploymentListQuerySchema):
    """GET /api/v1/deployments's filters, with the time range in whole days (UTC), as a
    date input sends it; loaded, `since` and `until` are the API's (until is exclusive)."""

    per_page = Integer(load_default=PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    since = fields.Date(validate=validate.Range(min=EARLIEST, max=LATEST))
    until = fields.Date(validate=validate.Range(min=EARLIEST, max=LATEST))

    @validates_schema
    def _in_order(self, data: dict[str, Any], **_: Any) -> None:
        if "since" in data and "until" in data and data["since"] > data["until"]:
            raise ValidationError("Must be on or after the `since` day.", "until")

    @post_load
    def _as_times(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "since" in data:
            data["since"] = datetime.combine(data["since"], time(), UTC)
        if "until" in data:
            data["until"] = datetime.combine(data["until"] + DAY, time(), UTC)
        return data


HISTORY_QUERY = HistoryQuerySchema(unknown=EXCLUDE)


def filters(request: web.Request) -> dict[str, Any]:
    """The page's query as the API's list parameters; an empty field is no filter."""
    given = {key: value for key, value in request.query.items() if value.strip()}
    try:
        return HISTORY_QUERY.load(given)
    except ValidationError as error:
        details = error.normalized_messages()
        said = "; ".join(f"{key}: {' '.join(map(str, v))}" for key, v in details.items())
        raise ValidationFailed(f"These filters are not valid: {said}", details=details) from None


def chart_range(params: dict[str, Any], today: date) -> tuple[datetime, datetime, timedelta]:
    """The chart's buckets: the filtered days (by default the 30 days up to today), a day
    each, or wider buckets when that would make more than MAX_POINTS."""
    end = params.get("until") or datetime.combine(today + DAY, time(), UTC)
    start = params.get("since") or end - DEFAULT_RANGE
    days = math.ceil((end - start) / DAY)
    return start, end, DAY * max(1, math.ceil(days / MAX_POINTS))


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{plain_number(round(value, 1))} s"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{plain_number(round(rate * 100, 1))} %"


def charts(over_time: list[tuple[datetime, dict[str, Any]]], step: timedelta) -> list[Markup]:
    """Success rate, and p50/p95 durations, per bucket."""
    per = "day" if step == DAY else f"{step.days} days"
    labels = [start.date().isoformat() for start, _ in over_time]
    rates = [f["success_rate"] for _, f in over_time]
    return [
        line_chart(
            f"Success rate per {per}",
            labels,
            {"Succeeded": [None if r is None else round(r * 100, 1) for r in rates]},
            unit=" %",
            y_max=100,
        ),
        line_chart(
            f"Duration of successful deployments per {per}",
            labels,
            {
                "p50": [f["median_duration_s"] for _, f in over_time],
                "p95": [f["p95_duration_s"] for _, f in over_time],
            },
            unit=" s",
        ),
    ]


async def latest_tasks(deployment_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The task running (or that last ran) each deployment, in one query."""
    rows = (
        await Task.filter(deployment_id__in=deployment_ids)
        .order_by("id")
        .values("id", "deployment_id", "kind", "status")
    )
    return {row["deployment_id"]: row for row in rows}


@page()
async def deployments_page(request: web.Request) -> web.Response:
    params = filters(request)
    found = matching(request, params)
    total = await found.count()
    number, per_page = params["page"], params["per_page"]
    rows = (
        await found.order_by(*ordering(params["sort"]))
        .offset((number - 1) * per_page)
        .limit(per_page)
        .prefetch_related("app", "version")
    )
    start, end, step = chart_range(params, datetime.now(UTC).date())
    overall, over_time = await stats_over_time(found, start, end, step)
    filtered = any(key in params for key in FILTERS)
    return render(
        request,
        "deployments.html",
        {
            "deployments": rows,
            "durations": {d.id: seconds(duration(d)) for d in rows},
            "tasks": await latest_tasks([d.id for d in rows]),
            "apps": await visible(request, App.all()).order_by("name").values("id", "name"),
            "statuses": list(DeploymentStatus),
            "kinds": list(DeploymentKind),
            "chosen": request.query,
            "total": total,
            "filtered": filtered,
            "newest_first": number == 1 and params["sort"] == "-id" and not filtered,
            **Paging(number, per_page).links(request, total),
            "range": (start.date(), (end - DAY).date()),
            "overall": overall,
            "seconds": seconds,
            "percent": percent,
            "charts": charts(over_time, step),
        },
    )


def register(app: web.Application) -> None:
    app.router.add_get("/deployments", deployments_page)

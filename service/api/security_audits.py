"""A server's audit schedule and its audit history (with drift); schemas beside the handlers."""

from typing import Any

from aiohttp import web
from aiohttp_apispec import querystring_schema, request_schema, response_schema
from marshmallow import Schema, ValidationError, fields, validate

from service.api.common import (
    ID_PATTERN,
    body,
    json_response,
    no_content,
    operation,
    paginate,
    query,
    record_id,
)
from service.api.schemas import PageQuerySchema, page_schema, sort_field
from service.domain import security_audits
from service.domain.records import get_or_404
from service.errors import NotFound
from service.keys import SCHEDULER
from service.models import AuditReport, AuditSchedule, Server
from service.scheduling.cron import CronError, check_cron, next_occurrence

TAGS = ["security audits"]


def valid_cron(expression: str) -> None:
    try:
        check_cron(expression)
    except CronError as exc:
        raise ValidationError(f"Not a cron expression: {exc}") from None


class AuditScheduleInputSchema(Schema):
    cron = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=100), valid_cron],
        metadata={
            "description": "5 fields (minute hour day-of-month month day-of-week), in UTC.",
            "example": "30 3 * * 1",
        },
    )


class AuditScheduleSchema(Schema):
    server_id = fields.Integer(required=True)
    cron = fields.String(required=True, metadata={"example": "30 3 * * 1"})
    next_run_at = fields.DateTime(required=True, metadata={"description": "In UTC."})
    created = fields.DateTime(required=True)
    updated = fields.DateTime(required=True)


class AuditFindingSummarySchema(Schema):
    id = fields.String(required=True, metadata={"example": "ssh_password_authentication"})
    title = fields.String(allow_none=True)
    severity = fields.String(allow_none=True, metadata={"example": "high"})
    passed = fields.Boolean(required=True)


class AuditHistoryEntrySchema(Schema):
    id = fields.Integer(required=True)
    task_id = fields.Integer(
        allow_none=True, metadata={"description": "Null once the task has been purged."}
    )
    finished_at = fields.DateTime(required=True)
    score = fields.Float(required=True, metadata={"example": 87.5})
    passed = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    findings = fields.List(fields.Nested(AuditFindingSummarySchema), required=True)
    drift = fields.Dict(
        allow_none=True,
        metadata={
            "description": "What got worse since the previous audit (as in `audit.drift`).",
            "example": {
                "report_id": 8,
                "previous_report_id": 7,
                "score": 87.5,
                "previous_score": 100.0,
                "findings": [
                    {
                        "id": "ssh_password_authentication",
                        "title": "SSH password authentication is disabled",
                        "severity": "high",
                        "passed": False,
                        "previously_passed": True,
                    }
                ],
            },
        },
    )


class AuditHistoryQuerySchema(PageQuerySchema):
    sort = sort_field(["id", "finished_at", "score"], default="-id")


AuditHistoryEntryPageSchema = page_schema(AuditHistoryEntrySchema)
SCHEDULE = AuditScheduleSchema()
HISTORY_ENTRY = AuditHistoryEntrySchema()


def schedule_response(request: web.Request, schedule: AuditSchedule) -> web.Response:
    now = request.config_dict[SCHEDULER].clock.now()
    data: dict[str, Any] = {
        "server_id": schedule.server_id,
        "cron": schedule.cron,
        "next_run_at": next_occurrence(schedule.cron, now),
        "created": schedule.created,
        "updated": schedule.updated,
    }
    return json_response(SCHEDULE.dump(data))


@operation(
    tags=TAGS,
    summary="Audit the server on a cron schedule",
    description="Creates or replaces the schedule. Each occurrence queues one audit task "
    "(as POST /security/audit does); occurrences missed while the service was down fire "
    "once, for the latest of them.",
    errors=[NotFound],
)
@request_schema(AuditScheduleInputSchema)
@response_schema(SCHEDULE, 200, description="The schedule and its next occurrence.")
async def put_schedule(request: web.Request) -> web.Response:
    now = request.config_dict[SCHEDULER].clock.now()
    schedule = await security_audits.set_schedule(record_id(request), body(request)["cron"], now)
    request.config_dict[SCHEDULER].schedules_changed()
    return schedule_response(request, schedule)


@operation(tags=TAGS, summary="The server's audit schedule", errors=[NotFound])
@response_schema(SCHEDULE, 200, description="The schedule and its next occurrence.")
async def get_schedule(request: web.Request) -> web.Response:
    return schedule_response(request, await security_audits.get_schedule(record_id(request)))


@operation(tags=TAGS, summary="Stop auditing the server on a schedule", errors=[NotFound])
@response_schema(None, 204, description="Deleted.")
async def delete_schedule(request: web.Request) -> web.Response:
    await security_audits.delete_schedule(record_id(request))
    request.config_dict[SCHEDULER].schedules_changed()
    return no_content()


@operation(
    tags=TAGS,
    summary="The server's audit history with scores, newest first by default",
    description="One entry per finished audit, kept after its task is gone; `drift` names "
    "the findings that changed when one that passed before fails (or the score dropped).",
    errors=[NotFound],
)
@querystring_schema(AuditHistoryQuerySchema)
@response_schema(AuditHistoryEntryPageSchema, 200, description="One page of audits.")
async def list_audits(request: web.Request) -> web.Response:
    server = await get_or_404(Server, record_id(request))
    return await paginate(AuditReport.filter(server_id=server.id), query(request), HISTORY_ENTRY)


def register(app: web.Application) -> None:
    server = f"/servers/{ID_PATTERN}"
    app.router.add_put(f"{server}/audit-schedule", put_schedule)
    app.router.add_get(f"{server}/audit-schedule", get_schedule)
    app.router.add_delete(f"{server}/audit-schedule", delete_schedule)
    app.router.add_get(f"{server}/security/audits", list_audits)

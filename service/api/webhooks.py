"""/webhooks: outgoing webhooks (admin) and the record of their deliveries."""

from aiohttp import web
from aiohttp_apispec import querystring_schema, request_schema, response_schema
from marshmallow import Schema, fields, validate

from service.api.common import (
    ID_PATTERN,
    body,
    created,
    filter_by,
    no_content,
    operation,
    paginate,
    query,
    record_id,
    respond,
)
from service.api.schemas import (
    PageQuerySchema,
    StrictBoolean,
    StrictInteger,
    TimestampedSchema,
    page_schema,
    sort_field,
)
from service.domain import webhooks
from service.domain.records import get_or_404
from service.errors import NotFound
from service.keys import SECRETS
from service.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent, WebhookFormat

TAGS = ["webhooks"]


class WebhookSchema(TimestampedSchema):
    url = fields.URL(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2048),
        metadata={"example": "https://hooks.example.com/pb-deployer"},
    )
    events = fields.List(
        fields.String(validate=validate.OneOf([event.value for event in WebhookEvent])),
        required=True,
        validate=validate.Length(min=1, max=len(WebhookEvent)),
        metadata={"example": ["task.finished", "deployment.rolled_back"]},
    )
    server_id = StrictInteger(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1),
        metadata={"description": "Only events about this server."},
    )
    app_id = StrictInteger(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1),
        metadata={"description": "Only events about this app."},
    )
    format = fields.Enum(
        WebhookFormat,
        by_value=True,
        load_default=WebhookFormat.JSON,
        metadata={"description": "`json`: the event; `slack`: `{text}`; `discord`: `{content}`."},
    )
    enabled = StrictBoolean(load_default=True)
    secret = fields.String(
        load_only=True,
        validate=validate.Length(min=16, max=256),
        metadata={
            "description": "Signing secret (HMAC-SHA256); omit it and the service makes one, "
            "shown once in the create response. Never returned otherwise."
        },
    )


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(
        dump_only=True,
        metadata={"description": "Only when the service made the secret: keep it, it is "
                  "never shown again."},
    )  # fmt: skip


class WebhookDeliverySchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 1})
    webhook_id = fields.Integer(dump_only=True)
    event = fields.String(dump_only=True, metadata={"example": "task.finished"})
    status = fields.Enum(DeliveryStatus, by_value=True, dump_only=True)
    attempts = fields.Integer(dump_only=True)
    response_code = fields.Integer(
        dump_only=True, allow_none=True, metadata={"description": "Of the last attempt."}
    )
    duration_ms = fields.Float(
        dump_only=True, allow_none=True, metadata={"description": "Of the last attempt."}
    )
    error = fields.String(dump_only=True, allow_none=True)
    history = fields.List(
        fields.Dict(),
        dump_only=True,
        metadata={
            "description": "Every attempt: when it started, its response code, duration, error.",
            "example": [
                {"at": "2026-12-02T03:00:00+00:00", "response_code": 503, "duration_ms": 4.1,
                 "error": "The endpoint answered HTTP 503."}
            ],
        },
    )  # fmt: skip
    next_attempt_at = fields.DateTime(
        dump_only=True, metadata={"description": "When a pending delivery is tried next."}
    )
    created = fields.DateTime(dump_only=True)
    finished_at = fields.DateTime(dump_only=True, allow_none=True)


class WebhookListQuerySchema(PageQuerySchema):
    sort = sort_field(["id", "created", "updated"])


class WebhookDeliveryListQuerySchema(PageQuerySchema):
    sort = sort_field(["id", "created"], default="-id")
    status = fields.Enum(DeliveryStatus, by_value=True)


WebhookPageSchema = page_schema(WebhookSchema)
WebhookDeliveryPageSchema = page_schema(WebhookDeliverySchema)

WEBHOOK = WebhookSchema()
WEBHOOK_CHANGES = WebhookSchema(partial=True)
CREATED = WebhookCreatedSchema()
DELIVERY = WebhookDeliverySchema()


@operation(tags=TAGS, summary="List webhooks (their secrets are never shown)")
@querystring_schema(WebhookListQuerySchema)
@response_schema(WebhookPageSchema, 200, description="One page of webhooks.")
async def list_webhooks(request: web.Request) -> web.Response:
    return await paginate(Webhook.all(), query(request), WEBHOOK)


@operation(
    tags=TAGS,
    summary="Add a webhook: signed JSON POSTs for the events it names",
    description="Each delivery carries `X-PBD-Timestamp` and `X-PBD-Signature-256: "
    "sha256=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` with the secret.",
)
@request_schema(WEBHOOK)
@response_schema(CREATED, 201, description="The new webhook (with the secret if made here).")
async def create_webhook(request: web.Request) -> web.Response:
    webhook, generated = await webhooks.create_webhook(body(request), request.config_dict[SECRETS])
    return created(WEBHOOK, webhook, "webhooks", **({"secret": generated} if generated else {}))


@operation(tags=TAGS, summary="Get one webhook", errors=[NotFound])
@response_schema(WEBHOOK, 200, description="The webhook.")
async def get_webhook(request: web.Request) -> web.Response:
    return respond(WEBHOOK, await get_or_404(Webhook, record_id(request)))


@operation(
    tags=TAGS,
    summary="Change some fields of a webhook (a new `secret` replaces the old one)",
    errors=[NotFound],
)
@request_schema(WEBHOOK_CHANGES)
@response_schema(WEBHOOK, 200, description="The updated webhook.")
async def update_webhook(request: web.Request) -> web.Response:
    changed = await webhooks.update_webhook(
        record_id(request), body(request), request.config_dict[SECRETS]
    )
    return respond(WEBHOOK, changed)


@operation(tags=TAGS, summary="Delete a webhook and its deliveries", errors=[NotFound])
@response_schema(None, 204, description="Deleted.")
async def delete_webhook(request: web.Request) -> web.Response:
    webhook = await get_or_404(Webhook, record_id(request))
    await webhook.delete()
    return no_content()


@operation(
    tags=TAGS,
    summary="Deliveries of a webhook, newest first: status, attempts, response code, duration",
    errors=[NotFound],
)
@querystring_schema(WebhookDeliveryListQuerySchema)
@response_schema(WebhookDeliveryPageSchema, 200, description="One page of deliveries.")
async def list_deliveries(request: web.Request) -> web.Response:
    webhook = await get_or_404(Webhook, record_id(request))
    params = query(request)
    found = filter_by(WebhookDelivery.filter(webhook_id=webhook.id), params, "status")
    return await paginate(found, params, DELIVERY)


def register(app: web.Application) -> None:
    app.router.add_get("/webhooks", list_webhooks)
    app.router.add_post("/webhooks", create_webhook)
    app.router.add_get(f"/webhooks/{ID_PATTERN}", get_webhook)
    app.router.add_patch(f"/webhooks/{ID_PATTERN}", update_webhook)
    app.router.add_delete(f"/webhooks/{ID_PATTERN}", delete_webhook)
    app.router.add_get(f"/webhooks/{ID_PATTERN}/deliveries", list_deliveries)

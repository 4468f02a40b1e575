"""/tokens: API tokens, their roles and scopes (admin only). A secret is shown once, at creation."""

from aiohttp import web
from aiohttp_apispec import querystring_schema, request_schema, response_schema
from marshmallow import Schema, fields, validate

from service.api.common import (
    ID_PATTERN,
    body,
    created,
    no_content,
    operation,
    paginate,
    query,
    record_id,
)
from service.api.schemas import NAME, PageQuerySchema, StrictInteger, page_schema, sort_field
from service.domain import tokens
from service.errors import NotFound
from service.keys import ENGINE, SETTINGS
from service.models import ApiToken, Role

TAGS = ["tokens"]
SCOPE_IDS = {
    "validate": validate.Length(max=500),
    "allow_none": True,
}


class TokenSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 2})
    name = fields.String(required=True, validate=NAME, metadata={"example": "ci"})
    prefix = fields.String(dump_only=True, metadata={"example": "pbd_Xy3kQ9"})
    role = fields.Enum(Role, by_value=True, load_default=Role.VIEWER)
    scope_apps = fields.List(
        StrictInteger(validate=validate.Range(min=1)),
        metadata={
            "description": "App ids the token may see; with scope_servers, null for no limit. "
            "Everything outside a scope is 404 to the token.",
            "example": [1],
        },
        **SCOPE_IDS,
    )
    scope_servers = fields.List(
        StrictInteger(validate=validate.Range(min=1)),
        metadata={"description": "Server ids the token may see.", "example": []},
        **SCOPE_IDS,
    )
    created = fields.DateTime(dump_only=True)
    expires_at = fields.DateTime(dump_only=True, allow_none=True)
    last_used_at = fields.DateTime(dump_only=True, allow_none=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class TokenCreateSchema(TokenSchema):
    expires_in = fields.String(
        load_only=True,
        validate=validate.Regexp(
            tokens.DURATION_RE, error="Use a number (1-9999) and a unit m, h, d or w, e.g. 30d."
        ),
        metadata={"description": "Lifetime, e.g. `12h`, `30d`; none: no expiry.", "example": "30d"},
    )


class IssuedTokenSchema(TokenSchema):
    token = fields.String(
        dump_only=True,
        metadata={"description": "The secret. It is shown only in this response."},
    )


class TokenListQuerySchema(PageQuerySchema):
    sort = sort_field(["id", "name", "role", "created", "last_used_at", "expires_at"])


TOKEN = TokenSchema()
TokenPageSchema = page_schema(TokenSchema)


@operation(tags=TAGS, summary="List tokens (never their secrets)")
@querystring_schema(TokenListQuerySchema)
@response_schema(TokenPageSchema, 200, description="One page of tokens.")
async def list_tokens(request: web.Request) -> web.Response:
    return await paginate(ApiToken.all(), query(request), TOKEN)


@operation(tags=TAGS, summary="Create a token with a role and an optional scope")
@request_schema(TokenCreateSchema)
@response_schema(IssuedTokenSchema, 201, description="The token, with its secret (shown once).")
async def create_token(request: web.Request) -> web.Response:
    given = body(request)
    issued = await tokens.issue_token(
        given["name"],
        given["role"],
        apps=given.get("scope_apps"),
        servers=given.get("scope_servers"),
        expires_at=tokens.expiry(given.get("expires_in")),
    )
    return created(TOKEN, issued.token, "tokens", token=issued.secret)


@operation(tags=TAGS, summary="Revoke a token (it gets 401 from now on)", errors=[NotFound])
@response_schema(None, 204, description="Revoked.")
async def revoke_token(request: web.Request) -> web.Response:
    await tokens.revoke_token(record_id(request), request.config_dict[SETTINGS].data_dir)
    request.config_dict[ENGINE].bus.send({"t": "tokens"})
    return no_content()


def register(app: web.Application) -> None:
    app.router.add_get("/tokens", list_tokens)
    app.router.add_post("/tokens", create_token)
    app.router.add_delete(f"/tokens/{ID_PATTERN}", revoke_token)

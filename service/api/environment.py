"""/apps/{id}/env: an app's environment variables and secrets (secret values never leave)."""

from aiohttp import web
from aiohttp_apispec import request_schema, response_schema
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.api.common import ID_PATTERN, body, json_response, operation, record_id
from service.api.schemas import StrictBoolean
from service.domain import environment
from service.errors import NotFound
from service.keys import SECRETS

TAGS = ["apps"]
ENV_NAME_RE = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
MAX_VALUE = 32 * 1024
MAX_VARIABLES = 500
SET_BY_THE_DEPLOY = frozenset(
    {"PORT", "APP_NAME", "APP_VERSION", "APP_RELEASE", "APP_ROOT", "APP_SLOT"}
)


def _not_set_by_the_deploy(name: str) -> None:
    if name in SET_BY_THE_DEPLOY:
        raise ValidationError(f"{name} is set by the deploy itself.")


def _printable_line(value: str) -> None:
    if any(char in value for char in "\x00\n\r"):
        raise ValidationError("A value cannot hold a NUL, a newline or a carriage return.")


class VariableInSchema(Schema):
    name = fields.String(
        required=True,
        validate=[
            validate.Regexp(ENV_NAME_RE, error="Not an environment variable name."),
            _not_set_by_the_deploy,
        ],
        metadata={"example": "DATABASE_URL"},
    )
    value = fields.String(
        required=True,
        allow_none=True,
        validate=[validate.Length(max=MAX_VALUE), _printable_line],
        metadata={"description": "null removes the variable.", "example": "postgres://db/shop"},
    )
    secret = StrictBoolean(
        metadata={"description": "Stored encrypted and never shown again (default: false, "
                  "or what the variable already is for PATCH)."}
    )  # fmt: skip


class EnvironmentInSchema(Schema):
    variables = fields.List(
        fields.Nested(VariableInSchema), required=True, validate=validate.Length(max=MAX_VARIABLES)
    )

    @validates_schema
    def names_once(self, data: dict, **kwargs: object) -> None:
        names = [item["name"] for item in data.get("variables", [])]
        if len(names) != len(set(names)):
            raise ValidationError("Each name may appear once.", "variables")


class VariableOutSchema(Schema):
    name = fields.String(required=True)
    secret = fields.Boolean(required=True)
    value = fields.String(metadata={"description": "Plain variables only."})
    fingerprint = fields.String(
        metadata={"description": "Secrets only: a keyed hash that changes with the value."}
    )
    updated = fields.DateTime(required=True)


class EnvironmentOutSchema(Schema):
    variables = fields.List(fields.Nested(VariableOutSchema), required=True)


ENVIRONMENT = EnvironmentOutSchema()
APPLIES = "Nothing is restarted: the next deploy of the app applies the environment."


def _answer(variables: list) -> web.Response:
    return json_response(ENVIRONMENT.dump({"variables": environment.view(variables)}))


@operation(tags=TAGS, summary="The app's environment (secret values are never shown)",
           errors=[NotFound])  # fmt: skip
@response_schema(ENVIRONMENT, 200, description="The variables, by name.")
async def get_environment(request: web.Request) -> web.Response:
    return _answer(await environment.variables_of(record_id(request)))


@operation(tags=TAGS, summary="Replace the app's environment", description=APPLIES,
           errors=[NotFound])  # fmt: skip
@request_schema(EnvironmentInSchema)
@response_schema(ENVIRONMENT, 200, description="The new environment.")
async def put_environment(request: web.Request) -> web.Response:
    box = request.config_dict[SECRETS]
    return _answer(await environment.replace(record_id(request), body(request)["variables"], box))


@operation(
    tags=TAGS,
    summary="Change some variables of the app's environment",
    description="Variables are merged by name; a null value removes one. " + APPLIES,
    errors=[NotFound],
)
@request_schema(EnvironmentInSchema)
@response_schema(ENVIRONMENT, 200, description="The new environment.")
async def patch_environment(request: web.Request) -> web.Response:
    box = request.config_dict[SECRETS]
    return _answer(await environment.merge(record_id(request), body(request)["variables"], box))


def register(app: web.Application) -> None:
    path = f"/apps/{ID_PATTERN}/env"
    app.router.add_get(path, get_environment)
    app.router.add_put(path, put_environment)
    app.router.add_patch(path, patch_environment)

"""/apps/{id}/deploy-hook: a signed, token-less way for CI to deploy an uploaded version.

PUT (admin) sets a new secret and shows it once; DELETE removes it. POST is public: the
`X-Hub-Signature-256` HMAC of the raw body is checked (in constant time) before the body
is parsed, and then the deploy goes the same way as POST /apps/{id}/deploy, with
`created_by` null and `actor` `deploy-hook`.
"""

from aiohttp import web
from aiohttp_apispec import request_schema, response_schema
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.api.auth import public
from service.api.common import ID_PATTERN, body, json_response, no_content, operation, record_id
from service.api.deployments import start_deploy
from service.api.schemas import (
    VERSION_NUMBER,
    DeploymentAcceptedSchema,
    DeploySchema,
    StrictInteger,
)
from service.api.validation import body_verified_by
from service.domain import deploy_hooks
from service.domain.tokens import DEPLOY_HOOK
from service.errors import Conflict, NotFound, Unauthorized
from service.keys import SECRETS

TAGS = ["deployments"]
HOOK_PATH = f"/apps/{ID_PATTERN}/deploy-hook"


class DeployHookSecretSchema(Schema):
    app_id = fields.Integer(required=True, metadata={"example": 3})
    secret = fields.String(
        required=True,
        metadata={
            "description": "The HMAC key. It is shown only in this response.",
            "example": "4f1c...e9",
        },
    )
    created = fields.DateTime(required=True)
    url = fields.String(required=True, metadata={"example": "/api/v1/apps/3/deploy-hook"})
    signature_header = fields.String(
        required=True,
        metadata={
            "description": "Send `sha256=<hex HMAC-SHA256 of the raw body>` in this header.",
            "example": deploy_hooks.SIGNATURE_HEADER,
        },
    )


class HookDeploySchema(DeploySchema):
    """POST /apps/{id}/deploy's body, naming the version by number or by id."""

    version_id = StrictInteger(
        validate=validate.Range(min=1),
        metadata={"description": "The version to deploy, by id (or give `version`).", "example": 3},
    )
    version = fields.String(
        validate=VERSION_NUMBER,
        metadata={"description": "The version to deploy, by its number.", "example": "1.4.0"},
    )

    @validates_schema
    def one_version(self, data: dict, **kwargs: object) -> None:
        if ("version" in data) == ("version_id" in data):
            raise ValidationError("Name the version by `version` or by `version_id`, not both.")


async def check_signature(request: web.Request, raw: bytes) -> None:
    header = request.headers.get(deploy_hooks.SIGNATURE_HEADER)
    await deploy_hooks.verify(record_id(request), raw, header, request.config_dict[SECRETS])


@operation(
    tags=TAGS,
    summary="Give the app a deploy hook secret (a new one each time)",
    description="The secret is shown only in this answer; an older one stops working.",
    errors=[NotFound],
)
@response_schema(DeployHookSecretSchema, 200, description="The secret, shown once.")
async def set_deploy_hook(request: web.Request) -> web.Response:
    hook, secret = await deploy_hooks.set_secret(record_id(request), request.config_dict[SECRETS])
    return json_response(
        DeployHookSecretSchema().dump(
            {
                "app_id": hook.app_id,
                "secret": secret,
                "created": hook.created,
                "url": request.path,
                "signature_header": deploy_hooks.SIGNATURE_HEADER,
            }
        )
    )


@operation(tags=TAGS, summary="Remove the app's deploy hook", errors=[NotFound])
@response_schema(None, 204, description="Removed: signed calls get 401 from now on.")
async def delete_deploy_hook(request: web.Request) -> web.Response:
    await deploy_hooks.remove(record_id(request))
    return no_content()


@public
@operation(
    tags=TAGS,
    summary="Deploy a version, signed with the app's hook secret (no token)",
    description="For CI: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed "
    "with the hook secret>` (GitHub's webhook signature). The signature is checked before the "
    "body is read as JSON; a missing or wrong one (or an app without a hook) is 401. The body "
    "is POST /apps/{id}/deploy's, naming the version by `version` (its number, e.g. "
    '`{"version": "1.4.0"}`) or by `version_id`; the version must be uploaded already. A '
    "GitHub push event names a commit, not an uploaded version, so point GitHub at a CI job "
    "that uploads the zip and then calls this hook.",
    errors=[Unauthorized, NotFound, Conflict],
    headers={deploy_hooks.SIGNATURE_HEADER: "`sha256=` and the hex HMAC-SHA256 of the raw body."},
)
@body_verified_by(check_signature)
@request_schema(HookDeploySchema)
@response_schema(DeploymentAcceptedSchema, 202, description="The deployment and its task.")
async def deploy_by_hook(request: web.Request) -> web.Response:
    data = body(request)
    version_id = await deploy_hooks.version_id(record_id(request), data)
    return await start_deploy(request, {**data, "version_id": version_id}, DEPLOY_HOOK)


def register(app: web.Application) -> None:
    app.router.add_put(HOOK_PATH, set_deploy_hook)
    app.router.add_delete(HOOK_PATH, delete_deploy_hook)
    app.router.add_post(HOOK_PATH, deploy_by_hook)

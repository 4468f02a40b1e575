"""/apps/{id}/certificate: a certificate the user supplies instead of ACME (key never shown)."""

from aiohttp import web
from aiohttp_apispec import request_schema, response_schema
from marshmallow import Schema, fields, validate

from service.api.common import ID_PATTERN, body, json_response, no_content, operation, record_id
from service.domain import certificates
from service.errors import NotFound, ValidationFailed
from service.keys import SECRETS

TAGS = ["apps"]
MAX_PEM = 64 * 1024
APPLIES = "The next deploy of the app installs it (or, after a delete, goes back to ACME)."


class CertificateInSchema(Schema):
    certificate = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_PEM),
        metadata={"description": "PEM certificate chain, the domain's certificate first."},
    )
    key = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_PEM),
        metadata={"description": "Its PEM private key, unencrypted; stored encrypted."},
    )


class CertificateOutSchema(Schema):
    issuer = fields.String(required=True)
    names = fields.List(fields.String(), required=True)
    serial = fields.String(required=True)
    not_after = fields.DateTime(required=True)
    key_fingerprint = fields.String(
        required=True, metadata={"description": "A keyed hash of the key (never the key)."}
    )
    uploaded = fields.DateTime(required=True)


CERTIFICATE = CertificateOutSchema()


def _answer(record: object) -> web.Response:
    return json_response(CERTIFICATE.dump(certificates.upload_view(record)))


@operation(tags=TAGS, summary="The certificate uploaded for the app", errors=[NotFound])
@response_schema(CERTIFICATE, 200, description="The uploaded certificate (its key is never shown).")
async def get_certificate(request: web.Request) -> web.Response:
    record = await certificates.uploaded(record_id(request))
    if record is None:
        raise NotFound("The app has no uploaded certificate (it uses ACME).")
    return _answer(record)


@operation(
    tags=TAGS,
    summary="Upload a certificate for the app's domain",
    description="Refused unless the key matches the certificate, which names the app's domain "
    "and has not expired. " + APPLIES,
    errors=[NotFound, ValidationFailed],
)
@request_schema(CertificateInSchema)
@response_schema(CERTIFICATE, 200, description="The stored certificate.")
async def put_certificate(request: web.Request) -> web.Response:
    data = body(request)
    box = request.config_dict[SECRETS]
    return _answer(
        await certificates.upload(record_id(request), data["certificate"], data["key"], box)
    )


@operation(tags=TAGS, summary="Remove the uploaded certificate", description=APPLIES,
           errors=[NotFound])  # fmt: skip
@response_schema(None, 204, description="Removed.")
async def delete_certificate(request: web.Request) -> web.Response:
    await certificates.remove_upload(record_id(request))
    return no_content()


def register(app: web.Application) -> None:
    path = f"/apps/{ID_PATTERN}/certificate"
    app.router.add_get(path, get_certificate)
    app.router.add_put(path, put_certificate)
    app.router.add_delete(path, delete_certificate)

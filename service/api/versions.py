"""/versions: builds of an app: metadata, and the deploy zip (streamed up and down)."""

import base64
import os

from aiohttp import hdrs, web
from aiohttp_apispec import querystring_schema, request_schema, response_schema

from service.api.access import visible
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
from service.api.schemas import VersionListQuerySchema, VersionPageSchema, VersionSchema
from service.api.validation import check_content_encoding
from service.domain import uploads, versions
from service.domain.records import get_or_404
from service.errors import (
    BadRequest,
    Conflict,
    InsufficientStorage,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
    RequestTimeout,
    UnsupportedMediaType,
    ValidationFailed,
)
from service.keys import SETTINGS
from service.models import App, Version
from service.storage.uploads import receive

VERSION = VersionSchema()
TAGS = ["versions"]


@operation(tags=TAGS, summary="List versions, optionally of one app")
@querystring_schema(VersionListQuerySchema)
@response_schema(VersionPageSchema, 200, description="One page of versions.")
async def list_versions(request: web.Request) -> web.Response:
    params = query(request)
    return await paginate(
        filter_by(visible(request, Version.all()), params, "app_id"), params, VERSION
    )


@operation(tags=TAGS, summary="Create a version of an app", errors=[Conflict])
@request_schema(VERSION)
@response_schema(VERSION, 201, description="The new version.")
async def create_version(request: web.Request) -> web.Response:
    return created(VERSION, await versions.create_version(body(request)), "versions")


@operation(tags=TAGS, summary="Get one version", errors=[NotFound])
@response_schema(VERSION, 200, description="The version.")
async def get_version(request: web.Request) -> web.Response:
    return respond(VERSION, await get_or_404(Version, record_id(request)))


@operation(
    tags=TAGS,
    summary="Delete a version",
    description="Refused with 409 for the version the app runs now.",
    errors=[NotFound, Conflict],
)
@response_schema(None, 204, description="Deleted.")
async def delete_version(request: web.Request) -> web.Response:
    await versions.delete_version(record_id(request), request.config_dict[SETTINGS].uploads_dir)
    return no_content()


UPLOAD_TYPES = {"application/zip", "application/octet-stream", "application/x-zip-compressed"}


@operation(
    tags=TAGS,
    summary="Upload the version's deploy zip (the raw body, streamed)",
    description="Send the zip as the body with `Content-Type: application/zip`. It is streamed "
    "to disk and hashed (SHA-256) on the way, never held in memory; a body over the limit "
    "(default 1 GiB) gets 413 as soon as that is known; a client that sends nothing for "
    "`PBD_BODY_TIMEOUT` seconds gets 408 and is disconnected. The zip is checked before it "
    "is accepted: names (unique, no control characters), paths, symlinks (also chains of "
    "them), entry count (read from the end record first), unpacked size and ratio (zip "
    "bombs). With `X-Checksum-SHA256: <64 hex digits>` the body's SHA-256 must equal "
    "that digest, else 422 `validation_failed` with `details.expected` and `details.actual` "
    "(a malformed digest is 422 before the body is read). A cut-off or refused upload "
    "leaves nothing behind and the version without a zip. Of two concurrent uploads "
    "to one version, the first to finish wins; the other gets 409.",
    errors=[
        NotFound,
        Conflict,
        RequestTimeout,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        BadRequest,
        InsufficientStorage,
    ],
)
@response_schema(VERSION, 201, description="The version with its checksum and size.")
async def upload_zip(request: web.Request) -> web.Response:
    version = await get_or_404(Version, record_id(request))
    uploads.ensure_not_uploaded(version)
    if request.content_type not in UPLOAD_TYPES:
        raise UnsupportedMediaType(
            "Send the zip as the raw body with 'Content-Type: application/zip'.",
            details={"content_type": request.content_type},
        )
    check_content_encoding(request)
    expected = uploads.expected_sha256(request.headers.get(uploads.CHECKSUM_HEADER))
    settings = request.config_dict[SETTINGS]
    received = await receive(
        request.content.iter_any(),
        settings.uploads_dir,
        limit=settings.max_upload_bytes,
        declared=request.content_length,
        idle_timeout=settings.body_timeout,
    )
    version = await uploads.accept_upload(settings, version, received, expected)
    return created(VERSION, version, "versions")


def _check_range(request: web.Request, stored: os.stat_result) -> None:
    """The 416 aiohttp's FileResponse would send with an empty body, in the error format."""
    if_range = request.if_range
    if hdrs.RANGE not in request.headers or (
        if_range is not None and stored.st_mtime > if_range.timestamp()
    ):
        return  # no range, or a stale If-Range validator: the whole file (200)
    size = stored.st_size
    try:
        start = request.http_range.start
    except ValueError:
        start = size
    if start is not None and start >= size:
        raise RangeNotSatisfiable(
            f"The range is not within the zip's {size} bytes.",
            details={"size_bytes": size},
            headers={hdrs.CONTENT_RANGE: f"bytes */{size}"},
        )


@operation(
    tags=TAGS,
    summary="Download the version's zip",
    description="Supports HTTP Range (one range; 416 when it lies past the end). The SHA-256 "
    "is in `X-Checksum-SHA256` and `Digest`.",
    errors=[NotFound, RangeNotSatisfiable],
)
@response_schema(None, 200, description="The zip (application/zip).")
@response_schema(None, 206, description="The requested range of the zip.")
async def download_zip(request: web.Request) -> web.StreamResponse:
    version = await get_or_404(Version, record_id(request))
    path = uploads.stored_zip(request.config_dict[SETTINGS], version)
    _check_range(request, path.stat())
    app = await App.get(id=version.app_id)
    digest = base64.b64encode(bytes.fromhex(version.sha256 or "")).decode()
    filename = f"{app.name}-{version.version_number}.zip"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Checksum-SHA256": version.sha256 or "",
            "Digest": f"sha-256={digest}",
        },
    )


def register(app: web.Application) -> None:
    app.router.add_get("/versions", list_versions)
    app.router.add_post("/versions", create_version)
    app.router.add_get(f"/versions/{ID_PATTERN}", get_version)
    app.router.add_delete(f"/versions/{ID_PATTERN}", delete_version)
    app.router.add_post(f"/versions/{ID_PATTERN}/upload", upload_zip)
    app.router.add_get(f"/versions/{ID_PATTERN}/download", download_zip)

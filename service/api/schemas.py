"""Every request and response body of the API, in one place (one schema per resource).

The validators come from `service.validators`; strings are always length-limited, numbers
and booleans refuse values of another JSON type (`"22"`, `true` for a port), and every
integer read from a request is an `Integer`: within the database's INTEGER column.
"""

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service import validators
from service.domain import certificates
from service.health.rules import DEFAULT_INTERVAL, MAX_INTERVAL, MIN_INTERVAL
from service.models import (
    AppStatus,
    DeploymentKind,
    DeploymentStatus,
    DeployStrategy,
    HealthStatus,
    TaskKind,
    TaskStatus,
)

MAX_NOTES = 10_000
MAX_PER_PAGE = 100
DB_INTEGER_MIN = -(2**31)
DB_INTEGER_MAX = 2**31 - 1
"""The range of an INTEGER column (PostgreSQL's; SQLite's is wider): ids, counters, ports."""


class Integer(fields.Integer):
    """Every integer input (query or body): a value the database can compare with its
    columns, so no query overflows. Documented as the schema's minimum/maximum."""

    def __init__(self, **kwargs: Any) -> None:
        own = kwargs.pop("validate", None)
        extra = [] if own is None else own if isinstance(own, list) else [own]
        bounds = validate.Range(min=DB_INTEGER_MIN, max=DB_INTEGER_MAX)
        super().__init__(validate=[bounds, *extra], **kwargs)


class StrictInteger(Integer):
    """An integer that is a JSON number, never a bool or a numeric string."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON true/false; no "yes", 1 or "on"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def rule(check: Any, message: str) -> validate.Validator:
    """A marshmallow validator from one of `service.validators`' predicates."""

    class _Rule(validate.Validator):
        error = message

        def __call__(self, value: Any) -> Any:
            if not check(value):
                raise ValidationError(message)
            return value

    return _Rule()


NAME = [
    validate.Length(min=1, max=64),
    validate.Regexp(
        validators.NAME_RE,
        error="Use 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit.",
    ),
]
USERNAME = [
    validate.Length(min=1, max=32),
    validate.Regexp(
        validators.POSIX_USERNAME_RE,
        error="Not a POSIX login name: lower-case letters, digits, '_' and '-', "
        "starting with a letter or '_', at most 32 characters.",
    ),
]
HOST = [
    validate.Length(min=1, max=253),
    rule(validators.is_host, "Not a host name (RFC 1123), IPv4 or IPv6 address."),
]
ABSOLUTE_PATH = [
    validate.Length(min=1, max=1024),
    rule(
        validators.is_safe_absolute_path,
        "Use an absolute path of plain segments (letters, digits, '.', '-', '_'), no '..'.",
    ),
]
UNIT_NAME = [
    validate.Length(min=1, max=255),
    rule(validators.is_systemd_unit, "Not a valid systemd unit name."),
]
DOMAIN = [
    validate.Length(min=1, max=253),
    rule(validators.is_domain, "Not a domain name (RFC 1123, at least two labels)."),
]
VERSION_NUMBER = [
    validate.Length(min=1, max=128),
    validate.Regexp(
        validators.SEMVER_RE,
        error="Use Semantic Versioning: MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. 1.4.0.",
    ),
]


class TimestampedSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"example": 1})
    created = fields.DateTime(dump_only=True)
    updated = fields.DateTime(dump_only=True)


class CreatedBySchema(TimestampedSchema):
    """A record someone asked for (tasks, deployments): who it was."""

    created_by = fields.Integer(
        attribute="created_by_id",
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "The id of the token that asked for it (see GET /tokens; a revoked "
            "token keeps its row); null when the deploy hook or the service itself did.",
            "example": 2,
        },
    )
    actor = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "Who asked: the token's name at the time, `deploy-hook` or "
            "`scheduler`; null for work the service queued itself (a reconcile after a cut).",
            "example": "ci",
        },
    )


class ServerSchema(TimestampedSchema):
    name = fields.String(required=True, validate=NAME, metadata={"example": "web-1"})
    host = fields.String(required=True, validate=HOST, metadata={"example": "203.0.113.10"})
    port = StrictInteger(
        load_default=22, validate=validate.Range(min=1, max=65535), metadata={"example": 22}
    )
    root_username = fields.String(load_default="root", validate=USERNAME)
    app_username = fields.String(load_default="deploy", validate=USERNAME)
    use_ssh_agent = StrictBoolean(load_default=False)
    manual_key_path = fields.String(
        load_default=None,
        allow_none=True,
        validate=ABSOLUTE_PATH,
        metadata={
            "description": "Private key file on the service's machine.",
            "example": "/root/.ssh/id_ed25519",
        },
    )
    setup_complete = fields.Boolean(dump_only=True)
    security_locked = fields.Boolean(dump_only=True)
    last_connection_ok = fields.Boolean(dump_only=True, allow_none=True)
    last_connection_at = fields.DateTime(dump_only=True, allow_none=True)
    last_connection_error = fields.String(dump_only=True, allow_none=True)
    facts = fields.Dict(
        dump_only=True,
        allow_none=True,
        metadata={"description": "What the last connection test found (distribution, Python)."},
    )


class AppSchema(TimestampedSchema):
    name = fields.String(required=True, validate=NAME, metadata={"example": "shop"})
    server_id = StrictInteger(
        required=True, validate=validate.Range(min=1), metadata={"example": 1}
    )
    remote_path = fields.String(
        required=True, validate=ABSOLUTE_PATH, metadata={"example": "/srv/apps/shop"}
    )
    service_name = fields.String(
        required=True, validate=UNIT_NAME, metadata={"example": "shop.service"}
    )
    domain = fields.String(
        load_default=None,
        allow_none=True,
        validate=DOMAIN,
        metadata={"example": "shop.example.com"},
    )
    current_version = fields.String(dump_only=True, allow_none=True)
    status = fields.Enum(AppStatus, by_value=True, dump_only=True)
    health_interval = StrictInteger(
        load_default=DEFAULT_INTERVAL,
        validate=validate.Range(min=MIN_INTERVAL, max=MAX_INTERVAL),
        metadata={"description": "Seconds between two health checks of each of its hosts."},
    )
    restart_on_down = StrictBoolean(
        load_default=False,
        metadata={
            "description": "Restart the live slot once (health-gated) when a host goes down."
        },
    )
    health_status = fields.Enum(
        HealthStatus,
        by_value=True,
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "What the health checker sees after a deploy: `running` (every "
            "host answers its health URL through nginx), `degraded` (some hosts down), "
            "`down` (all); null until checked. `status` stays the deploy's state."
        },
    )
    tls = StrictBoolean(
        metadata={"description": "Serve the domain over HTTPS (needs a domain; default false)."}
    )
    tls_redirect = StrictBoolean(
        metadata={"description": "With TLS, redirect HTTP to HTTPS (default true)."}
    )
    tls_hsts = StrictBoolean(
        metadata={"description": "With TLS, send Strict-Transport-Security (default false)."}
    )
    certificate = fields.Method(
        "certificate_state",
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "The certificate the last deploy found on the primary server "
            "(null before one): source (acme or uploaded), issuer, names, serial, not_after, "
            "renewed_at, error (the last attempt's, null when it worked) and expires_soon "
            "(under 14 days left).",
            "type": "object",
        },
    )

    def certificate_state(self, app: Any) -> dict[str, Any] | None:
        return certificates.state_view(app.certificate, datetime.now(UTC))


class VersionSchema(TimestampedSchema):
    app_id = StrictInteger(required=True, validate=validate.Range(min=1), metadata={"example": 1})
    version_number = fields.String(
        required=True, validate=VERSION_NUMBER, metadata={"example": "1.4.0"}
    )
    notes = fields.String(load_default="", validate=validate.Length(max=MAX_NOTES))
    deployment_zip = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Stored zip file name, once uploaded."},
    )
    sha256 = fields.String(dump_only=True, allow_none=True)
    size_bytes = fields.Integer(dump_only=True, allow_none=True)
    uploaded_at = fields.DateTime(dump_only=True, allow_none=True)


class TaskSchema(CreatedBySchema):
    kind = fields.Enum(TaskKind, by_value=True, dump_only=True)
    server_ids = fields.List(fields.Integer(), dump_only=True)
    status = fields.Enum(TaskStatus, by_value=True, dump_only=True)
    server_id = fields.Integer(dump_only=True, allow_none=True)
    app_id = fields.Integer(dump_only=True, allow_none=True)
    deployment_id = fields.Integer(dump_only=True, allow_none=True)
    retry_of_id = fields.Integer(dump_only=True, allow_none=True)
    params = fields.Dict(dump_only=True)
    limit_hosts = fields.List(fields.String(), dump_only=True, allow_none=True)
    attempts = fields.Integer(dump_only=True)
    max_attempts = fields.Integer(dump_only=True)
    cancel_requested = fields.Boolean(dump_only=True)
    instance = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The service instance that ran (or runs) the task."},
    )
    progress = fields.Dict(
        dump_only=True,
        metadata={
            "example": {
                "tasks_started": 3,
                "total_tasks": None,
                "current_task": "Gather minimal facts",
                "hosts": {
                    "web-1": {"ok": 2, "changed": 0, "failed": 0, "skipped": 0, "unreachable": 0}
                },
            }
        },
    )
    result = fields.Dict(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "The run's recap; `hosts` holds each server's outcome (`ok`, "
            "`failed`, `unreachable` or `unfinished`) and, for a failure, its error.",
            "example": {
                "runner_status": "failed",
                "rc": 2,
                "failed_hosts": ["web-2"],
                "unreachable_hosts": [],
                "hosts": {
                    "web-1": {"server_id": 1, "outcome": "ok"},
                    "web-2": {
                        "server_id": 2,
                        "outcome": "failed",
                        "error": "web-2: Install the packages: No package matching 'nginx-x'",
                    },
                },
            },
        },
    )
    error = fields.String(dump_only=True, allow_none=True)
    last_seq = fields.Integer(
        dump_only=True, metadata={"description": "Sequence number of the last stored event."}
    )
    not_before = fields.DateTime(dump_only=True, allow_none=True)
    started_at = fields.DateTime(dump_only=True, allow_none=True)
    finished_at = fields.DateTime(dump_only=True, allow_none=True)


class TaskAcceptedSchema(Schema):
    task = fields.Nested(TaskSchema, required=True)
    links = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "example": {
                "self": "/api/v1/tasks/7",
                "events": "/api/v1/tasks/7/events",
                "websocket": "/api/v1/ws",
            }
        },
    )


class TaskEventSchema(Schema):
    seq = fields.Integer(required=True)
    event = fields.Dict(
        required=True,
        metadata={
            "example": {
                "event": "runner_on_ok",
                "host": "web-1",
                "task": "Check the connection and the Python interpreter",
                "task_action": "ansible.builtin.ping",
                "changed": False,
                "result": {"changed": False},
            }
        },
    )


class TaskEventPageSchema(Schema):
    items = fields.List(fields.Nested(TaskEventSchema), required=True)
    last_seq = fields.Integer(required=True)
    finished = fields.Boolean(required=True)


class TaskEventQuerySchema(Schema):
    after = Integer(load_default=0, validate=validate.Range(min=0))
    limit = Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class TaskRetrySchema(Schema):
    failed_hosts_only = StrictBoolean(
        load_default=False, metadata={"description": "Limit the new run to the hosts that failed."}
    )


PUBLIC_KEY_RE = (
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh.com)"
    r" [A-Za-z0-9+/=]{16,8192}( [A-Za-z0-9@._ -]{0,128})?$"
)
PACKAGE_RE = r"^[a-z0-9][a-z0-9+.-]{0,99}$"


class SetupSchema(Schema):
    authorized_keys = fields.List(
        fields.String(
            validate=validate.Regexp(PUBLIC_KEY_RE, error="Not an OpenSSH public key line.")
        ),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={
            "description": "Extra public keys for the app user (the service's key is always added)."
        },
    )
    upgrade = StrictBoolean(
        load_default=False,
        metadata={"description": "Also apply every pending upgrade (apt dist-upgrade)."},
    )
    packages = fields.List(
        fields.String(validate=validate.Regexp(PACKAGE_RE, error="Not a Debian package name.")),
        load_default=list,
        validate=validate.Length(max=200),
        metadata={
            "description": "Packages to install on top of the default set.",
            "example": ["nginx"],
        },
    )


class PortRuleSchema(Schema):
    port = StrictInteger(required=True, validate=validate.Range(min=1, max=65535))
    proto = fields.String(load_default="tcp", validate=validate.OneOf(["tcp", "udp"]))


class LockdownSchema(Schema):
    allowed_ports = fields.List(
        fields.Nested(PortRuleSchema),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={
            "description": "Ports to open besides SSH, 80 and 443.",
            "example": [{"port": 8080}],
        },
    )


def distinct(values: list[Any]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Each server may be named once.")


def server_ids(
    least: int | None, description: str, example: list[int], **options: Any
) -> fields.List:
    """Server ids, each once, at most 500 and at least `least` (`options`: e.g.
    `load_default`)."""
    return fields.List(
        StrictInteger(validate=validate.Range(min=1)),
        validate=[validate.Length(min=least, max=500), distinct],
        metadata={"description": description, "example": example},
        **options,
    )


class ServerSelectionSchema(Schema):
    """The servers one operation runs on together: one task, one playbook over them all.
    They are given by id (`server_ids`) or as a server group's (`group_id`)."""

    server_ids = server_ids(
        1, "The servers, each once; the first is the task's `server_id`.", [1, 2, 3]
    )
    group_id = StrictInteger(
        validate=validate.Range(min=1),
        metadata={
            "description": "Instead of `server_ids`: every server of this group at the time of "
            "the request, in id order.",
            "example": 1,
        },
    )

    @validates_schema
    def one_selection(self, data: dict[str, Any], **_: Any) -> None:
        if ("server_ids" in data) == ("group_id" in data):
            raise ValidationError("Give either server_ids or group_id.", "server_ids")


class ServerGroupSchema(TimestampedSchema):
    name = fields.String(required=True, validate=NAME, metadata={"example": "web"})
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    server_ids = server_ids(
        None, "Its servers, each once (in id order).", [1, 2], load_default=list
    )


class ServersSetupSchema(SetupSchema, ServerSelectionSchema):
    pass


class ServersLockdownSchema(LockdownSchema, ServerSelectionSchema):
    pass


class AuditReportSchema(Schema):
    task_id = fields.Integer(required=True)
    finished_at = fields.DateTime(allow_none=True)
    report = fields.Dict(
        required=True,
        metadata={
            "example": {
                "score": 100.0,
                "passed": 18,
                "failed": 0,
                "findings": [
                    {
                        "id": "ssh_permit_root_login",
                        "title": "Root cannot log in over SSH",
                        "control": "SSH-7412",
                        "severity": "critical",
                        "expected": "no",
                        "actual": "no",
                        "passed": True,
                    }
                ],
            }
        },
    )


class ServiceActionSchema(Schema):
    action = fields.String(
        required=True,
        validate=validate.OneOf(["start", "stop", "restart", "reload", "enable", "disable"]),
        metadata={"example": "restart"},
    )


class ServiceLogsQuerySchema(Schema):
    lines = Integer(load_default=100, validate=validate.Range(min=1, max=5000))
    since = fields.String(
        validate=[
            validate.Length(max=32),
            validate.Regexp(
                r"^(today|yesterday|-?[0-9]{1,6}[smhd]|[0-9]{4}-[0-9]{2}-[0-9]{2}"
                r"( [0-9]{2}:[0-9]{2}(:[0-9]{2})?)?)$",
                error="Use today, yesterday, a relative time like -1h, or YYYY-MM-DD[ HH:MM[:SS]].",
            ),
        ],
        metadata={"example": "-1h"},
    )


UNIT_STATUS_EXAMPLE = {
    "unit": "shop.service",
    "active_state": "active",
    "sub_state": "running",
    "since": "2026-11-26T10:00:00+00:00",
    "main_pid": 4242,
    "memory_current": 31457280,
}


def answering_unit() -> fields.String:
    return fields.String(
        required=True,
        metadata={
            "description": "The unit that answered (for an app, its live slot's unit).",
            "example": "shop-green.service",
        },
    )


class ServiceStatusSchema(Schema):
    task_id = fields.Integer(required=True)
    unit = answering_unit()
    status = fields.Dict(required=True, metadata={"example": UNIT_STATUS_EXAMPLE})


class ServiceLogsSchema(Schema):
    task_id = fields.Integer(required=True)
    unit = answering_unit()
    logs = fields.Dict(
        required=True,
        metadata={
            "example": {
                "unit": "shop.service",
                "lines": 100,
                "since": None,
                "entries": [
                    {
                        "time": "2026-11-26T10:00:01.000000Z",
                        "priority": 6,
                        "pid": 4242,
                        "message": "listening on :8000",
                    }
                ],
            }
        },
    )


class ServiceEntrySchema(Schema):
    app_id = fields.Integer(required=True)
    service_name = fields.String(required=True)
    unit = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The unit of the app's live slot; null before its first deploy.",
            "example": "shop-green.service",
        },
    )
    status = fields.Dict(allow_none=True, metadata={"example": UNIT_STATUS_EXAMPLE})
    checked_at = fields.DateTime(allow_none=True)


class ServiceListSchema(Schema):
    server_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(ServiceEntrySchema), required=True)


ARGV = fields.List(
    fields.String(validate=[validate.Length(min=1, max=1024), validate.Regexp(r"^[^\x00]*$")]),
    validate=validate.Length(min=1, max=32),
)


class HealthCheckSchema(Schema):
    path = fields.String(
        validate=[validate.Length(max=256), validate.Regexp(r"^/[A-Za-z0-9._~/?=&%-]*$")],
        metadata={
            "description": "HTTP path checked on the new slot (default /health).",
            "example": "/health",
        },
    )
    command = fields.List(
        fields.String(validate=validate.Length(min=1, max=1024)),
        validate=validate.Length(min=1, max=32),
        metadata={"description": "Or a command (argv) run on the host; exit 0 means healthy."},
    )
    timeout = StrictInteger(validate=validate.Range(min=1, max=300))
    retries = StrictInteger(validate=validate.Range(min=1, max=100))
    delay = StrictInteger(validate=validate.Range(min=0, max=60))


class HooksSchema(Schema):
    pre = fields.List(ARGV, validate=validate.Length(max=20), load_default=list)
    post = fields.List(ARGV, validate=validate.Length(max=20), load_default=list)


class DeployOptionsSchema(Schema):
    health = fields.Nested(HealthCheckSchema, load_default=dict)
    hooks = fields.Nested(
        HooksSchema,
        load_default=dict,
        metadata={"description": "Commands (argv lists) run as the app user in the release dir."},
    )
    batch_size = StrictInteger(
        validate=validate.Range(min=1, max=1000),
        metadata={"description": "Hosts per rolling batch (default 1: one host at a time)."},
    )
    keep_releases = StrictInteger(validate=validate.Range(min=1, max=100))


class DeploySchema(DeployOptionsSchema):
    version_id = StrictInteger(
        required=True, validate=validate.Range(min=1), metadata={"example": 3}
    )
    strategy = fields.Enum(DeployStrategy, by_value=True, load_default=DeployStrategy.ROLLING)
    renew_certificate = StrictBoolean(
        metadata={"description": "With TLS over ACME: renew the certificate now, even when "
                  "it is not due (default false)."}
    )  # fmt: skip


class RollbackSchema(DeployOptionsSchema):
    version_id = StrictInteger(
        validate=validate.Range(min=1),
        allow_none=True,
        metadata={
            "description": "Deploy this earlier version again; omit for the previous release."
        },
    )


class DeploymentSchema(CreatedBySchema):
    app_id = fields.Integer(dump_only=True)
    version_id = fields.Integer(dump_only=True)
    kind = fields.Enum(DeploymentKind, by_value=True, dump_only=True)
    status = fields.Enum(DeploymentStatus, by_value=True, dump_only=True)
    strategy = fields.Enum(DeployStrategy, by_value=True, dump_only=True)
    release_id = fields.String(dump_only=True, allow_none=True)
    current_step = fields.String(dump_only=True, allow_none=True)
    host_results = fields.Dict(dump_only=True)
    error = fields.String(dump_only=True, allow_none=True)
    options = fields.Dict(dump_only=True)
    logs = fields.String(dump_only=True)
    started_at = fields.DateTime(dump_only=True, allow_none=True)
    completed_at = fields.DateTime(dump_only=True, allow_none=True)


class DeploymentAcceptedSchema(Schema):
    deployment = fields.Nested(DeploymentSchema, required=True)
    task = fields.Nested(TaskSchema, required=True)
    links = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class DeploymentStatusSchema(Schema):
    deployment = fields.Nested(DeploymentSchema, required=True)
    task = fields.Nested(TaskSchema, allow_none=True)
    progress = fields.Dict(required=True)
    logs = fields.List(fields.String(), required=True)


class DeploymentStatsQuerySchema(Schema):
    app_id = Integer(validate=validate.Range(min=1))


class DeploymentStatsSchema(Schema):
    generated_at = fields.DateTime(required=True)
    windows = fields.Dict(
        required=True,
        metadata={
            "example": {
                "24h": {
                    "total": 4,
                    "by_status": {
                        "pending": 0,
                        "running": 0,
                        "completed": 3,
                        "failed": 1,
                        "cancelled": 0,
                    },
                    "success_rate": 0.75,
                    "median_duration_s": 21.4,
                    "p95_duration_s": 30.2,
                    "apps": {"1": {"app_name": "shop", "total": 4}},
                }
            }
        },
    )


class AppServersSchema(Schema):
    app_id = fields.Integer(dump_only=True, metadata={"example": 1})
    server_ids = fields.List(
        StrictInteger(validate=validate.Range(min=1)),
        required=True,
        validate=validate.Length(max=500),
        metadata={
            "description": "Servers the app runs on besides its primary server.",
            "example": [2, 3],
        },
    )


def sort_field(allowed: list[str], default: str = "id") -> fields.String:
    """`sort=name` or `sort=-created`; `id` always breaks ties so pages are stable."""
    choices = [*allowed, *(f"-{name}" for name in allowed)]
    return fields.String(
        load_default=default,
        validate=validate.OneOf(choices),
        metadata={"description": "Field to sort by; prefix '-' for descending."},
    )


class PageQuerySchema(Schema):
    page = Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class ServerListQuerySchema(PageQuerySchema):
    sort = sort_field(["id", "name", "host", "created", "updated"])
    q = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "Name contains."}
    )


class ServerGroupListQuerySchema(PageQuerySchema):
    sort = sort_field(["id", "name", "created", "updated"])
    q = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "Name contains."}
    )


class AppListQuerySchema(PageQuerySchema):
    sort = sort_field(["id", "name", "status", "created", "updated"])
    server_id = Integer(validate=validate.Range(min=1))
    status = fields.Enum(AppStatus, by_value=True)
    q = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "Name contains."}
    )


class VersionListQuerySchema(PageQuerySchema):
    sort = sort_field(["id", "version_number", "created"])
    app_id = Integer(validate=validate.Range(min=1))


class TaskListQuerySchema(PageQuerySchema):
    sort = sort_field(["id", "created", "status", "kind"], default="-id")
    server_id = Integer(validate=validate.Range(min=1))
    app_id = Integer(validate=validate.Range(min=1))
    status = fields.Enum(TaskStatus, by_value=True)
    kind = fields.Enum(TaskKind, by_value=True)


class DeploymentListQuerySchema(PageQuerySchema):
    sort = sort_field(["id", "created", "status"], default="-id")
    app_id = Integer(validate=validate.Range(min=1))
    status = fields.Enum(DeploymentStatus, by_value=True)
    kind = fields.Enum(DeploymentKind, by_value=True)
    since = fields.AwareDateTime(
        metadata={"description": "Created at or after (ISO 8601 with zone)."}
    )
    until = fields.AwareDateTime(metadata={"description": "Created before (ISO 8601 with zone)."})


class DeleteAppQuerySchema(Schema):
    cancel_tasks = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Cancel its queued and running tasks first (running playbooks are "
            "killed) instead of refusing with 409; their history is kept."
        },
    )


class DeleteServerQuerySchema(DeleteAppQuerySchema):
    cascade = fields.Boolean(
        load_default=False,
        metadata={"description": "Also delete the server's apps, versions and deployments."},
    )


def page_schema(item: type[Schema]) -> type[Schema]:
    """The list envelope for one item schema (`items` plus paging figures)."""
    name = item.__name__.removesuffix("Schema") + "PageSchema"
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item)),
            "page": fields.Integer(metadata={"example": 1}),
            "per_page": fields.Integer(metadata={"example": 20}),
            "total_items": fields.Integer(metadata={"example": 42}),
            "total_pages": fields.Integer(metadata={"example": 3}),
        },
        name=name,
    )


ServerPageSchema = page_schema(ServerSchema)
ServerGroupPageSchema = page_schema(ServerGroupSchema)
AppPageSchema = page_schema(AppSchema)
VersionPageSchema = page_schema(VersionSchema)
TaskPageSchema = page_schema(TaskSchema)
DeploymentPageSchema = page_schema(DeploymentSchema)


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_failed"})
    message = fields.String(required=True, metadata={"example": "The request is not valid."})
    details = fields.Dict(
        required=True, metadata={"example": {"port": ["Must be greater than or equal to 1."]}}
    )
    request_id = fields.String(
        required=True, metadata={"example": "5f0c6a3e9b5d4c0e8f1a2b3c4d5e6f70"}
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    version = fields.String(required=True)
    components = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        required=True,
        metadata={
            "example": {
                "database": {"ok": True, "latency_ms": 0.4},
                "disk": {"ok": True, "free_bytes": 52_000_000_000, "path": "data/artifacts"},
                "ansible": {"ok": True, "version": "2.19.14"},
            }
        },
    )

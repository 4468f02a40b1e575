"""An application deployed to a server as a systemd service."""

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from service.models.base import TimestampedModel, json_field
from service.models.health import HealthStatus


class AppStatus(StrEnum):
    IDLE = "idle"
    DEPLOYING = "deploying"
    RUNNING = "running"
    STOPPED = "stopped"
    ERROR = "error"


class App(TimestampedModel):
    name = fields.CharField(max_length=64, unique=True)
    server = fields.ForeignKeyField("models.Server", related_name="apps", on_delete=fields.CASCADE)
    remote_path = fields.CharField(max_length=1024)
    service_name = fields.CharField(max_length=255)
    domain = fields.CharField(max_length=253, null=True)
    current_version = fields.CharField(max_length=128, null=True)
    status = fields.CharEnumField(AppStatus, max_length=16, default=AppStatus.IDLE)
    tls = fields.BooleanField(default=False)
    """Serve the domain over HTTPS: a certificate over ACME, or the one uploaded."""
    tls_redirect = fields.BooleanField(default=True)
    """With TLS: plain HTTP requests are redirected to HTTPS."""
    tls_hsts = fields.BooleanField(default=False)
    """With TLS: HTTPS answers carry Strict-Transport-Security."""
    certificate = json_field(null=True)
    """What the last deploy found of the certificate on the primary server (issuer, names,
    serial, not_after, renewed_at, error, source)."""
    servers = fields.ManyToManyField(
        "models.Server", related_name="extra_apps", through="app_servers"
    )
    """Further servers the app runs on (besides `server`), for rolling and blue-green deploys."""
    health_interval = fields.IntField(default=30)
    """Seconds between two health checks of each of its hosts (service/health/)."""
    restart_on_down = fields.BooleanField(default=False)
    """Restart the live slot once (health-gated) when a host goes down."""
    health_status = fields.CharEnumField(HealthStatus, max_length=16, null=True)
    """running / degraded (some hosts down) / down (all); None until checked."""

    class Meta:
        table = "apps"
        ordering = ("id",)
        indexes = (Index(fields=("server_id",)),)
        """`GET /apps?server_id=` and the apps of a server (SQLite indexes no foreign key)."""


class DeployHook(Model):
    """An app's incoming deploy hook: the HMAC key its callers sign request bodies with.

    Kept apart from `App` so that nothing that reads apps (API, inventories) ever holds it.
    """

    id = fields.IntField(primary_key=True)
    app = fields.OneToOneField("models.App", related_name="deploy_hook", on_delete=fields.CASCADE)
    secret = fields.TextField()
    """The HMAC key, sealed with the secrets key file (service/storage/secrets.py)."""
    created = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "deploy_hooks"


class AppCertificate(Model):
    """A certificate the user supplied for the app's domain, instead of ACME.

    The key is held only encrypted (`SecretBox`), and apart from `App`, like `DeployHook`.
    """

    id = fields.IntField(primary_key=True)
    app = fields.OneToOneField(
        "models.App", related_name="uploaded_certificate", on_delete=fields.CASCADE
    )
    chain = fields.TextField()
    """The PEM certificate chain, leaf first (public)."""
    key_ciphertext = fields.TextField()
    key_fingerprint = fields.CharField(max_length=32)
    uploaded = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "app_certificates"

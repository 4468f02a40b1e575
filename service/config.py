"""Runtime settings: one typed object, and the one place that decides where they come from.

Every command (serve, migrate, token, inventory, the dynamic-inventory script) loads its
settings through `Settings.load`: flags win over `PBD_*` environment variables, which win
over the TOML configuration file, which wins over the defaults. Paths are made absolute
when the settings load, so nothing depends on the working directory later (Ansible, for
one, reads a relative inventory path as a host name).
"""

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "PBD_"
CONFIG_ENV = "PBD_CONFIG"
SYSTEM_CONFIG_FILE = Path("/etc/pb-deployer/config.toml")
SYSTEM_DATA_DIR = Path("/var/lib/pb-deployer")
# The SQLite database in the data directory, unless database_url names another.
DATABASE_FILE = "pb-deployer.sqlite3"
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
MINIMUMS = {
    "event_retention_days": 0,
    "task_retention_days": 0,
    "audit_log_retention_days": 0,
    "delivery_retention_days": 0,
    "keep_tasks_per_server": 0,
    "retention_batch": 1,
    "retention_interval": 0,
    "webhook_timeout": 1,
    "webhook_max_attempts": 1,
    "webhook_backoff": 0,
    "webhook_concurrency": 1,
    "session_hours": 1,
    "health_failures": 1,
    "health_timeout": 0.1,
    "health_concurrency": 1,
    "health_port": 1,
    "health_retention_days": 0,
    "instance_lease": 3,
    "forks": 1,
}
"""The least value of settings that a smaller one would turn into nonsense."""
MAXIMUMS = {"retention_batch": 10_000, "health_port": 65_535}
"""A batch's ids are one statement's parameters, which SQLite limits (32,766)."""


class ConfigError(Exception):
    """A configuration file or value that cannot be used; the message says which and why."""


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`/var/lib/pb-deployer` for root, else `$XDG_DATA_HOME/pb-deployer`
    (`~/.local/share/pb-deployer`): never relative to the working directory."""
    env = os.environ if environ is None else environ
    if os.geteuid() == 0:
        return SYSTEM_DATA_DIR
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pb-deployer"


def default_config_file(environ: Mapping[str, str] | None = None) -> Path:
    """`/etc/pb-deployer/config.toml` for root, else `$XDG_CONFIG_HOME/pb-deployer/config.toml`."""
    env = os.environ if environ is None else environ
    if os.geteuid() == 0:
        return SYSTEM_CONFIG_FILE
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "pb-deployer" / "config.toml"


def switch_off_when_empty(default: int) -> Any:
    """An integer setting that 0 switches off, and so does an empty `PBD_*` variable
    (`PBD_TASK_RETENTION_DAYS=`): there, empty means "none", not "the default"."""
    return field(default=default, metadata={"when_empty": 0})


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = SYSTEM_DATA_DIR
    database_url: str = ""
    log_level: str = "INFO"
    max_json_body_bytes: int = 1024 * 1024
    min_free_disk_bytes: int = 256 * 1024 * 1024
    workers: int = 4
    forks: int = 20
    """Hosts one run works on at once (Ansible's forks; a run over fewer hosts uses fewer)."""
    max_upload_bytes: int = 1024**3
    max_zip_entries: int = 10_000
    max_unzipped_bytes: int = 4 * 1024**3
    max_zip_ratio: int = 200
    run_timeout: int = 3600
    retry_backoff: int = 5
    unreachable_attempts: int = 3
    header_timeout: float = 15
    body_timeout: float = 30
    service_read_timeout: float = 60
    webhook_timeout: float = 10
    webhook_max_attempts: int = 8
    webhook_backoff: float = 10
    webhook_concurrency: int = 8
    event_retention_days: int = switch_off_when_empty(30)
    task_retention_days: int = switch_off_when_empty(90)
    keep_tasks_per_server: int = 50
    retention_batch: int = 500
    retention_interval: int = switch_off_when_empty(3600)
    audit_log_retention_days: int = switch_off_when_empty(365)
    """Audit log records older than this many days are deleted; 0: kept for ever."""
    delivery_retention_days: int = switch_off_when_empty(30)
    """Delivered or failed webhook deliveries older than this are deleted; 0: kept for ever."""
    secrets_key_file: Path = Path()
    """The key file that app secrets are encrypted under; by default DATA_DIR/secrets.key."""
    session_hours: int = 12
    """How long a login to the web dashboard lasts (never longer than its token)."""
    health_failures: int = 3
    """Failed health checks in a row that mark an app's host down."""
    health_timeout: float = 5
    """Seconds one health check may take (connect and answer) before it counts as failed."""
    health_concurrency: int = 100
    """Health checks in flight at once, over all apps."""
    health_port: int = 80
    """The port nginx serves the apps on (the role's app_deploy_nginx_port)."""
    health_retention_days: int = switch_off_when_empty(8)
    """Hourly health counts older than this are deleted (uptime reads the last 7 days)."""
    instance_name: str = ""
    """This service process's name among those sharing one PostgreSQL; empty: hostname:port.
    Keep it the same across restarts: a restarted instance cleans up after its crash."""
    instance_lease: float = 30
    """Seconds without a heartbeat (sent every third of it) after which another instance
    takes this one for dead and interrupts its tasks."""
    acme_directory: str = LETS_ENCRYPT
    """The ACME directory apps' certificates are obtained from (LETS_ENCRYPT_STAGING to try)."""
    acme_email: str = ""
    """The ACME account's contact address (expiry notices); empty: an account without one."""
    acme_ca_bundle: Path = Path()
    """PEM file of the CA that the ACME server's own HTTPS is signed by, when it is not a
    public one (a private ACME server); empty: the hosts' usual trust store."""

    def __post_init__(self) -> None:
        for name, least in MINIMUMS.items():
            if getattr(self, name) < least:
                raise ConfigError(
                    f"{_names(name)} must be at least {least}, not {getattr(self, name)}"
                )
        for name, most in MAXIMUMS.items():
            if getattr(self, name) > most:
                raise ConfigError(
                    f"{_names(name)} must be at most {most}, not {getattr(self, name)}"
                )
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().absolute())
        key_file = Path(self.secrets_key_file)
        key_file = self.data_dir / "secrets.key" if key_file == Path() else key_file
        object.__setattr__(self, "secrets_key_file", key_file.expanduser().absolute())
        if not self.acme_directory.startswith("https://"):
            raise ConfigError(f"{_names('acme_directory')} must be an https:// URL")
        if self.acme_email and not EMAIL_RE.match(self.acme_email):
            raise ConfigError(f"{_names('acme_email')} must be an email address or empty")
        if self.acme_ca_bundle != Path():
            object.__setattr__(self, "acme_ca_bundle", Path(self.acme_ca_bundle).absolute())
        if not self.database_url:
            sqlite_path = self.data_dir / DATABASE_FILE
            object.__setattr__(self, "database_url", f"sqlite://{sqlite_path}")
        elif self.sqlite_path is not None:
            query = self.database_url.partition("?")[2]
            absolute = f"sqlite://{self.sqlite_path}" + (f"?{query}" if query else "")
            object.__setattr__(self, "database_url", absolute)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file (absolute), or None for another database or an in-memory one."""
        scheme, _, location = self.database_url.partition("?")[0].partition("://")
        if scheme != "sqlite" or location in ("", ":memory:"):
            return None
        return Path(location).expanduser().absolute()

    @property
    def ssh_dir(self) -> Path:
        """The service's own SSH key pair and known_hosts file."""
        return self.data_dir / "ssh"

    @property
    def ssh_key_path(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def uploads_dir(self) -> Path:
        """Where version zips are stored (and partial uploads, until complete)."""
        return self.data_dir / "versions"

    @property
    def artifacts_dir(self) -> Path:
        """Where ansible-runner private data dirs and uploads live."""
        return self.data_dir / "artifacts"

    @classmethod
    def load(
        cls,
        *,
        config_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        **flags: object,
    ) -> "Settings":
        """Defaults < the TOML file < `PBD_<FIELD>` variables < flags (those not None).

        The file is `config_file`, else `$PBD_CONFIG`, else `default_config_file()` if it
        exists; a file named explicitly must exist.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {"data_dir": default_data_dir(env)}
        named = config_file or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
        path = named or default_config_file(env)
        if named is not None or path.is_file():
            values.update(read_config_file(path))
        for spec in fields(cls):
            raw = env.get(ENV_PREFIX + spec.name.upper())
            if raw == "" and "when_empty" in spec.metadata:
                values[spec.name] = spec.metadata["when_empty"]
            elif raw is not None and raw != "":
                values[spec.name] = _coerce(spec.name, spec.type, raw)
        values.update({name: value for name, value in flags.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]


FIELD_TYPES = {spec.name: spec.type for spec in fields(Settings)}


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings a TOML file sets: top-level keys named like the fields (`data_dir`, ...)."""
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"configuration file {path} cannot be read: {exc}") from None
    values: dict[str, Any] = {}
    for name, value in document.items():
        kind = FIELD_TYPES.get(name)
        if kind is None:
            known = ", ".join(sorted(FIELD_TYPES))
            raise ConfigError(f"{path}: unknown setting {name!r} (known: {known})")
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{path}: {name} must be an integer")
        if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"{path}: {name} must be a number")
        if kind not in (int, float) and not isinstance(value, str):
            raise ConfigError(f"{path}: {name} must be a string")
        values[name] = Path(value) if kind is Path else value
        if kind is Path and not Path(value).is_absolute():
            # Relative to the file, not to whichever directory a command runs in.
            values[name] = path.parent / value
    return values


def _names(name: str) -> str:
    """A setting as the file and the environment call it."""
    return f"{name} ({ENV_PREFIX}{name.upper()})"


def _coerce(name: str, kind: object, raw: str) -> object:
    if kind is int or kind is float:
        try:
            return kind(raw)
        except ValueError:
            wanted = "an integer" if kind is int else "a number"
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be {wanted}, not {raw!r}") from None
    if kind is Path:
        return Path(raw)
    return raw

"""Runtime settings: one typed object, filled from defaults, `PBD_*` variables and flags."""

import os
from dataclasses import dataclass, fields
from pathlib import Path

ENV_PREFIX = "PBD_"
DEFAULT_DATA_DIR = Path("data")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    log_level: str = "INFO"
    max_json_body_bytes: int = 1024 * 1024
    min_free_disk_bytes: int = 256 * 1024 * 1024
    workers: int = 4
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

    def __post_init__(self) -> None:
        if not self.database_url:
            sqlite_path = (self.data_dir / "pb-deployer.sqlite3").resolve()
            object.__setattr__(self, "database_url", f"sqlite://{sqlite_path}")

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
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> "Settings":
        """Defaults, then `PBD_<FIELD>` variables, then explicit (non-None) overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for spec in fields(cls):
            raw = env.get(ENV_PREFIX + spec.name.upper())
            if raw is not None and raw != "":
                values[spec.name] = _coerce(spec.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(str(values["data_dir"]))
        return cls(**values)  # type: ignore[arg-type]


def _coerce(kind: object, raw: str) -> object:
    if kind is int:
        return int(raw)
    if kind is float:
        return float(raw)
    if kind is Path:
        return Path(raw)
    return raw

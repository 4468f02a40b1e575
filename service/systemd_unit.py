"""`pb-deployer install-service`: run the service under systemd as an unprivileged user.

The service only needs to open SSH connections and write its data dir, so it runs as a
dedicated system user with the filesystem read-only except that dir, no privilege
escalation, a private /tmp and kernel knobs out of reach. Its first token is issued here,
on the operator's terminal: printed by a service under systemd it would land in the journal.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from service.config import Settings

UNIT_NAME = "pb-deployer.service"
UNIT_DIR = Path("/etc/systemd/system")
SECRETS_FILE = Path("/etc/pb-deployer/environment")
"""Where a database URL with a password goes: 0600 root, read by systemd before it drops
privileges (a unit file and `systemctl show` are readable by every user)."""
STOP_TIMEOUT = 30
"""Seconds systemd waits after SIGTERM (runs are cancelled and marked interrupted well
within it) before it kills what is left."""


UNIT_UNSAFE = frozenset(" \t\n\"'\\$%;")
"""Characters systemd would split on, unquote or expand in a unit's values."""


class InstallError(Exception):
    """The unit cannot be installed as asked; the message says why and what to do."""


@dataclass(frozen=True)
class UnitSpec:
    user: str
    python: Path
    settings: Settings
    config_file: Path | None = None


def render_unit(spec: UnitSpec) -> str:
    """The unit file: every value is a path or a name checked before, quoted for systemd."""
    settings = spec.settings
    environment = [
        f"PBD_DATA_DIR={settings.data_dir}",
        f"PBD_HOST={settings.host}",
        f"PBD_PORT={settings.port}",
    ]
    if spec.config_file is not None:
        environment.append(f"PBD_CONFIG={spec.config_file}")
    lines = [
        "# Written by `pb-deployer install-service`; run it again to change the settings.",
        "[Unit]",
        "Description=pb-deployer: provision and deploy servers with Ansible",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=exec",
        f"User={spec.user}",
        f"Group={spec.user}",
        *(f'Environment="{item}"' for item in environment),
        *([f"EnvironmentFile={SECRETS_FILE}"] if settings.sqlite_path is None else []),
        f"ExecStart={spec.python} -m service serve",
        "Restart=on-failure",
        "RestartSec=2",
        "KillMode=mixed",
        f"TimeoutStopSec={STOP_TIMEOUT}",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ReadWritePaths={settings.data_dir}",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "ProtectHome=read-only",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "RestrictSUIDSGID=yes",
        "RestrictRealtime=yes",
        "RestrictNamespaces=yes",
        "LockPersonality=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "CapabilityBoundingSet=",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def check_spec(spec: UnitSpec) -> None:
    """Refuse what would give a unit that cannot start: a package the user cannot read,
    values systemd would split or expand."""
    paths = [str(spec.python), str(spec.settings.data_dir), spec.settings.host]
    if spec.config_file is not None:
        paths.append(str(spec.config_file))
    for value in paths:
        if any(char in value for char in UNIT_UNSAFE):
            raise InstallError(f"{value!r}: spaces, quotes, '$', '%' and '\\' are not supported")
    if any(char in spec.settings.database_url for char in "\n\"'\\"):
        raise InstallError("the database URL cannot hold quotes, backslashes or line breaks")
    package = Path(__file__).resolve().parent
    for directory in sorted({*spec.python.parents, *spec.python.resolve().parents, package}):
        if directory.is_dir() and not os.stat(directory).st_mode & 0o001:
            raise InstallError(
                f"This installation ({package}, {spec.python}) lies under {directory}, which "
                f"user {spec.user} cannot enter. "
                "Install the package where every user can read it, e.g. "
                "`python3 -m venv /opt/pb-deployer && /opt/pb-deployer/bin/pip install "
                "pb-deployer-*.whl`, and run that copy's `pb-deployer install-service`."
            )


def ensure_user(name: str, home: Path) -> pwd.struct_passwd:
    """The service's system user (created once; no login shell, no password)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    _run(
        useradd, "--system", "--user-group", "--home-dir", str(home), "--no-create-home",
        "--shell", "/usr/sbin/nologin", "--comment", "pb-deployer service", name,
    )  # fmt: skip
    return pwd.getpwnam(name)


def prepare_data_dir(path: Path, account: pwd.struct_passwd) -> None:
    """The data dir, 0700 and owned by the service user (also what an earlier root run left)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, entry) for entry in dirs + files)]:
            os.chown(name, account.pw_uid, account.pw_gid, follow_symlinks=False)


def write_secrets(settings: Settings) -> None:
    """A database URL other than the SQLite file goes to the root-only environment file."""
    if settings.sqlite_path is not None:
        return
    SECRETS_FILE.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    partial = SECRETS_FILE.with_name(f".{SECRETS_FILE.name}.new")
    partial.touch(mode=0o600)
    partial.chmod(0o600)
    partial.write_text(f"PBD_DATABASE_URL={settings.database_url}\n")
    partial.replace(SECRETS_FILE)


def install_unit(spec: UnitSpec, *, start: bool) -> Path:
    """Write the unit (checked by systemd-analyze first), reload systemd, enable, start."""
    write_secrets(spec.settings)
    text = render_unit(spec)
    verifier = shutil.which("systemd-analyze")
    if verifier is not None:
        with tempfile.TemporaryDirectory() as scratch:
            draft = Path(scratch) / UNIT_NAME
            draft.write_text(text)
            _run(verifier, "verify", str(draft))
    path = UNIT_DIR / UNIT_NAME
    partial = path.with_name(f".{UNIT_NAME}.new")
    partial.write_text(text)
    partial.chmod(0o644)
    partial.replace(path)
    _run("systemctl", "daemon-reload")
    _run("systemctl", "enable", UNIT_NAME)
    if start:
        _run("systemctl", "restart", UNIT_NAME)  # starts it, or applies a changed unit
    return path


def current_python() -> Path:
    """The interpreter of this installation (a venv's own python, not what it links to)."""
    return Path(sys.executable).absolute()


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise InstallError(f"{' '.join(argv)} failed (rc {result.returncode}): {output}")

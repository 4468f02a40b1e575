"""The service's own SSH key pair: the identity it logs in to every server with.

Only the public half ever leaves this module; the private key stays in its 0600 file and is
read by ssh alone (never logged, returned or put into an error message).
"""

import contextlib
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from service.config import Settings
from service.errors import ServiceUnavailable

KEY_COMMENT = "pb-deployer"


def ensure_service_key(settings: Settings) -> str:
    """Create the ed25519 key pair on first use and return the public key line.

    Safe to call on every start and from concurrent processes: the key is generated in a
    private temporary directory and hard-linked into place, so a second caller never
    overwrites the key a first one already handed out.
    """
    key = settings.ssh_key_path
    _private_dir(key.parent)
    if not key.exists():
        with tempfile.TemporaryDirectory(dir=key.parent, prefix=".keygen-") as scratch:
            fresh = Path(scratch) / key.name
            _ssh_keygen("-q", "-t", "ed25519", "-N", "", "-C", KEY_COMMENT, "-f", str(fresh))
            try:
                os.link(fresh, key)
            except FileExistsError:
                pass  # another process won the race; its key is the one to keep
            else:
                os.replace(fresh.with_name(fresh.name + ".pub"), _public_path(key))
    key.chmod(0o600)
    return public_key(settings)


def public_key(settings: Settings) -> str:
    """The public key line ("ssh-ed25519 AAAA... comment"), recreated if its file is lost."""
    key = settings.ssh_key_path
    path = _public_path(key)
    if not path.exists():
        if not key.exists():
            raise ServiceUnavailable("The service SSH key does not exist yet.")
        derived = _ssh_keygen("-y", "-f", str(key))
        with tempfile.NamedTemporaryFile("w", dir=key.parent, delete=False) as handle:
            handle.write(derived)
        os.replace(handle.name, path)
    return path.read_text().strip()


def public_key_of(private_key: Path) -> str | None:
    """The public half of an operator's key file (for the app user), or None if unreadable.

    A passphrase-protected key cannot be read without its passphrase: ssh-keygen fails and
    the operator adds the public key through `authorized_keys` instead.
    """
    public = _public_path(private_key)
    try:
        if public.is_file():
            return public.read_text().strip() or None
        return _ssh_keygen("-y", "-P", "", "-f", str(private_key)).strip() or None
    except (OSError, ServiceUnavailable):
        return None


def _public_path(key: Path) -> Path:
    return key.with_name(key.name + ".pub")


def control_dir(settings: Settings) -> Path:
    """A private directory for ssh's ControlMaster sockets, with a short path.

    A socket path is limited to 108 bytes, so the sockets cannot live under a data dir of
    any length; they go in a directory of the system's temp dir named after the data dir.
    It must be ours and private: one that another user planted is refused, not used.
    """
    digest = hashlib.sha256(str(settings.data_dir).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"pbd-ssh-{os.geteuid()}-{digest}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise ServiceUnavailable(f"{path} is not a private directory of this user.")
    return path


def _private_dir(path: Path) -> None:
    """Create the key directory 0700 (chmod too: mkdir's mode is masked, unused if it exists)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def _ssh_keygen(*args: str) -> str:
    """Run ssh-keygen (argv, no shell, no stdin) and return its stdout."""
    program = shutil.which("ssh-keygen")
    if program is None:
        raise ServiceUnavailable("ssh-keygen is not installed (package openssh-client).")
    result = subprocess.run(  # noqa: S603 -- fixed program, argv list, no shell
        [program, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        # stderr carries ssh-keygen's diagnostics only, never key material.
        raise ServiceUnavailable(f"ssh-keygen failed: {result.stderr.strip()}")
    return result.stdout

"""Encryption at rest for app secrets, under a key file that lives outside the database.

The key file (`0600`, created on first use) holds Fernet keys, newest first, and a separate
fingerprint key. Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) is
authenticated: a changed ciphertext fails to decrypt instead of decrypting to garbage. New
values are encrypted with the newest key; any listed key decrypts, which is what lets a
rotation run while the service serves. The file is read again whenever it changes, so a
`secrets rotate-key` in another process is seen at the next use.

Fingerprints are a keyed HMAC, not a plain hash, so a short secret cannot be guessed from
its fingerprint; the fingerprint key never rotates, so a fingerprint stays comparable.
"""

import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

FINGERPRINT_LENGTH = 16
SEALED_PREFIX = "sealed:"
"""Marks a stored key the service must read back (an HMAC key) as encrypted."""


class SecretsKeyError(Exception):
    """The key file is missing a key, unreadable, or does not open a stored secret."""


@dataclass(frozen=True)
class KeyFile:
    keys: tuple[bytes, ...]
    fingerprint_key: bytes


def _write_atomically(path: Path, content: KeyFile, *, replace: bool = True) -> None:
    """Write the whole file or nothing (a crash leaves the old one), readable by us alone.
    Without `replace`, a file that exists is kept: of several instances starting at once
    on one shared data dir, the first to create the key file wins and all read that one."""
    data = json.dumps(
        {
            "keys": [key.decode() for key in content.keys],
            "fingerprint_key": content.fingerprint_key.decode(),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    if replace:
        os.replace(temporary, path)
        return
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _read(path: Path) -> KeyFile:
    try:
        raw = json.loads(path.read_text())
        keys = tuple(key.encode() for key in raw["keys"])
        fingerprint_key = raw["fingerprint_key"].encode()
        for key in keys:
            Fernet(key)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SecretsKeyError(f"{path}: not a readable secrets key file ({error})") from None
    if not keys:
        raise SecretsKeyError(f"{path}: no key in the secrets key file")
    return KeyFile(keys, fingerprint_key)


class SecretBox:
    """Encrypts and decrypts app secrets with the keys of one key file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._loaded: tuple[tuple[int, int], KeyFile] | None = None

    def ensure_key_file(self) -> None:
        """Create the key file with a first key, unless it exists (first start)."""
        if not self.path.exists():
            first = KeyFile((Fernet.generate_key(),), Fernet.generate_key())
            _write_atomically(self.path, first, replace=False)

    def _key_file(self) -> KeyFile:
        self.ensure_key_file()
        stat = self.path.stat()
        version = (stat.st_mtime_ns, stat.st_size)
        if self._loaded is None or self._loaded[0] != version:
            self._loaded = (version, _read(self.path))
        return self._loaded[1]

    def _cipher(self) -> MultiFernet:
        return MultiFernet([Fernet(key) for key in self._key_file().keys])

    def encrypt(self, plaintext: str) -> str:
        return self._cipher().encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        return self._open(self._cipher().decrypt, ciphertext)

    def _open(self, operation: Callable[[bytes], bytes], ciphertext: str) -> str:
        try:
            return operation(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretsKeyError(
                f"a stored secret does not open with the keys in {self.path}"
            ) from None

    def seal(self, plaintext: str) -> str:
        """A key the service must use again (to sign or check an HMAC), for storing."""
        return SEALED_PREFIX + self.encrypt(plaintext)

    def unseal(self, stored: str) -> str:
        if not stored.startswith(SEALED_PREFIX):
            raise SecretsKeyError("a stored key is not sealed")
        return self.decrypt(stored.removeprefix(SEALED_PREFIX))

    def fingerprint(self, plaintext: str) -> str:
        digest = hmac.new(self._key_file().fingerprint_key, plaintext.encode(), hashlib.sha256)
        return digest.hexdigest()[:FINGERPRINT_LENGTH]

    def add_new_key(self) -> None:
        """Rotation, step 1: a new newest key; the old ones still decrypt."""
        current = self._key_file()
        _write_atomically(
            self.path, KeyFile((Fernet.generate_key(), *current.keys), current.fingerprint_key)
        )

    def reencrypt(self, ciphertext: str) -> str:
        """Rotation, step 2: the same secret under the newest key."""
        return self._open(self._cipher().rotate, ciphertext)

    def opens_with_newest(self, ciphertext: str) -> bool:
        try:
            Fernet(self._key_file().keys[0]).decrypt(ciphertext.encode())
        except InvalidToken:
            return False
        return True

    def drop_old_keys(self) -> None:
        """Rotation, step 3: only the newest key is left."""
        current = self._key_file()
        _write_atomically(self.path, KeyFile(current.keys[:1], current.fingerprint_key))

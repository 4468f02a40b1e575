"""Where the service URL and token come from: flags, then PBD_URL/PBD_TOKEN, then a profile
saved by `pb-deployer login` in a file only the user can read (0600)."""

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from service.client.http import UsageError

DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class Connection:
    url: str
    token: str


def profiles_file() -> Path:
    """`$XDG_CONFIG_HOME/pb-deployer/profiles.toml`, else `~/.config/pb-deployer/...`."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / "pb-deployer" / "profiles.toml"


def load_profiles() -> dict[str, dict[str, str]]:
    path = profiles_file()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from exc
    return {name: table for name, table in data.items() if isinstance(table, dict)}


def save_profiles(profiles: dict[str, dict[str, str]]) -> Path:
    """Write the file with mode 0600 from its creation on, so the tokens are never readable
    by others, not even for a moment."""
    path = profiles_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lines = []
    for name, table in sorted(profiles.items()):
        lines.append(f"[{json.dumps(name)}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
        lines.append("")
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(lines))
    os.chmod(temporary, 0o600)
    temporary.replace(path)
    return path


def resolve(url: str | None, token: str | None, profile: str | None) -> Connection:
    """Flag > environment > profile, for the URL and the token separately."""
    name = profile or os.environ.get("PBD_PROFILE") or DEFAULT_PROFILE
    saved = load_profiles().get(name, {})
    if profile and not saved:
        raise UsageError(f"no profile {profile!r} in {profiles_file()}; run `pb-deployer login`")
    url = url or os.environ.get("PBD_URL") or saved.get("url")
    token = token or os.environ.get("PBD_TOKEN") or saved.get("token")
    if not url or not token:
        raise UsageError(
            "no service to talk to: give --url and --token, set PBD_URL and PBD_TOKEN, "
            "or run `pb-deployer login URL`"
        )
    return Connection(url, token)

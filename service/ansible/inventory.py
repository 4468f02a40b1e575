"""Ansible inventories built from `Server` records: a YAML file and the dynamic-script JSON.

Everything a record holds is data to Ansible, never syntax or a template. ansible-core 2.19
templates a string only when it carries the `TrustedAsTemplate` tag, and it decides that per
source:

- YAML inventory files are loaded with `trusted_as_template=True` (plugins/inventory/yaml.py),
  so every plain string in the file would be templated; a `!unsafe` tag switches trust off for
  the tagged node and everything nested in it (`AnsibleConstructor.construct_yaml_unsafe`), so
  each host's variables are one tagged JSON mapping (see `yaml_unsafe` for why not per value).
  Host names are never trusted (`InventoryData.add_host` calls `remove_trust`), but they are
  parsed as host patterns (`name:port`, `name[1:3]`), so names with `:`, `[` or `]` are refused.
- Inventory script output is tagged trusted as a whole (plugins/inventory/script.py,
  `run_command`), and the `inventory_legacy` JSON profile keeps that trust for strings under
  `_meta.hostvars` and `<group>.vars`; the legacy `{"__ansible_unsafe": "..."}` wrapper is
  still decoded as an untrusted string (`_legacy._Profile.deserialize_unsafe`). `--host`
  output is trusted too and honours the same wrapper, which `service.ansible.variables`
  applies (the same rule as for extra vars).
"""

import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence, Set
from functools import cache, lru_cache
from json.encoder import encode_basestring_ascii
from typing import NamedTuple

import jinja2

from service.ansible.content import INVENTORY_TEMPLATES_DIR
from service.ansible.variables import untrusted, variable_name
from service.config import Settings
from service.errors import NotFound, ValidationFailed
from service.models import App, Server
from service.validators import is_safe_absolute_path

TEMPLATE_NAME = "inventory.yml.j2"
PYTHON_INTERPRETER = "/usr/bin/python3"

HOST_PATTERN_CHARS = frozenset(":[]")
"""Characters Ansible's YAML inventory reads as a port or a range inside a host key."""

PLAIN_SSH_ARG_RE = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")

_JSON_ESCAPE_RE = re.compile(
    r"\\\\|\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})|\\u(d[89a-f][0-9a-f]{2})"
)
"""Tokens of ASCII JSON that YAML reads differently: escaped backslashes (kept), UTF-16
surrogate pairs (YAML has no surrogates: rewritten as one `\\UXXXXXXXX`) and lone surrogates
(not representable at all)."""


def connection_vars(server: Server, settings: Settings) -> dict[str, object]:
    """How Ansible reaches one server, and the variables every playbook reads from it.

    After lockdown root cannot log in over SSH, so a locked server is reached as the app user
    with sudo. Host keys are trusted on first use and pinned in the service's own known_hosts.
    """
    ssh = _service_ssh(settings)
    user = server.app_username if server.security_locked else server.root_username
    result: dict[str, object] = {
        "ansible_host": server.host,
        "ansible_port": server.port,
        "ansible_user": user,
    }
    if user != "root":
        result["ansible_become"] = True
    result["ansible_python_interpreter"] = PYTHON_INTERPRETER
    key_file = _key_file(server, ssh.key_file)
    if key_file is None:
        result["ansible_ssh_common_args"] = ssh.args
    else:
        result["ansible_ssh_private_key_file"] = key_file
        result["ansible_ssh_common_args"] = ssh.args + " -o IdentitiesOnly=yes"
    result["app_user_name"] = server.app_username
    result["pbd_server_id"] = server.id
    return result


class _ServiceSSH(NamedTuple):
    key_file: str
    args: str


@lru_cache(maxsize=16)
def _service_ssh(settings: Settings) -> _ServiceSSH:
    """The service key and base ssh arguments, once per settings: path arithmetic costs more
    than building a host's variables. Absolute, as ansible-runner runs from its own directory.
    """
    args = (
        f"{_ssh_option('UserKnownHostsFile', str(settings.known_hosts_path.absolute()))}"
        " -o StrictHostKeyChecking=accept-new -o ConnectTimeout=10"
    )
    return _ServiceSSH(key_file=str(settings.ssh_key_path.absolute()), args=args)


def _key_file(server: Server, service_key: str) -> str | None:
    """The private key to offer: the server's own, none (agent), or the service key."""
    if server.manual_key_path:
        # Ansible writes it into `-o IdentityFile="..."` without escaping.
        if not is_safe_absolute_path(server.manual_key_path):
            raise ValidationFailed(
                f"Server {server.id} has a key path that cannot be used safely.",
                details={"manual_key_path": ["Must be a plain absolute path."]},
            )
        return server.manual_key_path
    if server.use_ssh_agent:
        return None
    return service_key


def _ssh_option(name: str, value: str) -> str:
    """`-o Name=value`, quoted for both shlex (Ansible splits the args) and ssh's own parser."""
    if PLAIN_SSH_ARG_RE.match(value):
        return f"-o {name}={value}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return "-o " + shlex.quote(f'{name}="{escaped}"')


def render_inventory(
    servers: Iterable[Server],
    settings: Settings,
    *,
    host_vars: Mapping[int, Mapping[str, object]] | None = None,
    groups: Mapping[str, Sequence[int]] | None = None,
) -> str:
    """The YAML inventory: every server under `all.hosts` by name, optional child groups.

    `host_vars` (by server id) are merged over the connection variables; `groups` maps a group
    name to server ids. Names are quoted JSON keys; each host's variables are one `!unsafe`
    JSON mapping, so every string in them loads untrusted.
    """
    extra = host_vars or {}
    hosts: list[tuple[str, dict[str, object]]] = []
    names: dict[int, str] = {}
    taken: set[str] = set()
    for server in servers:
        _check_host_name(server, taken)
        taken.add(server.name)
        names[server.id] = server.name
        variables = connection_vars(server, settings)
        for key, value in extra.get(server.id, {}).items():
            variables[variable_name(key)] = value
        hosts.append((server.name, variables))
    members = [
        (variable_name(group), [_member(names, group, server_id) for server_id in ids])
        for group, ids in (groups or {}).items()
    ]
    return _template().render(hosts=hosts, groups=members)


def _check_host_name(server: Server, taken: Set[str]) -> None:
    """Refuse names Ansible would not read back as exactly this one host."""
    problem = None
    if not server.name.strip():
        problem = "is empty"
    elif HOST_PATTERN_CHARS.intersection(server.name):
        problem = "contains ':', '[' or ']', which Ansible reads as a port or a host range"
    elif server.name in taken:
        problem = "is used by another server"
    if problem:
        raise ValidationFailed(
            f"Server {server.id} cannot be written to an inventory: its name {problem}.",
            details={"name": [f"The name {problem}."]},
        )


def _member(names: Mapping[int, str], group: str, server_id: int) -> str:
    try:
        return names[server_id]
    except KeyError:
        raise ValueError(
            f"group {group!r} names server {server_id}, which is not rendered"
        ) from None


class _YamlText(str):
    """Text a filter of this module produced; the only kind the template may print."""


def yaml_key(name: str) -> _YamlText:
    """A host or group name as a quoted YAML key (ASCII JSON, so it cannot end the scalar).

    No tag: Ansible never templates host names, and group names are identifiers.
    """
    return _YamlText(_ascii_json(name))


def yaml_unsafe(variables: dict[str, object]) -> _YamlText:
    """Host variables as one `!unsafe` JSON flow mapping.

    The tag on the mapping makes every string inside it untrusted. It is not put on each
    scalar because 2.19 re-resolves a tagged scalar as if it were plain, ignoring its quotes
    (`!unsafe "yes"` loads as True, `!unsafe "0x1F"` as 31); quoted scalars nested in a
    tagged collection keep their type.
    """
    if not isinstance(variables, dict):
        raise TypeError("yaml_unsafe takes a mapping: a tagged scalar would lose its quotes")
    return _YamlText("!unsafe " + _ascii_json(variables))


def _ascii_json(value: object) -> str:
    """JSON that YAML reads back as the same value: ASCII only (`\\uXXXX` escapes), so no
    character of a value can end a scalar, start a comment or break a line.
    """
    if isinstance(value, str):
        text = encode_basestring_ascii(value)
    else:
        text = json.dumps(value, allow_nan=False)
    if "\\ud" in text:
        text = _JSON_ESCAPE_RE.sub(_yaml_escape, text)
    return text


def _yaml_escape(match: re.Match[str]) -> str:
    high, low, lone = match.groups()
    if lone:
        raise ValidationFailed("A value contains a lone UTF-16 surrogate, which YAML cannot hold.")
    if high is None:
        return match.group(0)
    code = 0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00)
    return f"\\U{code:08x}"


def _only_filtered(value: object) -> object:
    """Jinja `finalize`: an expression printed without `yaml_key`/`yaml_unsafe` is a bug."""
    if type(value) is not _YamlText:
        raise TypeError(f"inventory template printed a {type(value).__name__} without a filter")
    return value


@cache
def _template() -> jinja2.Template:
    """Compiled once per process: compiling costs more than rendering a small inventory."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(INVENTORY_TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        finalize=_only_filtered,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 -- YAML, not HTML: the filters do the escaping
    )
    environment.filters.update(yaml_key=yaml_key, yaml_unsafe=yaml_unsafe)
    return environment.get_template(TEMPLATE_NAME)


def dynamic_inventory(servers: Iterable[Server], settings: Settings) -> dict[str, object]:
    """`--list` output of the dynamic inventory script protocol, every variable untrusted.

    Host names in `all.hosts` need no wrapper: the script plugin never trusts them.
    """
    hostvars: dict[str, object] = {}
    for server in servers:
        _check_host_name(server, hostvars.keys())
        hostvars[server.name] = host_vars(server, settings)
    return {"_meta": {"hostvars": hostvars}, "all": {"hosts": list(hostvars)}}


def host_vars(server: Server, settings: Settings) -> dict[str, object]:
    """`--host NAME` output: the connection variables with every string wrapped untrusted."""
    return untrusted(connection_vars(server, settings))


async def select_servers(
    *, server_id: int | None = None, app_id: int | None = None
) -> list[Server]:
    """One server, the server an app runs on, or (with neither id) all servers by id."""
    if server_id is not None and app_id is not None:
        raise ValueError("pass server_id or app_id, not both")
    if server_id is not None:
        server = await Server.get_or_none(id=server_id)
        if server is None:
            raise NotFound(f"Server {server_id} does not exist.")
        return [server]
    if app_id is not None:
        app = await App.get_or_none(id=app_id).select_related("server")
        if app is None:
            raise NotFound(f"App {app_id} does not exist.")
        return [app.server]
    return await Server.all()

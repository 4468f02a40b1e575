"""The one door from data (requests, database, zips) to Ansible variables: nothing is trusted.

ansible-core 2.19 evaluates a string as a template only when it carries `TrustedAsTemplate`,
and it grants that per source. Extra vars come from `-e @FILE`, which `load_extra_vars`
(utils/vars.py) reads with `trusted_as_template=True`; an inline `-e '{...}'` (what
ansible-runner builds from an `extravars=` dict) is trusted too, as a CLI value
(cli/arguments/option_helpers.py). Either way every plain string would be a template, so
`{{ lookup('pipe', 'id') }}` in a request would run on the controller.

The loader (parsing/utils/yaml.py `from_yaml`) parses the file as JSON first, with the
legacy profile (_json/_profiles/_legacy.py): `{"__ansible_unsafe": "..."}` decodes as an
untrusted string, and mapping keys are never trusted. So every string, at any depth, is
written in that wrapper. The JSON must decode there: on any error the loader falls back to
YAML, where the wrappers are plain mappings of trusted strings. Hence what the decoder
would choke on or read as its own markers is refused here: mapping keys starting with
`__ansible_`, strings that are not valid Unicode (lone surrogates), non-finite floats.
"""

import json
import re
from collections.abc import Mapping
from typing import Any

VARIABLE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""Variable and group names: plain identifiers, so YAML and Ansible read them as written."""

RESERVED_KEY_PREFIX = "__ansible_"
"""Keys the JSON decoder reads as type markers (`__ansible_unsafe`, `__ansible_vault`, ...)."""


def variable_name(name: str) -> str:
    if not isinstance(name, str) or not VARIABLE_NAME_RE.match(name):
        raise ValueError(f"{name!r} is not a valid Ansible variable or group name")
    return name


def untrusted(value: Any) -> Any:
    """`value` as JSON-ready data in which every string is an `__ansible_unsafe` wrapper.

    Mappings and lists are copied with their items marked; numbers, booleans and None are
    kept as they are. Anything JSON cannot carry exactly is a TypeError.
    """
    if isinstance(value, str):
        return {"__ansible_unsafe": _valid_text(value)}
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a non-finite number cannot be an Ansible variable")
        return value
    if isinstance(value, Mapping):
        return {_key(key): untrusted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [untrusted(item) for item in value]
    raise TypeError(f"a {type(value).__name__} cannot be an Ansible variable")


def extravars_json(variables: Mapping[str, Any]) -> str:
    """The contents of ansible-runner's env/extravars (`-e @file`): every string untrusted."""
    for name in variables:
        variable_name(name)
    return json.dumps(untrusted(variables), ensure_ascii=True, allow_nan=False)


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"mapping key {key!r} is not a string")
    if key.startswith(RESERVED_KEY_PREFIX):
        raise ValueError(f"mapping key {key!r} is reserved by Ansible")
    return _valid_text(key)


def _valid_text(text: str) -> str:
    """Refuse lone surrogates: Ansible's decoder fails on them, and a failure means YAML."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a value holds a lone UTF-16 surrogate, not valid Unicode") from None
    return text

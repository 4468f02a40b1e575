"""Input rules shared by the API schemas and anything that renders user data.

Each rule is strict on purpose: values that pass cannot carry shell metacharacters,
inventory syntax or Jinja delimiters, so they are safe to hand to Ansible as data.
"""

import ipaddress
import re

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""Resource names: letters, digits, dot, dash, underscore; no leading punctuation."""

POSIX_USERNAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
"""POSIX portable login names as useradd accepts them by default (no trailing $)."""

DNS_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
"""Semantic Versioning 2.0.0: MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]."""

SYSTEMD_UNIT_RE = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9_][A-Za-z0-9_.:-]*(@[A-Za-z0-9_.:-]+)?$")
"""Unit names systemd accepts (at most 255 characters), without backslash escapes, with one
optional non-empty @instance; the suffix (`.service`, ...) is optional. The same pattern is
`app_service_name_pattern` in roles/app_service, so the API never accepts a name the
playbook refuses (tests/test_validators.py holds them together)."""

SAFE_PATH_SEGMENT_RE = re.compile(r"^[A-Za-z0-9._-]+$")


def is_hostname(value: str) -> bool:
    """RFC 1123 host name (letters, digits, hyphens; labels of 1-63; 253 in all)."""
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    if labels[-1].isdigit():
        return False  # all-numeric TLDs would be mistaken for IPv4
    return all(DNS_LABEL_RE.match(label) for label in labels)


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_host(value: str) -> bool:
    """A host the service can SSH to: host name, IPv4 or IPv6 literal."""
    return is_ip_address(value) or is_hostname(value)


def is_domain(value: str) -> bool:
    """A public domain name for an app: RFC 1123 with at least two labels."""
    return is_hostname(value) and "." in value.rstrip(".")


def is_safe_absolute_path(value: str) -> bool:
    """Absolute POSIX path made of plain segments: no `..`, no `.`, no empty parts."""
    if not value.startswith("/") or len(value) > 1024:
        return False
    if value == "/":
        return True
    segments = value[1:].rstrip("/").split("/")
    return all(
        SAFE_PATH_SEGMENT_RE.match(segment) and segment not in {".", ".."} for segment in segments
    )


def is_systemd_unit(value: str) -> bool:
    return bool(SYSTEMD_UNIT_RE.match(value)) and ".." not in value

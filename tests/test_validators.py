import re

import pytest
import yaml

from service import validators
from service.ansible.content import ROLES_DIR


@pytest.mark.parametrize(
    "value", ["example.com", "a", "a-b.c", "x" * 63 + ".com", "host.", "10.0.0.1", "::1", "fe80::1"]
)
def test_hosts(value):
    assert validators.is_host(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a b",
        "a_b.com",
        "-a.com",
        "a-.com",
        "a..b",
        "x" * 64 + ".com",
        "1.2.3",
        "$(id)",
        "a;b",
        "{{x}}",
        "é.com",
    ],
)
def test_not_hosts(value):
    assert not validators.is_host(value)


@pytest.mark.parametrize("value", ["/", "/srv", "/srv/apps/my_app-1", "/srv/app.d/"])
def test_safe_paths(value):
    assert validators.is_safe_absolute_path(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "srv",
        "/srv/../etc",
        "/srv/./x",
        "//srv",
        "/srv//x",
        "/srv/a b",
        "/srv/$x",
        "/srv/`id`",
        "/srv/{{x}}",
    ],
)
def test_unsafe_paths(value):
    assert not validators.is_safe_absolute_path(value)


NOT_UNITS = ["", "a b", "-x", ".x", "a;b", "a/b", "a..service", "x" * 256, "a\\x2d", "shop@"]
UNITS = ["nginx", "nginx.service", "getty@tty1.service", "ssh.socket", "app-1_x.timer", "0" * 255]


@pytest.mark.parametrize("value", UNITS)
def test_units(value):
    assert validators.is_systemd_unit(value)


@pytest.mark.parametrize("value", NOT_UNITS)
def test_not_units(value):
    assert not validators.is_systemd_unit(value)


def test_the_api_and_the_app_service_role_accept_the_same_unit_names():
    """The role checks names again on the host: a name the API lets through must pass there."""
    defaults = yaml.safe_load((ROLES_DIR / "app_service" / "defaults" / "main.yml").read_text())
    pattern = re.compile(defaults["app_service_name_pattern"])
    for value in [*UNITS, *NOT_UNITS, "0" * 256, "a" * 202 + "@" + "b" * 52]:
        role_accepts = bool(pattern.match(value)) and ".." not in value
        assert role_accepts == validators.is_systemd_unit(value), value


def test_domains_need_two_labels():
    assert validators.is_domain("example.com")
    assert not validators.is_domain("localhost")

import pytest

from service import validators


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


@pytest.mark.parametrize(
    "value", ["nginx", "nginx.service", "getty@tty1.service", "ssh.socket", "app-1_x.timer"]
)
def test_units(value):
    assert validators.is_systemd_unit(value)


@pytest.mark.parametrize(
    "value", ["", "a b", "-x", ".x", "a;b", "a/b", "a..service", "x" * 256, "a\\x2d"]
)
def test_not_units(value):
    assert not validators.is_systemd_unit(value)


def test_domains_need_two_labels():
    assert validators.is_domain("example.com")
    assert not validators.is_domain("localhost")

"""Dashboard sessions over HTTP: login, cookie flags, CSRF, fixation, logout, expiry, roles."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from service.domain import tokens
from service.models import AuditRecord, Role, Server, WebSession

CSRF_RE = re.compile(r'<meta name="csrf-token" content="([0-9a-f]{64})">')


async def log_in(client, secret, **headers):
    origin = {"Origin": f"http://{client.server.host}:{client.server.port}"}
    return await client.post(
        "/login", data={"token": secret, "next": "/servers"},
        headers={**origin, **headers}, allow_redirects=False,
    )  # fmt: skip


@pytest.fixture
async def admin(client):
    return (await tokens.issue_token("alice")).secret


@pytest.fixture
async def session(client, admin):
    """A logged-in client and the CSRF token of its pages."""
    response = await log_in(client, admin)
    assert response.status == 303
    page = await (await client.get("/servers")).text()
    return CSRF_RE.search(page).group(1)


def same_origin(client, csrf=None):
    headers = {"Origin": f"http://{client.server.host}:{client.server.port}"}
    return {**headers, "X-CSRF-Token": csrf} if csrf else headers


async def test_a_page_without_a_session_leads_to_the_login(client):
    response = await client.get("/servers?q=web", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/servers?q%3Dweb"


async def test_a_wrong_token_is_told_on_the_login_page(client):
    response = await log_in(client, "pbd_not-a-token")
    assert response.status == 401
    assert 'role="alert"' in await response.text()
    assert "pbd_session" not in response.cookies


async def test_login_sets_a_strict_http_only_cookie_and_goes_back(client, admin):
    response = await log_in(client, admin)
    assert response.status == 303
    assert response.headers["Location"] == "/servers"
    cookie = response.cookies["pbd_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # plain HTTP here; over TLS it is Secure
    stored = await WebSession.get()
    assert cookie.value not in stored.key_hash  # only a digest is kept


async def test_behind_a_tls_proxy_the_cookie_is_secure(client, admin):
    response = await log_in(client, admin, **{"X-Forwarded-Proto": "https"})
    assert response.cookies["pbd_session"]["secure"] is True


async def test_login_never_redirects_off_site(client, admin):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        origin = same_origin(client)
        response = await client.post(
            "/login", data={"token": admin, "next": target}, headers=origin, allow_redirects=False
        )
        assert response.headers["Location"] == "/"


async def test_a_login_posted_from_another_site_is_refused(client, admin):
    response = await log_in(client, admin, Origin="https://evil.example")
    assert response.status == 403
    assert await WebSession.all().count() == 0


async def test_a_cookie_planted_before_login_is_not_the_session(client, admin):
    client.session.cookie_jar.update_cookies({"pbd_session": "planted-by-attacker"})
    response = await log_in(client, admin)
    assert response.cookies["pbd_session"].value != "planted-by-attacker"
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"pbd_session": "planted-by-attacker"})
    assert (await client.get("/servers", allow_redirects=False)).status == 303


async def test_the_api_takes_the_session_with_its_csrf_token_only(client, session):
    assert (await client.get("/api/v1/servers")).status == 200
    server = {"name": "web-1", "host": "10.0.0.5"}
    without = await client.post("/api/v1/servers", json=server, headers=same_origin(client))
    assert without.status == 403
    assert (await without.json())["error"]["code"] == "forbidden"
    wrong = await client.post("/api/v1/servers", json=server, headers=same_origin(client, "0" * 64))
    assert wrong.status == 403
    cross_site = await client.post(
        "/api/v1/servers", json=server,
        headers={"Origin": "https://evil.example", "X-CSRF-Token": session},
    )  # fmt: skip
    assert cross_site.status == 403
    assert not await Server.exists()
    right = await client.post("/api/v1/servers", json=server, headers=same_origin(client, session))
    assert right.status == 201


async def test_logout_ends_the_session_and_needs_its_csrf_token(client, session):
    forged = await client.post("/logout", data={"csrf": "x"}, allow_redirects=False)
    assert forged.status == 403
    assert (await client.get("/api/v1/servers")).status == 200
    response = await client.post(
        "/logout", data={"csrf": session}, headers=same_origin(client), allow_redirects=False
    )
    assert response.status == 303
    assert await WebSession.all().count() == 0
    assert (await client.get("/api/v1/servers")).status in (401, 200)  # cookie deleted client-side
    client.session.cookie_jar.clear()
    assert (await client.get("/servers", allow_redirects=False)).status == 303


async def test_an_expired_session_or_a_revoked_token_ends_the_login(
    client, admin, session, settings
):
    await WebSession.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await client.get("/servers", allow_redirects=False)).status == 303
    unauthorized = await client.get("/api/v1/servers")
    assert unauthorized.status == 401
    await WebSession.all().update(expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert (await client.get("/servers", allow_redirects=False)).status == 200
    token = await tokens.ApiToken.get(name="alice")
    await tokens.revoke_token(token.id, settings.data_dir)
    assert (await client.get("/servers", allow_redirects=False)).status == 303


async def test_a_session_never_outlives_its_token(client):
    soon = datetime.now(UTC) + timedelta(minutes=5)
    issued = await tokens.issue_token("short", expires_at=soon)
    await log_in(client, issued.secret)
    assert (await WebSession.get()).expires_at <= soon


async def test_a_viewer_sees_no_buttons_and_the_api_refuses_it(client):
    await Server.create(name="web-1", host="10.0.0.5")
    viewer = await tokens.issue_token("watcher", Role.VIEWER)
    await log_in(client, viewer.secret)
    page = await (await client.get("/servers")).text()
    assert "data-action" not in page
    assert 'id="server-form"' not in page
    csrf = CSRF_RE.search(page).group(1)
    response = await client.post(
        "/api/v1/servers/1/test-connection", headers=same_origin(client, csrf)
    )
    assert response.status == 403
    assert (await response.json())["error"]["details"]["required_role"] == "deployer"


async def test_logins_and_logouts_are_in_the_audit_log(client, admin, session):
    await log_in(client, "pbd_wrong")
    await client.post("/logout", data={"csrf": session}, headers=same_origin(client))
    records = await AuditRecord.all().order_by("id").values_list("action", "status", "token_name")
    assert records == [
        ("dashboard.login", 303, "alice"),
        ("dashboard.login", 401, None),
        ("dashboard.logout", 303, "alice"),
    ]

"""The dashboard's session, CSRF and escaping in a real browser, plus the keyboard and phone
checks: no target hosts (no server here is ever contacted)."""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests.service_process import free_port
from tests.web.conftest import http

PAGES = ("/", "/servers", "/apps", "/versions", "/deployments")
MARKUP = "<script>alert('xss')</script><img src=x onerror=\"window.__xss=1\">"
NOT_CONTACTED = "192.0.2.10"  # TEST-NET-1: documentation only, no task here ever runs
REFUSED = r"Failed to load resource: the server responded with a status of (401|403|422)"


@pytest.fixture(scope="module")
def records(service) -> dict:
    """A server, an app on it and a version whose notes carry markup, made through the API."""
    server = service.api("POST", "servers", {"name": "web-1", "host": NOT_CONTACTED})
    app = service.api(
        "POST",
        "apps",
        {
            "name": "shop",
            "server_id": server["id"],
            "remote_path": "/srv/apps/shop",
            "service_name": "shop.service",
        },
    )
    version = service.api(
        "POST", "versions", {"app_id": app["id"], "version_number": "1.0.0", "notes": MARKUP}
    )
    return {"server": server, "app": app, "version": version}


@pytest.fixture(scope="module")
def hostile(service, records) -> dict:
    """Markup where the API never lets it in, written straight into the database (as an older
    version or a hand edit could have left it): a server's name and connection error, an
    app's name, a task's error and actor. The task is a connection test to a closed loopback
    port, refused at once."""
    server = service.api(
        "POST", "servers", {"name": "loop", "host": "127.0.0.1", "port": free_port()}
    )
    app = service.api(
        "POST",
        "apps",
        {
            "name": "evil",
            "server_id": server["id"],
            "remote_path": "/srv/apps/evil",
            "service_name": "evil.service",
        },
    )
    task = service.api("POST", f"servers/{server['id']}/test-connection")["task"]
    service.task_end(task["id"])
    with closing(sqlite3.connect(service.data_dir / "pb-deployer.sqlite3")) as db, db:
        db.execute(
            "UPDATE servers SET name = ?, last_connection_error = ? WHERE id = ?",
            (MARKUP, MARKUP, server["id"]),
        )
        db.execute("UPDATE apps SET name = ? WHERE id = ?", (MARKUP, app["id"]))
        db.execute(
            "UPDATE tasks SET error = ?, actor = ? WHERE id = ?", (MARKUP, MARKUP, task["id"])
        )
    return {"server": server, "app": app, "task": task}


@pytest.fixture(scope="module")
def other_site() -> Iterator[list[str]]:
    """A page on another site (`localhost` is not the site of 127.0.0.1): whatever HTML the
    test puts in the list is served at /. Yields the list; its URL is `other_site_url`."""
    body: list[str] = [""]

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload = body[0].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    body.append(f"http://localhost:{server.server_address[1]}/")
    try:
        yield body
    finally:
        server.shutdown()
        thread.join()


def every_page(records: dict) -> tuple[str, ...]:
    """The nav's pages and the detail pages of the module's records."""
    return (*PAGES, f"/servers/{records['server']['id']}", f"/apps/{records['app']['id']}")


def cookie_header(browser) -> dict[str, str]:
    return {"Cookie": f"pbd_session={browser.session_cookie()['value']}"}


def no_alert(browser) -> bool:
    try:
        _ = browser.driver.switch_to.alert.text
    except NoAlertPresentException:
        return True
    return False


def server_names(service) -> set[str]:
    return {server["name"] for server in service.api("GET", "servers?per_page=100")["items"]}


def test_a_wrong_token_is_told_and_gets_no_session(browser):
    browser.allow_console(REFUSED)
    browser.open("/login")
    browser.find("input#token").send_keys("pbd_not-a-real-token")
    browser.find("form#login-form [type=submit]").click()
    alert = browser.visible("form#login-form [role=alert]")
    assert alert.text.strip()
    assert browser.path() == "/login"
    assert browser.session_cookie() is None
    browser.open("/servers")
    browser.at("/login")


def test_the_session_cookie_is_httponly_and_samesite_strict(browser, service):
    browser.login(service.admin_token)
    cookie = browser.session_cookie()
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie.get("secure") is False  # plain HTTP here; TLS sets Secure
    assert "pbd_session" not in browser.script("return document.cookie")
    assert service.admin_token not in browser.driver.page_source
    browser.screenshot("overview")


def test_a_session_fixed_before_login_is_not_the_session_after_it(browser, service):
    browser.open("/login")
    browser.driver.add_cookie({"name": "pbd_session", "value": "fixed-by-an-attacker"})
    browser.login(service.admin_token)  # the login page is loaded anew with the planted cookie
    assert browser.session_cookie()["value"] != "fixed-by-an-attacker"
    assert http("GET", browser.url("/servers"), headers=cookie_header(browser)).status == 200
    fixed = {"Cookie": "pbd_session=fixed-by-an-attacker"}
    assert http("GET", browser.url("/servers"), headers=fixed).status in (302, 303, 401)


def test_logout_ends_the_session(browser, service):
    browser.login(service.admin_token)
    old = cookie_header(browser)
    browser.logout()
    assert http("GET", browser.url("/servers"), headers=old).status in (302, 303, 401)
    forged = http(
        "POST",
        browser.url("/api/v1/servers"),
        b'{"name": "after-logout", "host": "192.0.2.11"}',
        {**old, "Content-Type": "application/json", "X-CSRF-Token": "anything"},
    )
    assert forged.status == 401, forged.text
    browser.open("/servers")
    browser.at("/login")


def test_a_state_change_without_the_csrf_token_is_refused(browser, service):
    browser.allow_console(REFUSED)
    browser.login(service.admin_token)
    browser.open("/servers")
    token = browser.csrf_token()
    url = browser.url("/api/v1/servers")
    headers = {**cookie_header(browser), "Content-Type": "application/json"}

    def create(name: str, **extra: str) -> int:
        body = f'{{"name": "{name}", "host": "{NOT_CONTACTED}"}}'.encode()
        reply = http("POST", url, body, {**headers, **extra})
        if reply.status == 403:
            assert reply.json()["error"]["code"] == "forbidden", reply.text
        return reply.status

    assert create("no-token") == 403
    assert create("wrong-token", **{"X-CSRF-Token": token[::-1]}) == 403
    assert create("with-token", **{"X-CSRF-Token": token}) == 201  # the cookie does log in
    # The page's own script without the token is refused too.
    status = browser.driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch('/api/v1/servers', {method: 'POST', headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({name: 'from-script', host: arguments[0]})})
          .then(r => done(r.status));""",
        NOT_CONTACTED,
    )
    assert status == 403
    # A form post (logout) without its hidden csrf field is refused; the session lives on.
    assert http("POST", browser.url("/logout"), b"", headers).status == 403
    assert http("GET", browser.url("/servers"), headers=cookie_header(browser)).status == 200
    names = server_names(service)
    assert "with-token" in names and not names & {"no-token", "wrong-token", "from-script"}


def test_a_cross_site_post_is_refused(browser, service, other_site):
    browser.allow_console(REFUSED)
    browser.allow_console(r"frame-ancestors")  # the dashboard's pages may not be framed
    browser.login(service.admin_token)
    base = browser.base_url
    other_site[0] = f"""<!doctype html><title>prize</title>
    <iframe name=sink id=sink></iframe>
    <form id=f method=post action="{base}/logout" target=sink></form>
    <script>
      fetch("{base}/api/v1/servers", {{method: "POST", mode: "no-cors", credentials: "include",
        headers: {{"Content-Type": "text/plain"}},
        body: JSON.stringify({{name: "cross-site", host: "{NOT_CONTACTED}"}})}})
        .finally(() => {{
          document.getElementById("sink").onload = () => {{ document.title = "sent"; }};
          document.getElementById("f").submit();
        }});
    </script>"""
    browser.driver.get(other_site[1])
    browser.wait(lambda driver: driver.title == "sent")
    browser.open("/servers")
    assert browser.path() == "/servers", "the forged logout ran"
    assert "cross-site" not in server_names(service)


def test_a_name_with_markup_is_refused_and_the_refusal_shown_as_text(browser, service):
    # The browser's own check refuses it first; past that check, the API does.
    browser.allow_console(REFUSED)
    browser.login(service.admin_token)
    browser.open("/servers")
    form = browser.find("form#server-form")
    name = form.find_element("name", "name")
    name.send_keys(MARKUP)
    form.find_element("name", "host").send_keys(NOT_CONTACTED)
    assert browser.script("return arguments[0].validity.valid", name) is False
    browser.script("arguments[0].noValidate = true", form)
    form.find_element("css selector", "[type=submit]").click()
    message = browser.visible("#notice[role=alert]")
    assert "letters, digits" in message.text
    assert no_alert(browser) and browser.script("return window.__xss") is None
    assert not browser.all("img[src=x]")
    assert MARKUP not in server_names(service)
    browser.screenshot("servers-refused-name")


def test_markup_from_the_database_is_shown_as_text_everywhere(browser, service, records, hostile):
    browser.login(service.admin_token)
    server, task = hostile["server"], hostile["task"]
    shown = {"/servers", f"/servers/{server['id']}", f"/tasks/{task['id']}", "/versions"}
    for path in (*every_page(records), *shown):
        browser.open(path)
        browser.find("nav[aria-label=Main]")
        assert no_alert(browser), path
        assert browser.script("return window.__xss") is None, path
        assert not browser.all("img[src=x], script:not([src]):not([type='application/json'])")
        if path in shown:
            assert MARKUP in browser.find("main").text, path
    browser.open(f"/tasks/{task['id']}")
    browser.wait_for_text("#task-error", lambda text: text == MARKUP)  # drawn by the script
    browser.screenshot("task-markup-as-text")


def test_every_page_loads_without_console_errors(browser, service, records):
    browser.login(service.admin_token)
    for path in every_page(records):
        browser.open(path)
        nav = browser.find("nav[aria-label=Main]")
        links = {a.get_attribute("pathname") for a in nav.find_elements("css selector", "a")}
        assert set(PAGES) <= links, links
        assert browser.find("meta[name=csrf-token]").get_attribute("content")
        assert not browser.take_console_errors(), path


def test_the_keyboard_reaches_the_buttons_with_a_visible_focus(browser, service, records):
    browser.login(service.admin_token)
    browser.open("/servers")
    browser.find(f"tr[data-server-id='{records['server']['id']}'] button[data-action=test]")
    reached: list[str] = []
    for _ in range(60):
        ActionChains(browser.driver).send_keys(Keys.TAB).perform()
        focused = browser.script(
            """const el = document.activeElement;
            const style = getComputedStyle(el);
            const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
                         || style.boxShadow !== 'none';
            return [el.matches('button[data-action]') ? el.dataset.action : el.tagName,
                    el.matches(':focus-visible') && ring];"""
        )
        reached.append(focused[0])
        if focused[0] == "test":
            assert focused[1], "the focused button shows no focus ring"
            browser.screenshot("servers-keyboard-focus")
            break
    else:
        pytest.fail(f"Tab never reached the test button: {reached}")


def test_phone_width_has_no_horizontal_scroll(browser, service, records):
    browser.login(service.admin_token)
    with browser.phone():
        for path in every_page(records):
            browser.open(path)
            browser.find("nav[aria-label=Main]")
            widths = browser.script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert widths[0] <= widths[1], (path, widths)
        browser.open("/servers")
        browser.find("#servers")
        browser.screenshot("servers-phone")


def test_a_viewer_sees_no_deploy_button_and_its_forged_post_is_refused(browser, service, records):
    browser.allow_console(REFUSED)
    viewer = service.token("watcher", "viewer")
    browser.login(viewer)
    app_id = records["app"]["id"]
    browser.open(f"/apps/{app_id}")
    browser.find("nav[aria-label=Main]")
    assert not browser.all("form#deploy-form, #rollback")
    browser.open("/servers")
    browser.find(f"tr[data-server-id='{records['server']['id']}']")
    assert not browser.all("button[data-action]")
    status = browser.driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const csrf = document.querySelector('meta[name=csrf-token]').content;
        fetch(`/api/v1/apps/${arguments[0]}/deploy`, {method: 'POST',
              headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
              body: JSON.stringify({version_id: arguments[1]})})
          .then(r => done(r.status));""",
        app_id,
        records["version"]["id"],
    )
    assert status == 403
    browser.screenshot("app-as-viewer")


UNNAMED_CONTROLS = """
const named = (el) => el.labels?.length || el.getAttribute('aria-label')
    || el.getAttribute('aria-labelledby') || (el.tagName === 'BUTTON' && el.textContent.trim());
return [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 120));
"""

# The contrast ratio (WCAG 2) of every visible text against the first opaque background
# behind it, in the colour scheme the page shows; the lowest few, and the page background.
LOW_CONTRAST = """
const rgb = (value) => {
  const parts = value.match(/[\\d.]+/g).map(Number);
  return { rgb: parts.slice(0, 3), alpha: parts.length > 3 ? parts[3] : 1 };
};
const luminance = ([r, g, b]) => {
  const linear = (c) => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
};
const background = (el) => {
  for (; el; el = el.parentElement) {
    const color = rgb(getComputedStyle(el).backgroundColor);
    if (color.alpha === 1) return color.rgb;
  }
  return [255, 255, 255];
};
const seen = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const el = node.parentElement;
  if (!node.textContent.trim() || !el.checkVisibility({ opacityProperty: true })) continue;
  if (el.closest('svg, [disabled], [aria-busy=true], .skip, .visually-hidden')) continue;
  const fg = luminance(rgb(getComputedStyle(el).color).rgb);
  const bg = luminance(background(el));
  const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
  const where = el.tagName + '.' + el.className;
  seen.push([Math.round(ratio * 100) / 100, where, node.textContent.trim().slice(0, 40)]);
}
seen.sort((a, b) => a[0] - b[0]);
return { lowest: seen.slice(0, 3), page: luminance(background(document.body)) };
"""


def test_every_form_control_has_a_label(browser, service, records, hostile):
    browser.login(service.admin_token)
    for path in (*every_page(records), f"/tasks/{hostile['task']['id']}", "/login"):
        browser.open(path)
        browser.find("main")
        assert browser.script(UNNAMED_CONTROLS) == [], path


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_theme_follows_the_system_and_text_keeps_its_contrast(
    browser, service, records, hostile, scheme
):
    browser.login(service.admin_token)
    media = {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
    browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", media)
    try:
        for path in (*every_page(records), f"/tasks/{hostile['task']['id']}"):
            browser.open(path)
            browser.find("nav[aria-label=Main]")
            if path.startswith("/tasks/"):
                browser.task_end()
            found = browser.script(LOW_CONTRAST)
            assert (found["page"] < 0.05) == (scheme == "dark"), (path, found["page"])
            assert found["lowest"][0][0] >= 4.5, (path, found["lowest"])
        browser.open("/servers")
        browser.find("#servers")
        browser.screenshot(f"servers-{scheme}")
    finally:
        browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

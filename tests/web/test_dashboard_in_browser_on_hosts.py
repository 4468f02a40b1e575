"""The issue's walk through the dashboard, in a real browser against a real service and a real
target host: log in, add the host through the servers form, test its connection and see the
badge change without a reload, set it up, audit it and read the findings, upload two
versions, deploy both and watch the log grow live, roll back, log out."""

import hashlib
import re

import pytest
from selenium.webdriver.support.select import Select

from service.models.tasks import FINISHED_STATUSES
from tests.http_probe import get
from tests.roles.fixtures import build_zip

pytestmark = pytest.mark.hosts

TASK_URL_RE = re.compile(r"/tasks/(\d+)$")
TASK_SECONDS = 900.0


@pytest.fixture
def app_host(target_hosts, running_hosts):
    """A host handed back pristine (it gets set up, nginx, an app user and releases)."""
    host = running_hosts[0]
    yield host
    target_hosts.reset_host(host)


def row(server_id: int, css: str = "") -> str:
    return f"#servers tr[data-server-id='{server_id}'] {css}".strip()


def task_of_row(browser, server_id: int, previous: str | None) -> str:
    """The path of the task the row's latest action started (its link in the task cell)."""

    def new_link(_: object) -> str | bool:
        links = browser.all(row(server_id, "[data-field=task] a[data-task-id]"))
        task = links[-1].get_attribute("data-task-id") if links else None
        return f"/tasks/{task}" if task and task != previous else False

    return browser.wait(new_link)


def watch_task(browser, path: str, name: str) -> list[str]:
    """Open the task page and wait for its end; the log lines it showed. The page must not
    reload itself: lines and status come over the WebSocket."""
    browser.open(path)
    browser.find("#task-status")
    browser.marker()
    status = browser.task_end(TASK_SECONDS)
    lines = [li.text for li in browser.all("ol#log > li")]
    browser.screenshot(f"task-{name}")
    assert not browser.reloaded(), "the task page reloaded"
    assert status == "successful", (status, lines[-20:])
    return lines


def add_and_test(browser, target_hosts, host, name: str) -> tuple[int, str]:
    """Add the host through the servers form, press its Test button and see the reachable
    badge change in place (no reload); (the server's id, its connection test's task path)."""
    browser.open("/servers")
    form = browser.find("form#server-form")
    for field, value in (
        ("name", name),
        ("host", host.ip),
        ("port", str(host.port)),
        ("root_username", host.user),
        ("manual_key_path", str(target_hosts.private_key)),
    ):
        element = form.find_element("name", field)
        element.clear()
        element.send_keys(value)
    form.find_element("css selector", "[type=submit]").click()
    new_row = browser.wait(
        lambda _: next(
            (r for r in browser.all("#servers tr[data-server-id]") if name in r.text), False
        )
    )
    server_id = int(new_row.get_attribute("data-server-id"))
    reachable = row(server_id, "[data-field=reachable]")
    before = browser.text_of(reachable)
    browser.screenshot(f"servers-new-{name}")
    browser.marker()
    browser.find(row(server_id, "button[data-action=test]")).click()
    after = browser.wait_for_text(reachable, lambda text: text != before, TASK_SECONDS)
    assert (before, after) == ("not tested", "reachable")
    task = task_of_row(browser, server_id, None)
    status = row(server_id, "[data-field=task] a[data-task-id] [data-field=status]")
    browser.wait_for_text(status, lambda text: text == "successful")
    assert not browser.reloaded(), "the servers page reloaded"
    browser.screenshot(f"servers-reachable-{name}")
    return server_id, task


def test_a_host_added_in_the_form_turns_reachable_live(
    browser, service, target_hosts, running_hosts
):
    browser.login(service.admin_token)
    _, task = add_and_test(browser, target_hosts, running_hosts[0], "first-host")
    lines = watch_task(browser, task, "connection-test")
    assert any(line.startswith("ok: [first-host]") for line in lines), lines
    bar = browser.find("progress[data-host='first-host']")
    assert bar.get_attribute("value") == bar.get_attribute("max")


def test_the_dashboard_walk_on_a_real_host(browser, service, target_hosts, app_host, tmp_path):
    browser.login(service.admin_token)
    server_id, test_task = add_and_test(browser, target_hosts, app_host, "web-host")

    # Set up, then audit, each followed on its task page.
    browser.open("/servers")
    browser.find(row(server_id, "button[data-action=setup]")).click()
    setup_task = task_of_row(browser, server_id, test_task.rsplit("/", 1)[1])
    watch_task(browser, setup_task, "setup")
    browser.open("/servers")
    browser.find(row(server_id, "button[data-action=audit]")).click()
    audit_task = task_of_row(browser, server_id, setup_task.rsplit("/", 1)[1])
    watch_task(browser, audit_task, "audit")
    browser.open(f"/servers/{server_id}")
    findings = browser.all("table#findings tr[data-status]")
    statuses = {finding.get_attribute("data-status") for finding in findings}
    assert findings and statuses <= {"pass", "fail"}, statuses
    assert "SSH-7408" in browser.find("table#findings").text
    browser.screenshot("server-audit-findings", show="table#findings")

    app = service.api(
        "POST",
        "apps",
        {
            "name": "shop",
            "server_id": server_id,
            "remote_path": "/srv/apps/shop",
            "service_name": "shop",
        },
    )

    # Two versions through the upload form: progress bar, then the SHA-256 in the new row.
    for number in ("1.0.0", "2.0.0"):
        archive = build_zip(number, directory=tmp_path / number)
        browser.open("/versions")
        form = browser.find("form#upload-form")
        Select(form.find_element("name", "app_id")).select_by_visible_text("shop")
        form.find_element("name", "version_number").send_keys(number)
        form.find_element("css selector", "input[type=file]").send_keys(str(archive))
        form.find_element("css selector", "[type=submit]").click()
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        browser.wait(lambda _, n=number: uploaded(browser, n) not in (None, "—"))
        assert uploaded(browser, number) == digest
        progress = browser.find("progress#upload-progress")
        assert progress.get_attribute("value") == progress.get_attribute("max")
        browser.screenshot(f"versions-uploaded-{number}")

    # Deploy 1.0.0 and 2.0.0 through the app's form; the log grows live on the task page.
    for number in ("1.0.0", "2.0.0"):
        browser.open(f"/apps/{app['id']}")
        form = browser.find("form#deploy-form")
        versions = Select(form.find_element("name", "version_id"))
        versions.select_by_visible_text(
            next(o.text for o in versions.options if o.text.startswith(number))
        )
        Select(form.find_element("name", "strategy")).select_by_value("rolling")
        batch = form.find_element("name", "batch_size")
        batch.clear()
        batch.send_keys("1")
        form.find_element("css selector", "[type=submit]").click()
        path = deployed_task(browser)
        grew = log_grows_live(browser, path)
        assert grew >= 2, grew
        assert browser.text_of("#task-status") == "successful"
        assert not browser.all("ol#log > li.failed")
        assert browser.find("progress[data-host='web-host']").get_attribute("value")
        browser.screenshot(f"deploy-{number}")
        assert get(app_host) == (200, f"version {number}")

    # Roll back, confirmed in the dialog.
    browser.open(f"/apps/{app['id']}")
    browser.find("#rollback").click()
    browser.visible("dialog#confirm")
    browser.screenshot("rollback-confirm")
    browser.find("dialog#confirm #confirm-yes").click()
    watch_task(browser, deployed_task(browser), "rollback")
    assert get(app_host) == (200, "version 1.0.0")

    browser.logout()
    browser.open("/servers")
    browser.at("/login")


def uploaded(browser, number: str) -> str | None:
    """The SHA-256 the versions table shows for version `number`, if it has a row."""
    for version in browser.all("#versions tr[data-version-id]"):
        if version.find_element("css selector", "[data-field=version_number]").text == number:
            return version.find_element("css selector", "[data-field=sha256]").text.strip()
    return None


def deployed_task(browser) -> str:
    """Where a deploy or rollback sent the browser: the task page, or the page's task link."""

    def found(driver: object) -> str | bool:
        if TASK_URL_RE.search(browser.path()):
            return browser.path()
        links = browser.all("a[data-task-id]")
        return f"/tasks/{links[-1].get_attribute('data-task-id')}" if links else False

    return browser.wait(found)


def log_grows_live(browser, path: str) -> int:
    """Follow the task page until the task ends; how many times the log got longer while the
    page stayed the same document."""
    if browser.driver.current_url != browser.url(path):
        browser.open(path)
    browser.find("ol#log")
    browser.marker()
    growths, seen = 0, len(browser.all("ol#log > li"))

    def longer_or_done(_: object) -> tuple[int] | bool:
        count = len(browser.all("ol#log > li"))
        return (
            (count,)
            if count > seen or browser.text_of("#task-status") in FINISHED_STATUSES
            else False
        )

    while browser.text_of("#task-status") not in FINISHED_STATUSES:
        (count,) = browser.wait(longer_or_done, TASK_SECONDS)
        growths += count > seen
        seen = count
    assert not browser.reloaded(), "the task page reloaded"
    return growths

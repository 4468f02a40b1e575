"""The dashboard in a real browser: one headless Chromium and one real `pb-deployer serve`
process per test module; every test fails if the page logged a console error."""

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.support.wait import WebDriverWait

from service.models.tasks import FINISHED_STATUSES
from tests.service_process import service_in_thread
from tests.web.browser import Browser, chromium


@dataclass
class Reply:
    status: int
    headers: Any
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Reply:
    """One request outside the browser, as a forger's script would send it; never raises on
    an error status and never follows a redirect."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object) -> None:
            return None

    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return Reply(response.status, response.headers, response.read().decode())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.headers, exc.read().decode(errors="replace"))


@dataclass
class Service:
    url: str
    admin_token: str
    data_dir: Path

    def api(self, method: str, path: str, body: object = None, token: str | None = None) -> Any:
        """One REST call with a bearer token (the admin's by default); the parsed reply."""
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        reply = http(method, f"{self.url}/api/v1/{path}", data, headers)
        assert reply.status < 300, (reply.status, reply.text)
        return reply.json() if reply.text else None

    def task_end(self, task_id: int, timeout: float = 120.0) -> str:
        """Wait until the task has a final status (read through the API); that status."""

        def final(service: "Service") -> str | bool:
            status = service.api("GET", f"tasks/{task_id}")["status"]
            return status in FINISHED_STATUSES and status

        return WebDriverWait(self, timeout, poll_frequency=0.2).until(final)

    def token(self, name: str, role: str) -> str:
        """A new token of `role`; its secret."""
        return self.api("POST", "tokens", {"name": name, "role": role})["token"]


@pytest.fixture(scope="module")
def service_env() -> dict[str, str]:
    """An unreachable host fails its task at the first attempt, so such tasks end fast."""
    return {"PBD_UNREACHABLE_ATTEMPTS": "1", "PBD_WORKERS": "2"}


@pytest.fixture(scope="module")
def service(tmp_path_factory, service_env) -> Iterator[Service]:
    """One service process per test module; its first start prints the admin token."""
    data_dir = tmp_path_factory.mktemp("service")
    with service_in_thread(data_dir, extra_env=service_env) as (process, _):
        assert process.token, process.output
        yield Service(process.base_url, process.token, data_dir)


@pytest.fixture(scope="module")
def module_browser(service, tmp_path_factory) -> Iterator[Browser]:
    """One Chromium per module (a browser costs ~200 MB and a core while it starts)."""
    driver = chromium()
    try:
        yield Browser(driver, service.url, tmp_path_factory.mktemp("screenshots"))
    finally:
        driver.quit()


@pytest.fixture
def browser(module_browser) -> Iterator[Browser]:
    """The module's browser, logged out, at desktop size; the test fails on console errors
    it did not take itself (`take_console_errors`) nor allow (`allow_console`)."""
    module_browser.take_console_errors()
    module_browser.forget_session()
    module_browser.allowed.clear()
    yield module_browser
    errors = module_browser.take_console_errors()
    assert not errors, f"console errors: {errors}"

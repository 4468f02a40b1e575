"""Headless Chromium from Debian, driven by Selenium, for the dashboard's tests and benchmark.

Nothing is downloaded: the driver and the browser are Debian's (`chromium`, `chromium-driver`,
installed by `.ci/install --with-tests`) and given by path, so Selenium Manager is never asked
to find or fetch them; it is also told to stay offline in case anything calls it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from service.models.tasks import FINISHED_STATUSES

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DESKTOP = (1280, 900)
PHONE = (390, 844)
"""CSS pixels of a common phone in portrait (iPhone 12-15)."""
WAIT_SECONDS = 30.0
SCREENSHOTS_ENV = "PBD_SCREENSHOTS"
"""A directory the screenshots are also copied to, to keep them after the run."""

# Selenium Manager reads its settings from SE_* variables; it is not run when the driver's
# path is given, but must never go online if some code path does run it.
OFFLINE_ENV = {"SE_OFFLINE": "true", "SE_AVOID_STATS": "true"}

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",  # no update, safe browsing or field-trial requests
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--renderer-process-limit=2",
    "--js-flags=--max-old-space-size=256",
)

T = TypeVar("T")


def chromium(*, performance_log: bool = False) -> WebDriver:
    """A new headless Chromium at desktop size that keeps its console log (and, for the
    benchmark, the DevTools network events)."""
    os.environ.update(OFFLINE_ENV)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    logs = {"browser": "ALL"} | ({"performance": "ALL"} if performance_log else {})
    options.set_capability("goog:loggingPrefs", logs)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=os.devnull)
    return webdriver.Chrome(service=service, options=options)


@dataclass
class Browser:
    """One Chromium pointed at one service: waits on the DOM, never on the clock."""

    driver: WebDriver
    base_url: str
    screenshots: Path
    console: list[dict[str, Any]] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    # -- navigation and waiting -------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.base_url + path

    def open(self, path: str) -> None:
        self.driver.get(self.url(path))

    def wait(self, condition: Callable[[WebDriver], T], timeout: float = WAIT_SECONDS) -> T:
        """Wait until `condition(driver)` is truthy; its value. An element replaced while
        the condition looks at it (a live update, a reload) only means: look again."""
        ignored = (StaleElementReferenceException,)
        return WebDriverWait(self.driver, timeout, ignored_exceptions=ignored).until(condition)

    def find(self, css: str, timeout: float = WAIT_SECONDS) -> WebElement:
        """The first element matching `css`, once it is in the DOM."""
        return self.wait(ec.presence_of_element_located((By.CSS_SELECTOR, css)), timeout)

    def visible(self, css: str, timeout: float = WAIT_SECONDS) -> WebElement:
        return self.wait(ec.visibility_of_element_located((By.CSS_SELECTOR, css)), timeout)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text_of(self, css: str) -> str:
        return self.find(css).text

    def attribute_of(self, css: str, name: str, timeout: float = WAIT_SECONDS) -> str:
        """The attribute `name` of the first element at `css`, read inside the wait: a
        live update may replace the element between finding it and reading it."""

        def read(driver: WebDriver) -> str | None:
            found = driver.find_elements(By.CSS_SELECTOR, css)
            return found[0].get_attribute(name) if found else None

        return self.wait(read, timeout)

    def wait_for_text(
        self, css: str, accept: Callable[[str], bool], timeout: float = WAIT_SECONDS
    ) -> str:
        """Wait until the text of the element at `css` satisfies `accept`; that text."""

        def check(driver: WebDriver) -> str | bool:
            found = driver.find_elements(By.CSS_SELECTOR, css)
            text = found[0].text if found else None
            return text if text is not None and accept(text) else False

        return self.wait(check, timeout)

    def path(self) -> str:
        """The path of the page shown, without its query."""
        url = urlsplit(self.driver.current_url)
        return url.path if f"{url.scheme}://{url.netloc}" == self.base_url else url.geturl()

    def at(self, path: str) -> None:
        """Wait until the browser shows `path`, whatever the query (after a redirect or a
        form post)."""
        self.wait(lambda _: self.path() == path)

    def script(self, source: str, *args: object) -> Any:
        return self.driver.execute_script(source, *args)

    def marker(self) -> str:
        """Put a mark on the current document; `reloaded()` is true once it is gone, which
        tells a live update (mark still there) from a page reload."""
        self.script("window.__pbdMark = 'kept'")
        return "kept"

    def reloaded(self) -> bool:
        return self.script("return window.__pbdMark") != "kept"

    # -- the dashboard's session ------------------------------------------------------------
    def login(self, token: str) -> None:
        """Log in through the login form and wait for the overview page."""
        self.open("/login")
        self.find("form#login-form input#token[name=token]").send_keys(token)
        self.find("form#login-form [type=submit]").click()
        self.at("/")

    def logout(self) -> None:
        self.find("form#logout-form [type=submit]").click()
        self.at("/login")

    def task_end(self, timeout: float = WAIT_SECONDS) -> str:
        """On a task page: wait until its status is a final one (it arrives live); that one."""
        return self.wait_for_text("#task-status", lambda text: text in FINISHED_STATUSES, timeout)

    def csrf_token(self) -> str:
        return self.find("meta[name=csrf-token]").get_attribute("content")

    def session_cookie(self) -> dict[str, Any] | None:
        return self.driver.get_cookie("pbd_session")

    def forget_session(self) -> None:
        self.driver.delete_all_cookies()

    # -- what went wrong in the page --------------------------------------------------------
    def take_console_errors(self) -> list[str]:
        """Console errors since the last call (JS exceptions, CSP violations, failed loads)
        that no `allow_console` pattern matches; the browser hands each entry out once."""
        entries = self.driver.get_log("browser")
        self.console += entries
        return [
            entry["message"]
            for entry in entries
            if entry["level"] == "SEVERE"
            and not any(pattern.search(entry["message"]) for pattern in self.allowed)
        ]

    def allow_console(self, pattern: str) -> None:
        """Accept console errors matching `pattern` until the test ends: those the test
        provokes on purpose (a refused request logs "Failed to load resource: ... 403")."""
        self.allowed.append(re.compile(pattern))

    def performance_events(self) -> list[dict[str, Any]]:
        """DevTools events since the last call (needs `chromium(performance_log=True)`)."""
        entries = self.driver.get_log("performance")
        return [json.loads(entry["message"])["message"] for entry in entries]

    # -- pictures ---------------------------------------------------------------------------
    def screenshot(self, name: str, show: str | None = None) -> Path:
        """Save the viewport as `name`.png in this run's directory (and in $PBD_SCREENSHOTS),
        scrolled to the element at `show` when given."""
        if show is not None:
            self.script("arguments[0].scrollIntoView({block: 'start'})", self.find(show))
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), path
        if keep := os.environ.get(SCREENSHOTS_ENV):
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(keep) / path.name)
        return path

    @contextmanager
    def phone(self) -> Iterator[None]:
        """The same browser as a phone: narrow viewport, touch, the page's meta viewport."""
        width, height = PHONE
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
        )
        try:
            yield
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

"""The browser harness itself: Debian's Chromium starts offline, reaches the service, and the
console-error check the dashboard's tests rely on does see script errors and CSP violations
(a check that never fires would let every page pass)."""

import base64
import os
import struct
from pathlib import Path

from tests.web.browser import CHROMEDRIVER, CHROMIUM, DESKTOP, PHONE


def page(html: str) -> str:
    return "data:text/html;base64," + base64.b64encode(html.encode()).decode()


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_debian_chromium_reaches_the_service(browser, service):
    assert browser.driver.service.path == str(CHROMEDRIVER)
    assert browser.driver.capabilities["browserVersion"].split(".")[0].isdigit()
    assert os.environ["SE_OFFLINE"] == "true"
    assert CHROMIUM.is_file()
    browser.open("/api/v1/health")
    assert '"status"' in browser.find("body").text
    # A JSON page has no <link rel=icon>: the browser asks for /favicon.ico, maybe in vain.
    assert all("/favicon.ico" in error for error in browser.take_console_errors())


def test_a_script_error_fails_the_page(browser):
    browser.driver.get(page("<p id=ok>ok</p><script>throw new Error('boom-7')</script>"))
    browser.find("#ok")
    errors = browser.wait(lambda _: browser.take_console_errors())
    assert any("boom-7" in error for error in errors), errors


def test_a_csp_violation_fails_the_page(browser):
    policy = "<meta http-equiv='Content-Security-Policy' content=\"script-src 'none'\">"
    browser.driver.get(page(f"{policy}<p id=ok>ok</p><script>document.title='ran'</script>"))
    browser.find("#ok")
    errors = browser.wait(lambda _: browser.take_console_errors())
    assert any("Content Security Policy" in error for error in errors), errors
    assert browser.driver.title != "ran"


def test_screenshots_at_desktop_and_phone_width(browser, tmp_path, monkeypatch):
    monkeypatch.setenv("PBD_SCREENSHOTS", str(tmp_path / "kept"))
    browser.driver.get(page("<meta name=viewport content='width=device-width'><h1>hi</h1>"))
    desktop = browser.screenshot("harness-desktop")
    with browser.phone():
        assert browser.script("return window.innerWidth") == PHONE[0]
        phone = browser.screenshot("harness-phone")
    assert (tmp_path / "kept" / "harness-phone.png").is_file()
    assert png_size(desktop)[0] == DESKTOP[0]
    assert png_size(phone)[0] == PHONE[0] * 2  # device pixel ratio 2

"""The task page's live feed in a real browser, on a connection test that hangs for as long as
the test wants: an SSH "server" on loopback sends its banner and then nothing, so the run
waits in key exchange until the test lets go. That makes a running task without a target
host: the page cancels it, and survives losing its WebSocket while events keep coming."""

import socket
import threading
from collections.abc import Iterator

import pytest

LINE_EVENTS = frozenset(
    {
        "playbook_on_play_start",
        "playbook_on_task_start",
        "runner_on_ok",
        "runner_on_skipped",
        "runner_on_failed",
        "runner_on_unreachable",
        "playbook_on_stats",
    }
)
"""The events the task page draws as a log line (task.js `line()`)."""

# Runs in every new document before the page's own scripts: the test can drop the page's
# WebSocket and keep its reconnects failing (a path that is no WebSocket) for a while.
FEED_SWITCH = """
(() => {
  const Real = window.WebSocket;
  window.__feed = { blocked: false, sockets: [] };
  window.WebSocket = class extends Real {
    constructor(url, protocols) {
      super(window.__feed.blocked ? url.replace("/api/v1/ws", "/api/v1/ws-blocked") : url,
            protocols);
      window.__feed.sockets.push(this);
    }
  };
})();
"""
BLOCKED = r"ws-blocked"


class HangingSsh:
    """Accepts SSH connections, sends a banner and holds them silent until `release()`; after
    that the port is closed, so every later attempt is refused at once."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.accepted = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # released
            connection.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
            self.held.append(connection)
            self.accepted.set()

    def release(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(10)
        for connection in self.held:
            connection.close()


@pytest.fixture
def hanging_ssh() -> Iterator[HangingSsh]:
    ssh = HangingSsh()
    yield ssh
    if ssh.listener.fileno() != -1:
        ssh.release()


@pytest.fixture
def feed_switch(browser) -> Iterator[None]:
    added = browser.driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": FEED_SWITCH}
    )
    yield
    browser.driver.execute_cdp_cmd(
        "Page.removeScriptToEvaluateOnNewDocument", {"identifier": added["identifier"]}
    )


def hanging_task(service, ssh: HangingSsh, name: str) -> dict:
    """A connection test that is running and waiting on the hanging server."""
    server = service.api("POST", "servers", {"name": name, "host": "127.0.0.1", "port": ssh.port})
    task = service.api("POST", f"servers/{server['id']}/test-connection")["task"]
    assert ssh.accepted.wait(120), "the connection test never reached the server"
    return task


def shown_seqs(browser) -> list[int]:
    return [int(li.get_attribute("data-seq")) for li in browser.all("ol#log > li")]


def test_a_running_task_is_cancelled_from_its_page(browser, service, hanging_ssh):
    task = hanging_task(service, hanging_ssh, "hangs-cancel")
    browser.login(service.admin_token)
    browser.open(f"/tasks/{task['id']}")
    browser.wait_for_text("#task-status", lambda text: text == "running")
    browser.marker()
    browser.visible("#cancel").click()
    browser.visible("dialog#confirm")
    browser.find("dialog#confirm #confirm-yes").click()
    assert browser.task_end(120) == "cancelled"
    assert not browser.find("#cancel").is_displayed()
    assert browser.visible("#retry").text == "Retry failed hosts"
    assert not browser.reloaded(), "the task page reloaded"
    assert service.api("GET", f"tasks/{task['id']}")["status"] == "cancelled"


def test_a_lost_websocket_replays_what_it_missed_once(browser, service, hanging_ssh, feed_switch):
    browser.allow_console(BLOCKED)
    task = hanging_task(service, hanging_ssh, "hangs-replay")
    browser.login(service.admin_token)
    browser.open(f"/tasks/{task['id']}")
    browser.wait(lambda _: any(li.text.startswith("TASK") for li in browser.all("ol#log > li")))
    browser.marker()
    seen_before = max(shown_seqs(browser))

    browser.script("window.__feed.blocked = true; window.__feed.sockets.at(-1).close()")
    assert "reconnecting" in browser.visible("#live-state").text
    hanging_ssh.release()  # the run fails now, while the page hears nothing
    assert service.task_end(task["id"]) == "failed"
    assert browser.text_of("#task-status") == "running"
    stored = service.api("GET", f"tasks/{task['id']}/events?limit=1000")["items"]
    expected = [e["seq"] for e in stored if e["event"].get("event") in LINE_EVENTS]
    assert [seq for seq in expected if seq > seen_before], "nothing happened while cut off"

    browser.script("window.__feed.blocked = false")
    assert browser.task_end(60) == "failed"
    browser.wait(lambda _: shown_seqs(browser) == expected)
    assert browser.find("ol#log > li.failed").text.startswith("unreachable: [hangs-replay]")
    browser.wait(lambda _: not browser.find("#live-state").is_displayed())
    assert not browser.reloaded(), "the task page reloaded"
    browser.screenshot("task-replayed-after-reconnect")

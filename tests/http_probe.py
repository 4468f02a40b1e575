"""Requests to an app on a target host through its nginx, as a visitor would make them."""

import threading
import urllib.error
import urllib.request
from collections import Counter

from tests.hosts import TargetHost


def get(host: TargetHost, domain: str | None = None, timeout: float = 5) -> tuple[int, str]:
    """GET http://<host ip>/ through nginx (Host header = domain when given)."""
    request = urllib.request.Request(f"http://{host.ip}/")
    if domain:
        request.add_header("Host", domain)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode().strip()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace").strip()


class Poller(threading.Thread):
    """Requests the app every 50 ms while a deploy runs; counts answers and failures."""

    def __init__(self, host: TargetHost, domain: str | None = None) -> None:
        super().__init__(daemon=True)
        self.host, self.domain = host, domain
        self.answers: Counter[str] = Counter()
        self.failures: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                status, body = get(self.host, self.domain, timeout=5)
                if status == 200:
                    self.answers[body] += 1
                else:
                    self.failures.append(f"{status} {body[:80]}")
            except OSError as exc:
                self.failures.append(repr(exc))
            self.halt.wait(0.05)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)

"""The dashboard in headless Chromium (Debian's, via Selenium): page weight, first render and
the delay from a runner event to its line on the screen, each beside a baseline of the same run.

1. Page weight: bytes transferred (every response's encoded length from the DevTools Network
   events, headers included) to load /servers logged in, cold cache (cleared before each
   load), with no servers and with `--servers`; baseline: a bare aiohttp "hello" page.
2. First render: first-contentful-paint (Paint Timing API) of /servers with `--servers`
   servers vs an empty /servers, median and max of `--loads` cold loads each.
3. Event to screen: `--rounds` connection tests (ping.yml) of one lab host, each followed on
   its /tasks/ID page. A script installed before the page's own (DevTools
   Page.addScriptToEvaluateOnNewDocument) stamps `Date.now()` in a MutationObserver when a line
   joins `ol#log`, and when the page's WebSocket has subscribed; delay = stamp - the event's
   `created` (set by ansible-runner's callback in ansible-playbook, same machine clock;
   `Date.now()` has 1 ms steps). Only
   events created after the page subscribed count (earlier ones are replayed, not live).
   Baseline: the same events' arrival at a plain aiohttp WebSocket client subscribed to "all"
   (receipt `time.time()` - `created`).

The servers are made through the API; the target host is a lab host (lab 4 unless
PBD_HOSTS_LAB says otherwise), never anything off this machine.

    .venv/bin/python -m bench.web_dashboard [--servers 1000] [--loads 5] [--rounds 20]
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from aiohttp import web

from bench.common import ServiceClient, percentile, run_on_lab_hosts, summary
from bench.event_latency import created_at
from tests.service_process import free_port, running_service
from tests.web.browser import Browser, chromium

HELLO = "<!doctype html><title>hello</title><p>hello"

# Runs in every page before its own scripts: stamps log lines and the WebSocket's subscription.
STAMPS = """
window.__pbdBench = {lines: [], subscribed: null};
const NativeSocket = window.WebSocket;
window.WebSocket = class extends NativeSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (message) => {
      if (window.__pbdBench.subscribed === null && JSON.parse(message.data).type === 'subscribed')
        window.__pbdBench.subscribed = Date.now();
    });
  }
};
new MutationObserver((records) => {
  const now = Date.now();
  for (const record of records)
    for (const node of record.addedNodes)
      if (node.nodeName === 'LI' && node.parentElement && node.parentElement.id === 'log')
        window.__pbdBench.lines.push({at: now, seq: node.dataset.seq, text: node.textContent});
}).observe(document, {childList: true, subtree: true});
"""


async def hello_page(port: int) -> web.AppRunner:
    """The baseline: a bare aiohttp handler answering a tiny HTML page."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=HELLO, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def cold_load(browser: Browser, url: str) -> tuple[int, int, float]:
    """Load `url` with an empty cache: (bytes transferred, responses, first-contentful-paint ms)."""
    browser.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    browser.performance_events()  # drop what came before
    browser.driver.get(url)
    fcp = browser.wait(
        lambda driver: driver.execute_script(
            "const p = performance.getEntriesByName('first-contentful-paint')[0];"
            "return p ? p.startTime : null;"
        )
    )
    browser.wait(lambda driver: driver.execute_script("return document.readyState") == "complete")
    finished = [
        event["params"]["encodedDataLength"]
        for event in browser.performance_events()
        if event["method"] == "Network.loadingFinished"
    ]
    return int(sum(finished)), len(finished), float(fcp)


def loads(browser: Browser, url: str, count: int) -> list[tuple[int, int, float]]:
    cold_load(browser, url)  # warm-up: server-side caches, the browser's own start
    return [cold_load(browser, url) for _ in range(count)]


async def make_servers(client: ServiceClient, count: int) -> None:
    """`count` servers through the API, 50 requests at a time (addresses of TEST-NET-2, never
    contacted)."""

    async def one(i: int) -> None:
        body = {"name": f"bench-{i:05d}", "host": f"198.51.100.{i % 250 + 1}"}
        async with client.session.post(f"{client.base_url}/api/v1/servers", json=body) as reply:
            assert reply.status == 201, await reply.text()

    for start in range(0, count, 50):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + 50))))


def follow(browser: Browser, task_id: int) -> dict:
    """Open the task page, wait for the end; the page's stamps."""
    browser.open(f"/tasks/{task_id}")
    browser.task_end(300)
    return browser.script("return window.__pbdBench")


async def event_rounds(
    browser: Browser, client: ServiceClient, server: dict, rounds: int
) -> tuple[list[float], list[float], int]:
    """ms from `created` to the line in the page, and to the plain client, per counted event;
    and how many events were left out (created before the page had subscribed)."""
    received: dict[tuple[int, int], tuple[float, float]] = {}  # (task, seq) -> (receipt, created)
    on_screen: list[float] = []
    plain: list[float] = []
    skipped = 0
    async with client.session.ws_connect(f"{client.base_url}/api/v1/ws") as ws:
        assert (await ws.receive_json())["type"] == "hello"
        await ws.send_json({"type": "subscribe", "topic": "all"})
        assert (await ws.receive_json())["type"] == "subscribed"

        async def read() -> None:
            async for frame in ws:
                at = time.time()
                message = json.loads(frame.data)
                if message["type"] == "task.event":
                    key = (message["task_id"], message["seq"])
                    received[key] = (at, created_at(message["event"]))

        reader = asyncio.create_task(read())
        try:
            for round_ in range(rounds + 1):  # the first is a warm-up (host key, ControlPersist)
                task = await client.start(server["id"])
                stamps = await asyncio.to_thread(follow, browser, task["id"])
                await asyncio.sleep(0.2)  # the last frames to the plain client
                if round_ == 0:
                    continue
                for line in stamps["lines"]:
                    at, created = received[(task["id"], int(line["seq"]))]
                    if created * 1000 < stamps["subscribed"]:
                        skipped += 1
                        continue
                    on_screen.append(line["at"] - created * 1000)
                    plain.append((at - created) * 1000)
        finally:
            reader.cancel()
    return on_screen, plain, skipped


def median_max(samples: list[float]) -> str:
    return f"median {statistics.median(samples):.1f}ms max {max(samples):.1f}ms"


async def bench(harness, hosts, args: argparse.Namespace) -> None:
    port = free_port()
    hello = await hello_page(port)
    browser = None
    with tempfile.TemporaryDirectory(prefix="pbd-bench-web-") as tmp:
        extra = {"PBD_LOG_LEVEL": "WARNING"}
        async with running_service(Path(tmp) / "data", extra_env=extra) as service:
            client = ServiceClient(service.base_url, service.token)
            try:
                driver = await asyncio.to_thread(chromium, performance_log=True)
                browser = Browser(driver, service.base_url, Path(tmp) / "screenshots")
                await asyncio.to_thread(browser.login, service.token)
                servers = browser.url("/servers")
                base = await asyncio.to_thread(loads, browser, f"http://127.0.0.1:{port}/", 3)
                empty = await asyncio.to_thread(loads, browser, servers, args.loads)
                started = time.perf_counter()
                await make_servers(client, args.servers)
                made = time.perf_counter() - started
                full = await asyncio.to_thread(loads, browser, servers, args.loads)
                rows = await asyncio.to_thread(
                    browser.script, "return document.querySelectorAll('#servers tr').length - 1"
                )
                await asyncio.to_thread(
                    driver.execute_cdp_cmd,
                    "Page.addScriptToEvaluateOnNewDocument",
                    {"source": STAMPS},
                )
                server = await client.create_server(hosts[0], harness.private_key)
                on_screen, plain, skipped = await event_rounds(browser, client, server, args.rounds)
            finally:
                if browser is not None:
                    await asyncio.to_thread(browser.driver.quit)
                await client.close()
    await hello.cleanup()

    print(f"made {args.servers} servers through the API in {made:.1f}s")
    print("page weight, cold cache (bytes transferred, responses):")
    for label, samples in (
        ("bare aiohttp hello page (baseline)", base),
        ("/servers, no servers", empty),
        (f"/servers, {args.servers} servers ({rows} rows drawn)", full),
    ):
        size, responses, _ = samples[-1]
        print(f"  {label:<52} {size:>9,} B in {responses} responses")
    print("first-contentful-paint, cold cache:")
    for label, samples in (
        ("/servers, no servers (baseline)", empty),
        (f"/servers, {args.servers} servers", full),
    ):
        print(f"  {label:<52} {median_max([fcp for _, _, fcp in samples])} (n={len(samples)})")
    print(
        f"event -> line on screen: {args.rounds} runs of ping.yml on {hosts[0].name}, "
        f"{len(on_screen)} events counted ({skipped} created before the page subscribed)"
    )
    print(f"  plain WebSocket client (baseline): {summary(plain)}")
    print(f"  line in the page's ol#log:         {summary(on_screen)}")
    for fraction, label in ((0.5, "p50"), (0.99, "p99")):
        extra = percentile(on_screen, fraction) - percentile(plain, fraction)
        print(f"  {label} page - plain client: {extra:+.2f}ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=1)
    args = parser.parse_args()
    run_on_lab_hosts(bench, args)


if __name__ == "__main__":
    main()

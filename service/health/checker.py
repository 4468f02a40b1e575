"""The health checker: one background component that GETs every deployed app's health URL
on each of its hosts, through nginx, on the app's interval.

Cheap by design: one shared HTTP session (connections to a host are reused across its apps),
one loop that keeps every target's next due time in a heap and starts what is due, at most
`health_concurrency` checks in flight, and no database write per check: the hourly counts
are kept in memory and written in one statement every FLUSH_EVERY seconds; a host's row is
written only when it fails or changes state. It listens on the engine's publisher for
finished deploys (the targets of that app are read again) and reports through the same
publisher: `app.health` on every change, `app.down` / `app.up` when a host goes down or comes
back (the webhooks hear those).
"""

import asyncio
import heapq
import logging
import random
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from service.clock import Clock, SystemClock
from service.config import Settings
from service.domain import deployments
from service.errors import Conflict
from service.health.rules import (
    MIN_INTERVAL,
    Counts,
    HostState,
    app_status,
    first_due,
    hour_of,
    next_due,
)
from service.health.samples import write_samples
from service.models import (
    App,
    AppHostHealth,
    HealthStatus,
    Server,
    Task,
    TaskKind,
    WebhookEvent,
)
from service.models.tasks import FINISHED_STATUSES
from service.tasks.engine import TaskEngine
from service.tasks.publishers import Listener

log = logging.getLogger(__name__)

LOOP_NAME = "health-checker"
"""The name of the checker's loop (and of its naps on the clock)."""
MAX_NAP = 60.0
"""The longest nap between two looks at the due checks."""
FLUSH_EVERY = 60.0
"""Seconds between two writes of the hourly counts."""
DEFAULT_HEALTH_PATH = "/health"
"""The role's app_deploy_health_path, for a deployment that did not set one."""
USER_AGENT = "pb-deployer-health"
DEPLOY_KINDS = frozenset({TaskKind.DEPLOY, TaskKind.ROLLBACK, TaskKind.RECONCILE, TaskKind.RESTART})
HEALTH_MESSAGE = "app.health"

Key = tuple[int, int]
"""(app id, server id)."""


@dataclass(frozen=True)
class Target:
    """One app on one host: where its health is asked, and how often."""

    app_id: int
    server_id: int
    url: str
    host_header: str | None
    interval: float


def health_url(host: str, port: int, path: str) -> str:
    address = f"[{host}]" if ":" in host else host
    return f"http://{address}:{port}{path}"


class DeployListener(Listener):
    """A listener on the engine's FanOut: a finished deploy, rollback, reconcile or restart
    changes what an app serves where, so its targets are read again (nothing else does)."""

    def __init__(self, checker: "HealthChecker") -> None:
        self.checker = checker

    def task_status(self, task: Task) -> None:
        if task.kind in DEPLOY_KINDS and task.status in FINISHED_STATUSES and task.app_id:
            self.checker.reload(task.app_id)


class HealthChecker:
    def __init__(
        self,
        settings: Settings,
        engine: TaskEngine,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()  # noqa: S311 -- jitter, not a secret
        self.listener = DeployListener(self)
        self.targets: dict[Key, Target] = {}
        self.states: dict[Key, HostState] = {}
        self.app_status: dict[int, HealthStatus | None] = {}
        self.due: dict[Key, datetime] = {}
        self._heap: list[tuple[datetime, Key]] = []
        self.samples: dict[tuple[int, int, datetime], Counts] = {}
        self.in_flight: dict[Key, asyncio.Task[None]] = {}
        self.restarted: set[int] = set()
        """Apps the policy restarted in their current down period (once per period)."""
        self.checks = 0
        """Checks recorded since the start (for figures)."""
        self._stale: set[int] = set()
        self._load_all = True
        self._last_flush: datetime | None = None
        self._wakeup = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self.session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name=LOOP_NAME)

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None

    def reload(self, app_id: int) -> None:
        """Read the app's targets again (deployed, changed, moved or deleted)."""
        self._stale.add(app_id)
        self._wakeup.set()

    async def _run(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.settings.health_concurrency, ttl_dns_cache=300)
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.settings.health_timeout),
            headers={"User-Agent": USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        async with session:
            self.session = session
            try:
                while True:
                    self._wakeup.clear()
                    if not self.engine.registry.leader:
                        await self._follow_the_leader()
                        continue
                    try:
                        await self._refresh()
                        self._start_due()
                        if self._flush_due():
                            await self.flush()
                    except Exception:
                        log.exception("the health checker could not run its round")
                    await self._nap(self._seconds_to_next())
            finally:
                await self._stop_checks()
                await self.flush()

    async def _follow_the_leader(self) -> None:
        """Another instance leads and checks the apps: stop checking, forget the targets
        (read afresh, states included, once this one leads), look again in a while."""
        await self._stop_checks()
        await self.flush()
        self.targets.clear()
        self.states.clear()
        self.due.clear()
        self._heap.clear()
        self._load_all = True
        await self._nap(self.engine.registry.lease.total_seconds() / 3)

    async def _nap(self, delay: float) -> None:
        """Sleep on the clock (tests move it), or until woken (new targets, a free slot)."""
        sleeping = asyncio.create_task(self.clock.sleep(delay), name=LOOP_NAME)
        woken = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait([sleeping, woken], return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            woken.cancel()

    def _seconds_to_next(self) -> float:
        now = self.clock.now()
        delay = MAX_NAP
        if self._last_flush is not None:
            delay = FLUSH_EVERY - (now - self._last_flush).total_seconds()
        if self._heap and len(self.in_flight) < self.settings.health_concurrency:
            delay = min(delay, (self._heap[0][0] - now).total_seconds())
        return min(max(delay, 0.0), MAX_NAP)

    def _flush_due(self) -> bool:
        now = self.clock.now()
        if self._last_flush is None:
            self._last_flush = now
        return (now - self._last_flush).total_seconds() >= FLUSH_EVERY

    async def _refresh(self) -> None:
        stale, self._stale = self._stale, set()
        if self._load_all:
            deployed = App.filter(current_version__not_isnull=True)
            stale |= set(await deployed.values_list("id", flat=True))
            self._load_all = False
        for app_id in sorted(stale):
            try:
                await self._load(app_id)
            except Exception:
                log.exception("could not read the health targets of app %s", app_id)

    async def _load(self, app_id: int) -> None:
        """The app's targets now: one per server when it has a deployed version."""
        app = await App.get_or_none(id=app_id)
        wanted: dict[Key, Target] = {}
        rows: dict[int, AppHostHealth] = {}
        if app is not None and app.current_version is not None:
            live = await deployments.live_deployment(app)
            path = ((live.options or {}).get("health_path") if live else None) or (
                DEFAULT_HEALTH_PATH
            )
            interval = max(app.health_interval, MIN_INTERVAL)
            for server in await deployments.app_servers(app):
                url = health_url(server.host, self.settings.health_port, path)
                wanted[(app.id, server.id)] = Target(app.id, server.id, url, app.domain, interval)
            rows = {row.server_id: row for row in await AppHostHealth.filter(app_id=app.id)}
            self.app_status.setdefault(app.id, app.health_status)
            if not app.restart_on_down:
                self.restarted.discard(app.id)
        for key in [key for key in self.targets if key[0] == app_id and key not in wanted]:
            self._drop(key)
        now = self.clock.now()
        for key, target in wanted.items():
            before = self.targets.get(key)
            self.targets[key] = target
            if key not in self.states:
                row = rows.get(key[1])
                self.states[key] = HostState(
                    up=row.up,
                    changed_at=row.changed_at,
                    error=row.error,
                    recent_failures=list(row.recent_failures),
                ) if row else HostState()  # fmt: skip
            if before is None or before.interval != target.interval:
                self._schedule(key, first_due(now, target.interval, self.rng))
        if app is None:
            self.app_status.pop(app_id, None)
            self.restarted.discard(app_id)
            return
        await (
            AppHostHealth.filter(app_id=app_id)
            .exclude(server_id__in=[server_id for _, server_id in wanted])
            .delete()
        )
        await self._set_app_status(app, changed=None)

    def _drop(self, key: Key) -> None:
        self.targets.pop(key, None)
        self.states.pop(key, None)
        self.due.pop(key, None)

    def _schedule(self, key: Key, at: datetime) -> None:
        """Due at `at`; an earlier entry of the key in the heap is stale and skipped."""
        self.due[key] = at
        heapq.heappush(self._heap, (at, key))

    def _start_due(self) -> None:
        now = self.clock.now()
        while self._heap and len(self.in_flight) < self.settings.health_concurrency:
            at, key = self._heap[0]
            if self.due.get(key) != at:
                heapq.heappop(self._heap)
                continue
            if at > now:
                return
            heapq.heappop(self._heap)
            target = self.targets[key]
            self._schedule(key, next_due(at, now, target.interval))
            if key not in self.in_flight:  # a check still running is not doubled
                self._start(target)

    def _start(self, target: Target) -> None:
        key = (target.app_id, target.server_id)
        check = asyncio.create_task(self._check(target), name=f"health-{key[0]}-{key[1]}")
        self.in_flight[key] = check

        def done(_: asyncio.Task[None]) -> None:
            full = len(self.in_flight) >= self.settings.health_concurrency
            if self.in_flight.get(key) is check:
                del self.in_flight[key]
            if full:
                self._wakeup.set()  # a slot is free for the checks left waiting

        check.add_done_callback(done)

    async def _check(self, target: Target) -> None:
        at = self.clock.now()
        started = time.monotonic()
        error = await self.probe(target)
        latency_ms = round((time.monotonic() - started) * 1000, 1)
        try:
            await self._record(target, at, latency_ms, error)
        except Exception:
            log.exception("could not record the health of app %s", target.app_id)

    async def probe(self, target: Target) -> str | None:
        """One GET of the health URL; None when it answered 200, else what went wrong."""
        assert self.session is not None
        headers = {"Host": target.host_header} if target.host_header else None
        try:
            async with self.session.get(
                target.url, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                if response.status != 200:
                    return f"HTTP {response.status}"
        except TimeoutError:
            return f"No answer within {self.settings.health_timeout} s."
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    async def _record(
        self, target: Target, at: datetime, latency_ms: float, error: str | None
    ) -> None:
        key = (target.app_id, target.server_id)
        state = self.states.get(key)
        if state is None:  # the target went away while it was checked
            return
        self.checks += 1
        bucket = (target.app_id, target.server_id, hour_of(at))
        self.samples[bucket] = self.samples.get(bucket, Counts()) + Counts(
            1, int(error is not None), latency_ms
        )
        before = state.up
        changed = state.observe(at, latency_ms, error, self.settings.health_failures)
        if error is not None or changed:
            await self._store_host(key, state)
        if changed:
            await self._host_changed(target, state, came_back=before is False)

    async def _store_host(self, key: Key, state: HostState) -> None:
        await AppHostHealth.update_or_create(
            defaults={
                "up": state.up,
                "changed_at": state.changed_at,
                "error": state.error,
                "recent_failures": state.recent_failures,
            },
            app_id=key[0],
            server_id=key[1],
        )

    async def _host_changed(self, target: Target, state: HostState, *, came_back: bool) -> None:
        """Follow the app's status and apply the policy; `app.down` when the host goes down,
        `app.up` when it comes back (not at its first passed check: nothing was down)."""
        app = await App.get_or_none(id=target.app_id)
        server = await Server.get_or_none(id=target.server_id)
        if app is None or server is None:
            return
        if came_back or not state.up:
            self._notify(app, server, state)
        status = await self._set_app_status(app, changed=target.server_id)
        if status == HealthStatus.RUNNING:
            self.restarted.discard(app.id)
        if not state.up and app.restart_on_down and app.id not in self.restarted:
            self.restarted.add(app.id)
            try:
                task = await deployments.restart(self.engine, app.id, created_by=None)
                log.info("app %s is down on %s: restart task %s", app.name, server.name, task.id)
            except Conflict as exc:
                log.info("app %s is down on %s, not restarted: %s", app.name, server.name, exc)

    def _notify(self, app: App, server: Server, state: HostState) -> None:
        self.engine.publisher.notice(
            WebhookEvent.APP_UP if state.up else WebhookEvent.APP_DOWN,
            {
                "app_id": app.id,
                "app_name": app.name,
                "server_id": server.id,
                "server_name": server.name,
                "state": "up" if state.up else "down",
                "since": state.changed_at.isoformat() if state.changed_at else None,
                "error": None if state.up else state.error,
                "message": f"app {app.name} is {'up' if state.up else 'down'} on {server.name}",
            },
            server_id=server.id,
            app_id=app.id,
        )

    async def _set_app_status(self, app: App, changed: int | None) -> HealthStatus | None:
        """Store the app's status from its hosts' states; `app.health` when it or a host
        (`changed`, a server id) changed."""
        keys = [key for key in self.targets if key[0] == app.id]
        status = app_status(self.states[key].up for key in keys)
        if status == self.app_status.get(app.id) and changed is None:
            return status
        if status != self.app_status.get(app.id):
            await App.filter(id=app.id).update(health_status=status)
            self.app_status[app.id] = status
        hosts = [{"server_id": key[1], "up": self.states[key].up} for key in keys]
        self.engine.publisher.notice(
            HEALTH_MESSAGE,
            {"app_id": app.id, "health_status": status, "server_id": changed, "hosts": hosts},
            app_id=app.id,
        )
        return status

    async def flush(self) -> None:
        """Write the hourly counts kept since the last write (also before a read of them)."""
        self._last_flush = self.clock.now()
        samples, self.samples = self.samples, {}
        if not samples:
            return
        try:
            await write_samples(samples)
        except Exception:
            log.exception("could not write %d health samples", len(samples))

    async def _stop_checks(self) -> None:
        checks = list(self.in_flight.values())
        for check in checks:
            check.cancel()
        for check in checks:
            with suppress(asyncio.CancelledError):
                await check

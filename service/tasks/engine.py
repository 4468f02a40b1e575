"""The task engine: a persistent queue in the database, worked by N asyncio workers.

- A task waits (`queued`) until a worker is free and no other task runs on its server;
  tasks of one server start in the order they were queued, also when one of them waits out
  a retry backoff (the server's later tasks wait behind it). Reads (service status and
  logs) are the exception: they only look, so they start as soon as a worker is free, beside
  whatever runs on the server, and hold nothing up.
- Running a task = rendering the server's inventory, running the kind's playbook through
  `service.ansible.runner`, publishing every event live and storing it in batches.
- Unreachable hosts are retried with exponential backoff up to the task's `max_attempts`.
- Cancel kills the run's whole process tree; a task found `running` at start-up was
  orphaned by a crash: its leftover processes are killed and it is marked `interrupted`.
- Several instances can share one database (service/cluster/): a claim holds a lock
  that spans them, a server is busy while any instance runs a task on it, the instance
  that runs a task is told of a cancel, and a task whose instance stopped heartbeating
  is interrupted by a survivor.
- Nothing a task does stops a worker: an error anywhere in a worker's round is logged with
  its traceback and fails that task, and a supervisor restarts a worker that ends anyway.
"""

import asyncio
import logging
import re
import shutil
from collections.abc import Callable, Coroutine, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.expressions import Q

from service.ansible import processes
from service.ansible.inventory import render_inventory
from service.ansible.runner import PlaybookSpec, RunControl, RunResult, run_playbook
from service.ansible.sshkeys import control_dir, ensure_service_key
from service.cluster.bus import Bus, LocalBus
from service.cluster.instances import Registry
from service.config import Settings
from service.domain.tokens import Actor
from service.errors import Conflict
from service.models import Instance, Server, Task, TaskKind, TaskStatus
from service.models.tasks import FINISHED_STATUSES
from service.storage.secrets import SecretBox
from service.tasks.events import EventLog, Progress, trim_event
from service.tasks.kinds import KINDS
from service.tasks.publishers import Publisher

log = logging.getLogger(__name__)

RUNNER_STATUSES = {
    "successful": TaskStatus.SUCCESSFUL,
    "canceled": TaskStatus.CANCELLED,
    "timeout": TaskStatus.TIMEOUT,
}
FLUSH_INTERVAL = 0.25
IDLE_POLL = 1.0
"""How often an idle worker looks at the queue without a wake-up (a lost note, say)."""
RESTART_DELAY = 0.5
"""Pause before a worker that ended is restarted, so a worker that keeps dying cannot spin."""
CANCEL_WAIT = 60.0
"""How long deleting a server or app waits for its cancelled tasks to end."""
ACTIVE_STATUSES = (TaskStatus.QUEUED, TaskStatus.RUNNING)


@dataclass
class Running:
    """What the engine holds for a task while it runs."""

    task: Task
    control: RunControl
    events: EventLog
    progress: Progress
    last_error: str | None = None
    host_errors: dict[str, str] = field(default_factory=dict)
    """Each host's last failure or unreachable message, for its part of the result."""
    saved_pid: int | None = None
    flushing: asyncio.Lock = field(default_factory=asyncio.Lock)


class TaskEngine:
    def __init__(
        self,
        settings: Settings,
        publisher: Publisher,
        *,
        registry: Registry | None = None,
        bus: Bus | None = None,
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.registry = registry or Registry(settings)
        self.bus = bus or LocalBus()
        self.secrets = SecretBox(settings.secrets_key_file)
        self.running: dict[int, Running] = {}
        """The tasks this instance runs now (other instances' are only in the database)."""
        self._wakeup = asyncio.Event()
        self._finished: dict[int, asyncio.Event] = {}
        self._loops: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self.restarts = 0
        """Workers (or the flusher) restarted after they ended unexpectedly."""

    # Life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.registry.register()
        await self.recover()
        self._loops = {f"task-worker-{n}": self._worker for n in range(self.settings.workers)}
        self._loops["task-event-flusher"] = self._flusher
        self._loops["instance-heartbeat"] = self._heartbeat
        self._workers = {name: self._spawn(name) for name in self._loops}
        self._supervisor = asyncio.create_task(self._supervise(), name="task-supervisor")

    async def stop(self) -> None:
        everything = [*filter(None, [self._supervisor]), *self._workers.values()]
        for worker in everything:  # the supervisor first: it must not restart the others
            worker.cancel()
        for worker in everything:
            with suppress(asyncio.CancelledError):
                await worker
        self._workers = {}
        self._supervisor = None
        with suppress(Exception):  # the database may be what is going away
            await self.registry.deregister()

    def workers_expected(self) -> int:
        return len(self._loops)

    def workers_alive(self) -> int:
        return sum(1 for worker in self._workers.values() if not worker.done())

    def supervisor_alive(self) -> bool:
        return self._supervisor is not None and not self._supervisor.done()

    def _spawn(self, name: str) -> asyncio.Task[None]:
        return asyncio.create_task(self._loops[name](), name=name)

    async def _supervise(self) -> None:
        """Restart any worker that ended: they only end on a bug or a stray cancellation."""
        while True:
            ended, _ = await asyncio.wait(
                self._workers.values(), return_when=asyncio.FIRST_COMPLETED
            )
            await asyncio.sleep(RESTART_DELAY)
            for worker in ended:
                name = worker.get_name()
                if worker.cancelled():
                    log.error("%s was cancelled; restarting it", name)
                else:
                    log.error("%s ended; restarting it", name, exc_info=worker.exception())
                self.restarts += 1
                self._workers[name] = self._spawn(name)

    async def recover(self) -> None:
        """Mark tasks orphaned by this instance's crash `interrupted` and kill what is left
        of their runs (tasks of no instance, from before instances, count as its own).

        The stored pid misses a run cut before its first event was stored, so every
        ansible-playbook working in this instance's runs directory is killed as well.
        """
        processes.kill_runs(f"{self.runs_dir}/")
        mine = Q(instance=self.registry.name) | Q(instance=None)
        for task in await Task.filter(mine, status=TaskStatus.RUNNING):
            if task.pid and "ansible-playbook" in processes.command_line(task.pid):
                processes.kill_tree(task.pid)
            await self._interrupt(task, "The service stopped while this task was running")
        shutil.rmtree(self.runs_dir, ignore_errors=True)

    async def _interrupt(self, task: Task, reason: str) -> None:
        task.status = TaskStatus.INTERRUPTED
        task.error = f"{reason}; retry it."
        task.finished_at = datetime.now(UTC)
        task.pid = None
        await self._save_status(task)

    @property
    def runs_dir(self) -> Path:
        """This instance's runs (instances on one machine may share a data dir)."""
        return runs_dir(self.settings, self.registry.name)

    async def _heartbeat(self) -> None:
        """Renew this instance's lease, and take over instances whose lease ran out."""
        while True:
            try:
                await self._beat()
            except Exception:
                log.exception("could not renew this instance's lease")
            await asyncio.sleep(self.registry.lease.total_seconds() / 3)

    async def _beat(self) -> None:
        if not await self.registry.beat():
            log.error(
                "another instance took %s for dead and interrupted its tasks; "
                "cancelling the runs still going here",
                self.registry.name,
            )
            for running in self.running.values():
                running.control.cancel()
        for instance in await self.registry.take_expired():
            await self._take_over(instance)
        await self.registry.elect()

    async def _take_over(self, instance: Instance) -> None:
        """Interrupt the tasks of an instance taken for dead; its servers are free then.
        On this machine, its leftover runs are killed too (the instance does it itself when
        it comes back, wherever it runs)."""
        log.warning("instance %s is taken for dead: %s", instance.name, instance.stop_reason)
        if instance.hostname == self.registry.hostname:
            processes.kill_runs(f"{runs_dir(self.settings, instance.name)}/")
        for task in await Task.filter(status=TaskStatus.RUNNING, instance=instance.name):
            await self._interrupt(task, f"Instance {instance.name} stopped while running this task")

    # Commands -----------------------------------------------------------------------------

    async def submit(
        self,
        kind: TaskKind,
        server: Server,
        params: dict[str, Any] | None = None,
        *,
        limit_hosts: list[str] | None = None,
        retry_of: Task | None = None,
        server_ids: list[int] | None = None,
        app_id: int | None = None,
        deployment_id: int | None = None,
        created_by: Actor | None = None,
    ) -> Task:
        """Queue a run on `server` (plus `server_ids`, for an app on several servers);
        `created_by` is who asked (None: the service itself, e.g. a reconcile after a cut)."""
        task = await Task.create(
            kind=kind,
            server=server,
            server_ids=server_ids or [server.id],
            app_id=app_id,
            deployment_id=deployment_id,
            params=params or {},
            max_attempts=self.settings.unreachable_attempts if KINDS[kind].retry_unreachable else 1,
            limit_hosts=limit_hosts,
            retry_of=retry_of,
            created_by_id=created_by.token_id if created_by else None,
            actor=created_by.name if created_by else None,
        )
        await self._status_changed(task)
        self.wake()
        return task

    def wake(self) -> None:
        """Workers here look at the queue now, and those of every other instance."""
        self._wakeup.set()
        self.bus.send({"t": "wake"})

    def cancel_here(self, task_id: int) -> None:
        """Another instance was asked to cancel a task: kill its run if it runs here."""
        running = self.running.get(task_id)
        if running is not None:
            running.control.cancel()

    def finished_elsewhere(self, task_id: int) -> None:
        """Another instance finished a task: wake whoever waits for it here."""
        if task_id in self._finished:
            self._finished.pop(task_id).set()

    async def cancel(self, task: Task) -> Task:
        """Cancel a queued task at once, or a running one by killing its run.

        The request is stored first; then a still-queued task is cancelled by a conditional
        update, so a worker claiming it at the same moment either loses the race or sees
        the stored request right after registering the run (see `_claim`).
        """
        if task.status in FINISHED_STATUSES:
            raise Conflict(f"Task {task.id} has already finished ({task.status.value}).")
        await Task.filter(id=task.id).update(cancel_requested=True)
        now = datetime.now(UTC)
        cancelled = await Task.filter(id=task.id, status=TaskStatus.QUEUED).update(
            status=TaskStatus.CANCELLED, finished_at=now, error="Cancelled on request."
        )
        running = self.running.get(task.id)
        if running is not None:
            running.control.cancel()
        else:
            self.bus.send({"t": "cancel", "task": task.id})
        task = await Task.get(id=task.id)
        if cancelled:
            await self._status_changed(task)
        return task

    async def clear_tasks(
        self,
        owner: str,
        *,
        server_id: int | None = None,
        app_ids: Iterable[int] = (),
        cancel: bool,
    ) -> None:
        """Before `owner` is deleted: refuse while tasks of `server_id` or `app_ids` are
        queued or running, or (`cancel`) cancel them and return once they have ended.
        Their history stays: a task outlives its server and app (the keys become null).
        """
        app_ids = set(app_ids)
        active = [
            task
            for task in await Task.filter(status__in=ACTIVE_STATUSES)
            if (server_id is not None and server_id in targets(task)) or task.app_id in app_ids
        ]
        task_ids = [task.id for task in active]
        if not active:
            return
        if not cancel:
            raise Conflict(
                f"{owner} has unfinished tasks {task_ids}; wait for them to end "
                "or pass cancel_tasks=true to cancel them.",
                details={"tasks": task_ids},
            )
        for task in active:
            with suppress(Conflict):  # it finished in the meantime
                await self.cancel(task)
        try:
            async with asyncio.timeout(CANCEL_WAIT):
                for task_id in task_ids:
                    await self.wait(task_id)
        except TimeoutError:
            raise Conflict(
                f"The cancelled tasks of {owner.lower()} did not end within "
                f"{CANCEL_WAIT:.0f} s; try again.",
                details={"tasks": task_ids},
            ) from None

    async def retry(
        self, task: Task, *, failed_hosts_only: bool, created_by: Actor | None = None
    ) -> Task:
        if task.status not in FINISHED_STATUSES or task.status == TaskStatus.SUCCESSFUL:
            raise Conflict(
                f"Only a finished, unsuccessful task can be retried (it is {task.status.value})."
            )
        limit = None
        if failed_hosts_only:
            result = task.result or {}
            limit = sorted({*result.get("failed_hosts", []), *result.get("unreachable_hosts", [])})
            if not limit:
                raise Conflict(f"Task {task.id} has no failed hosts to retry.")
        server = await Server.get_or_none(id=task.server_id) if task.server_id else None
        if server is None:
            raise Conflict(f"The server of task {task.id} has been deleted.")
        return await self.submit(
            task.kind,
            server,
            task.params,
            limit_hosts=limit,
            retry_of=task,
            server_ids=task.server_ids,
            app_id=task.app_id,
            deployment_id=task.deployment_id,
            created_by=created_by,
        )

    async def wait(self, task_id: int) -> None:
        """Return once the task has finished (callers bound the wait with asyncio.timeout).
        Woken by its end here or on another instance; looks again each IDLE_POLL anyway."""
        while True:
            finished = self._finished.setdefault(task_id, asyncio.Event())  # before the read
            task = await Task.get(id=task_id)
            if task.status in FINISHED_STATUSES:
                return
            with suppress(TimeoutError):
                async with asyncio.timeout(IDLE_POLL):
                    await finished.wait()

    async def _save_status(self, task: Task) -> None:
        """Store a status after the kind has followed it: whoever sees the task finished
        also sees its deployment finished."""
        await self._follow(task)
        await task.save()
        self._announce(task)
        if task.status in (TaskStatus.CANCELLED, TaskStatus.INTERRUPTED):
            await self._queue_after_cut(task)

    async def _queue_after_cut(self, task: Task) -> None:
        """A run cut off on the hosts: queue the task its kind asks for (KindSpec.after_cut)."""
        after_cut = KINDS[task.kind].after_cut
        follow_up = await after_cut(task) if after_cut is not None else None
        server = await Server.get_or_none(id=task.server_id) if follow_up else None
        if follow_up is not None and server is not None:
            kind, params = follow_up
            await self.submit(kind, server, params, server_ids=task.server_ids, app_id=task.app_id)

    async def _status_changed(self, task: Task) -> None:
        """A status already stored: let the kind follow it, then announce it."""
        await self._follow(task)
        self._announce(task)

    async def _follow(self, task: Task) -> None:
        follow = KINDS[task.kind].status_changed
        if follow is not None:
            await follow(task)

    def _announce(self, task: Task) -> None:
        """Publish a status change and wake whoever waits for the task to finish."""
        self.publisher.task_status(task)
        if task.status in FINISHED_STATUSES and task.id in self._finished:
            self._finished.pop(task.id).set()

    async def queue_depth(self) -> int:
        return await Task.filter(status=TaskStatus.QUEUED).count()

    # Workers ------------------------------------------------------------------------------

    async def _worker(self) -> None:
        """Claim and run tasks for ever; an error fails the task at hand, never the worker."""
        while True:
            # Cleared before the claim looks at the queue: a wake-up that comes while it
            # looks is kept for the next round, not lost for an IDLE_POLL.
            self._wakeup.clear()
            try:
                running = await self._claim()
            except Exception:
                log.exception("could not claim a task")
                running = None
            if running is None:
                with suppress(TimeoutError):  # not wait_for: on 3.11 it can swallow a cancel
                    async with asyncio.timeout(IDLE_POLL):
                        await self._wakeup.wait()
                continue
            try:
                await self._execute(running)
            except Exception as exc:
                log.exception("task %s failed in the engine", running.task.id)
                await self._fail(running.task.id, f"The engine failed during this task: {exc}")
            finally:
                self._release(running.task)

    def _release(self, task: Task) -> None:
        """The task's servers are free: wake the workers of every instance."""
        self.running.pop(task.id, None)
        self.wake()

    async def _fail(self, task_id: int, reason: str) -> None:
        """Last resort after an engine error: a task still `running` is marked failed."""
        try:
            await Task.filter(id=task_id, status=TaskStatus.RUNNING).update(
                status=TaskStatus.FAILED, error=reason, finished_at=datetime.now(UTC), pid=None
            )
            task = await Task.get_or_none(id=task_id)
            if task is not None:
                await self._status_changed(task)
        except Exception:
            log.exception("could not mark task %s failed", task_id)
        finally:
            if task_id in self._finished:
                self._finished.pop(task_id).set()

    async def _claim(self) -> Running | None:
        """The oldest due task whose servers are free, switched to running by this instance
        under the claim lock that spans instances (see Registry.claim_lock)."""
        async with self.registry.claim_lock():
            task = await next_claimable(datetime.now(UTC))
            if task is None:
                return None
            now = datetime.now(UTC)  # after the read that found its servers free
            claimed = await Task.filter(id=task.id, status=TaskStatus.QUEUED).update(
                status=TaskStatus.RUNNING,
                instance=self.registry.name,
                attempts=task.attempts + 1,
                started_at=task.started_at or now,
                not_before=None,
            )
        if not claimed:  # cancelled meanwhile (a cancel takes no lock)
            return None
        try:
            return await self._start_claimed(task.id)
        except Exception as exc:
            self.running.pop(task.id, None)
            await self._fail(task.id, f"The engine failed while starting this task: {exc}")
            raise

    async def _start_claimed(self, task_id: int) -> Running:
        task = await Task.get(id=task_id)
        running = Running(task, RunControl(), EventLog(task.id, task.last_seq + 1), Progress())
        self.running[task.id] = running
        # Registered before this read: a cancel after it finds the run in `self.running`,
        # or (asked through another instance) reaches it by a note.
        if await Task.filter(id=task.id, cancel_requested=True).exists():
            running.control.cancel()
        return running

    async def _execute(self, running: Running) -> None:
        task = running.task
        spec = KINDS[task.kind]
        await self._status_changed(task)
        servers: list[Server] = []
        try:
            servers = await load_servers(task)
            public_key = ensure_service_key(self.settings)
            host_vars = (
                spec.host_vars(task, servers, self.settings, public_key) if spec.host_vars else None
            )
            playbook = PlaybookSpec(
                playbook=spec.playbook_for(task),
                inventory=render_inventory(servers, self.settings, host_vars=host_vars),
                extravars=spec.prepare(task, servers, self.settings, public_key),
                limit=",".join(task.limit_hosts) if task.limit_hosts else None,
                forks=min(len(servers), self.settings.forks),
                timeout=self.settings.run_timeout,
                envvars=self._envvars(),
                secret_files=await spec.secret_files(task, self.secrets)
                if spec.secret_files
                else {},
            )
            run_dir = self.runs_dir / f"task-{task.id}-attempt-{task.attempts}"
            result = await run_playbook(
                playbook, run_dir, lambda raw: self._on_event(running, raw), running.control
            )
        except asyncio.CancelledError:
            await asyncio.shield(self._finish_interrupted(running))
            raise
        except Exception as exc:
            log.exception("task %s could not run", task.id)
            result = RunResult(status="failed", rc=None)
            running.last_error = f"The run could not start: {exc}"
        await self._finish(running, servers, result)

    def _envvars(self) -> dict[str, str]:
        return {"ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir(self.settings))}

    def _on_event(self, running: Running, raw: dict[str, Any]) -> None:
        """Called on the loop for each runner event: number, publish, track progress."""
        event = trim_event(raw)
        if running.control.pid and running.task.pid != running.control.pid:
            running.task.pid = running.control.pid
        seq = running.events.append(event)
        self.publisher.task_event(running.task, seq, event)
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            message = (event.get("result") or {}).get("msg") or event.get("stdout") or "failed"
            running.last_error = f"{event.get('host')}: {event.get('task')}: {message}"
            running.host_errors[str(event.get("host"))] = running.last_error
        if running.progress.update(event):
            self.publisher.task_progress(running.task, running.progress.as_dict())

    async def _flush(self, running: Running) -> None:
        async with running.flushing:
            await self._store_events(running)
            task = running.task
            updates: dict[str, Any] = {
                "last_seq": running.events.next_seq - 1,
                "progress": running.progress.as_dict(),
            }
            if task.pid != running.saved_pid:
                updates["pid"] = running.saved_pid = task.pid
            await Task.filter(id=task.id).update(**updates)

    async def _store_events(self, running: Running) -> None:
        stored = await running.events.flush()
        if stored is not None:
            self.publisher.events_stored(running.task, *stored)

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            for running in list(self.running.values()):
                try:
                    await self._flush(running)
                except Exception:
                    log.exception("could not store events of task %s", running.task.id)
            try:
                await self._cancel_requested_runs()
            except Exception:
                log.exception("could not look for cancel requests")

    async def _cancel_requested_runs(self) -> None:
        """Cancel runs asked to stop through another instance whose note did not arrive
        (the notes are the fast path; this is the fallback, one query per flush)."""
        waiting = [
            task_id
            for task_id, run in self.running.items()
            if not run.control.cancel_requested.is_set()
        ]
        if waiting:
            for task_id in await Task.filter(id__in=waiting, cancel_requested=True).values_list(
                "id", flat=True
            ):
                self.cancel_here(task_id)

    async def _finish(self, running: Running, servers: list[Server], result: RunResult) -> None:
        task = running.task
        await self._flush(running)
        summary: dict[str, Any] = {
            "runner_status": result.status,
            "rc": result.rc,
            "stats": result.stats,
            "failed_hosts": result.hosts_with("failures"),
            "unreachable_hosts": result.hosts_with("dark"),
            "hosts": host_outcomes(servers, task.limit_hosts, result, running.host_errors),
        }
        status = RUNNER_STATUSES.get(result.status, TaskStatus.FAILED)
        if running.control.cancel_requested.is_set():
            status = TaskStatus.CANCELLED
            task.cancel_requested = True
        error = None if status == TaskStatus.SUCCESSFUL else running.last_error
        if status == TaskStatus.CANCELLED:
            error = "Cancelled on request."
        elif status == TaskStatus.TIMEOUT:
            error = f"The run exceeded {self.settings.run_timeout} s."
        retry = (
            status == TaskStatus.FAILED
            and summary["unreachable_hosts"]
            and not summary["failed_hosts"]
            and task.attempts < task.max_attempts
        )
        task.error = error
        finish = KINDS[task.kind].finish
        if servers and finish is not None and not retry:
            await finish(task, servers, result, summary)
            for server in servers:
                self.publisher.server_status(server)
        task.result = summary
        task.pid = None
        task.progress = running.progress.as_dict()
        task.last_seq = running.events.next_seq - 1
        if retry:
            delay = self.settings.retry_backoff * 2 ** (task.attempts - 1)
            task.status = TaskStatus.QUEUED
            task.not_before = datetime.now(UTC) + timedelta(seconds=delay)
        else:
            task.status = status
            task.finished_at = datetime.now(UTC)
        await self._save_status(task)
        if not retry:
            self._publish_notices(task)

    def _publish_notices(self, task: Task) -> None:
        """The kind's named notices about a finished task (e.g. `audit.drift`)."""
        notices = KINDS[task.kind].notices
        for event, payload in notices(task) if notices is not None else []:
            self.publisher.notice(event, payload, server_id=task.server_id, app_id=task.app_id)

    async def _finish_interrupted(self, running: Running) -> None:
        task = running.task
        with suppress(Exception):
            await self._store_events(running)
        task.last_seq = running.events.next_seq - 1
        await self._interrupt(task, "The service shut down during the run")


def host_outcomes(
    servers: list[Server],
    limit: list[str] | None,
    result: RunResult,
    errors: dict[str, str],
) -> dict[str, dict[str, Any]]:
    """Each host's outcome, by inventory name: `ok`, `failed`, `unreachable`, or
    `unfinished` (the run ended without a recap for it: cancelled, timed out, cut off)."""
    outcomes = {}
    for server in servers:
        if limit and server.name not in limit:
            continue
        if server.name in result.stats.get("dark", {}):
            outcome = "unreachable"
        elif server.name in result.stats.get("failures", {}):
            outcome = "failed"
        elif any(server.name in result.stats.get(name, {}) for name in ("ok", "skipped")):
            outcome = "ok"
        else:
            outcome = "unfinished"
        entry: dict[str, Any] = {"server_id": server.id, "outcome": outcome}
        if outcome in ("failed", "unreachable"):
            entry["error"] = errors.get(server.name)
        outcomes[server.name] = entry
    return outcomes


def targets(task: Task) -> set[int]:
    """The servers a task occupies while it runs."""
    return set(task.servers_covered)


async def next_claimable(now: datetime) -> Task | None:
    """The oldest due queued task none of whose servers any instance runs a task on.

    Per-server FIFO: a task that must wait (its server busy, or a retry backing off)
    holds back the later tasks of its servers, so none of them overtakes it.
    """
    busy: set[int] = set()
    for task in await Task.filter(status=TaskStatus.RUNNING).only(
        "id", "kind", "params", "server_id", "server_ids"
    ):
        if not concurrent(task):
            busy.update(targets(task))
    held: set[int] = set()
    for task in await Task.filter(status=TaskStatus.QUEUED).order_by("id").limit(100):
        wanted = targets(task)
        due = task.not_before is None or task.not_before <= now
        if concurrent(task):
            if due:
                return task
            continue
        if due and busy.isdisjoint(wanted) and held.isdisjoint(wanted):
            return task
        held.update(wanted)
    return None


def concurrent(task: Task) -> bool:
    """A task that only reads (a service status or logs read): it runs beside the other
    tasks of its servers, never waits for them and never holds them up."""
    check = KINDS[task.kind].concurrent
    return check is not None and check(task)


def runs_dir(settings: Settings, instance: str) -> Path:
    """Where the runs of `instance` keep their private data dirs."""
    return settings.artifacts_dir / "runs" / re.sub(r"[^A-Za-z0-9._-]", "-", instance)


async def load_servers(task: Task) -> list[Server]:
    """The task's servers, its primary server first."""
    if task.server_id is None:
        raise LookupError("its server has been deleted")
    ids = [task.server_id, *(i for i in task.server_ids or [] if i != task.server_id)]
    found = {server.id: server for server in await Server.filter(id__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise LookupError(f"server(s) {missing} no longer exist")
    return [found[i] for i in ids]

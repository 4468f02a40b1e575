"""Where the engine and the background components report what happens.

The engine and the scheduler speak to one `Publisher`; `FanOut` hands each report to every
listener (the WebSocket hub, outgoing webhooks), so no source knows who is listening.
"""

import logging
from typing import Any, Protocol

from service.models import Server, Task

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def task_status(self, task: Task) -> None: ...
    def task_event(self, task: Task, seq: int, event: dict[str, Any]) -> None: ...
    def events_stored(self, task: Task, first: int, last: int) -> None: ...
    def task_progress(self, task: Task, progress: dict[str, Any]) -> None: ...
    def server_status(self, server: Server) -> None: ...
    def notice(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        server_id: int | None = None,
        app_id: int | None = None,
    ) -> None:
        """A named domain event (e.g. `audit.drift`) about a server and/or an app."""


class Listener:
    """A publisher that hears nothing: a listener overrides the reports it cares about."""

    def task_status(self, task: Task) -> None:
        """Queued, started, retried, finished."""

    def task_event(self, task: Task, seq: int, event: dict[str, Any]) -> None:
        """One runner event."""

    def events_stored(self, task: Task, first: int, last: int) -> None:
        """The task's events `first`..`last` are committed to the database."""

    def task_progress(self, task: Task, progress: dict[str, Any]) -> None:
        """Progress of a running task."""

    def server_status(self, server: Server) -> None:
        """What is known of a server changed."""

    def notice(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        server_id: int | None = None,
        app_id: int | None = None,
    ) -> None:
        """A named domain event about a server and/or an app."""


class FanOut:
    """A publisher that forwards every report to each of its listeners, in order. A listener
    that fails is logged and skipped, so the others (the hub, say) still hear the report."""

    def __init__(self, *listeners: Publisher) -> None:
        self.listeners: list[Publisher] = list(listeners)

    def add(self, listener: Publisher) -> None:
        self.listeners.append(listener)

    def _each(self, report: str, *args: Any, **kwargs: Any) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, report)(*args, **kwargs)
            except Exception:
                log.exception("%s could not take a %s report", type(listener).__name__, report)

    def task_status(self, task: Task) -> None:
        self._each("task_status", task)

    def task_event(self, task: Task, seq: int, event: dict[str, Any]) -> None:
        self._each("task_event", task, seq, event)

    def events_stored(self, task: Task, first: int, last: int) -> None:
        self._each("events_stored", task, first, last)

    def task_progress(self, task: Task, progress: dict[str, Any]) -> None:
        self._each("task_progress", task, progress)

    def server_status(self, server: Server) -> None:
        self._each("server_status", server)

    def notice(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        server_id: int | None = None,
        app_id: int | None = None,
    ) -> None:
        self._each("notice", event, payload, server_id=server_id, app_id=app_id)

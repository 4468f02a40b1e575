"""Audit schedules and the audit history, with drift: what got worse since the last audit."""

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Max
from tortoise.queryset import QuerySet

from service.domain.records import get_or_404
from service.errors import NotFound
from service.models import AuditReport, AuditSchedule, Server, Task, TaskKind, TaskStatus

FINDING_FIELDS = ("id", "title", "severity", "passed")


async def set_schedule(server_id: int, cron: str, now: datetime) -> AuditSchedule:
    """Create or replace a server's schedule; only occurrences after `now` will fire."""
    server = await get_or_404(Server, server_id)
    schedule = await AuditSchedule.get_or_none(server_id=server.id)
    if schedule is None:
        try:
            return await AuditSchedule.create(server=server, cron=cron, done_through=now)
        except IntegrityError:  # a concurrent PUT created it first: this one replaces it
            schedule = await AuditSchedule.get(server_id=server.id)
    schedule.cron, schedule.done_through = cron, now
    await schedule.save(update_fields=["cron", "done_through", "updated"])
    return schedule


async def get_schedule(server_id: int) -> AuditSchedule:
    await get_or_404(Server, server_id)
    schedule = await AuditSchedule.get_or_none(server_id=server_id)
    if schedule is None:
        raise NotFound(f"Server {server_id} has no audit schedule.")
    return schedule


async def delete_schedule(server_id: int) -> None:
    await (await get_schedule(server_id)).delete()


async def record_report(
    task: Task, server: Server, report: dict[str, Any], finished_at: datetime
) -> AuditReport:
    """Keep a finished audit in the history, with its drift from the server's previous one."""
    findings = [{key: finding.get(key) for key in FINDING_FIELDS} for finding in report["findings"]]
    score = float(report["score"])
    previous = await AuditReport.filter(server_id=server.id).order_by("-id").first()
    record = await AuditReport.create(
        server=server,
        task=task,
        finished_at=finished_at,
        score=score,
        passed=sum(1 for finding in findings if finding["passed"]),
        failed=sum(1 for finding in findings if not finding["passed"]),
        findings=findings,
    )
    if previous is not None:
        record.drift = drift(previous, record)
        if record.drift is not None:
            await record.save(update_fields=["drift"])
    return record


async def latest_report(server_id: int) -> tuple[Task, dict[str, Any]] | None:
    """The server's newest full audit report and the task that made it: its host's part of
    that task's result (one task may audit several servers). A task stored before the audit
    history existed is found by its kind, and holds one server's report at the top."""
    reports = AuditReport.filter(server_id=server_id, task_id__not_isnull=True)
    record = await reports.order_by("-id").first()
    task = await Task.get_or_none(id=record.task_id) if record is not None else None
    if task is None:
        task = await _successful_audits().filter(server_id=server_id).order_by("-id").first()
    report = _report_in(task.result or {}, server_id) if task is not None else None
    return (task, report) if task is not None and report else None


async def latest_report_tasks() -> set[int]:
    """The tasks `latest_report` reads, for every server (retention keeps them)."""
    newest = (
        AuditReport.filter(task_id__not_isnull=True)
        .annotate(latest=Max("id"))
        .group_by("server_id")
        .values_list("latest", flat=True)
    )
    from_history = AuditReport.filter(id__in=await newest).values_list("task_id", flat=True)
    from_before = (
        _successful_audits()
        .annotate(latest=Max("id"))
        .group_by("server_id")
        .values_list("latest", flat=True)
    )
    return {*await from_history, *await from_before}


def _successful_audits() -> QuerySet[Task]:
    return Task.filter(kind=TaskKind.AUDIT, status=TaskStatus.SUCCESSFUL)


def _report_in(result: dict[str, Any], server_id: int) -> dict[str, Any] | None:
    if "hosts" not in result:
        return result.get("report")
    for entry in result["hosts"].values():
        if entry.get("server_id") == server_id:
            return entry.get("report")
    return None


def drift(previous: AuditReport, current: AuditReport) -> dict[str, Any] | None:
    """The findings whose outcome changed, when one that passed fails now or the score
    dropped; None when nothing got worse."""
    before = {finding["id"]: finding["passed"] for finding in previous.findings}
    changed = [
        {**finding, "previously_passed": before[finding["id"]]}
        for finding in current.findings
        if finding["id"] in before and before[finding["id"]] != finding["passed"]
    ]
    regressed = any(finding["previously_passed"] for finding in changed)
    if not regressed and current.score >= previous.score:
        return None
    return {
        "report_id": current.id,
        "previous_report_id": previous.id,
        "score": current.score,
        "previous_score": previous.score,
        "findings": changed,
    }

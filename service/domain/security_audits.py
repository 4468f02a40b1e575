"""Audit schedules and the audit history, with drift: what got worse since the last audit."""

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from service.domain.records import get_or_404
from service.errors import NotFound
from service.models import AuditReport, AuditSchedule, Server, Task

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

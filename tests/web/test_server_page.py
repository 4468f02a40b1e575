"""A server's page over HTTP: findings, score history, services, who sees which buttons, scope,
and text from the host or the database shown as text."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from service.domain import tokens
from service.models import (
    App,
    AuditReport,
    Deployment,
    Role,
    Server,
    Task,
    TaskKind,
    TaskStatus,
    Version,
)
from tests.web.test_pages import MARKUP, page
from tests.web.test_sessions import log_in

FULL_FINDINGS = [
    {"id": "ssh_permit_root_login", "title": "Root cannot log in over SSH", "control": "SSH-7408",
     "severity": "critical", "expected": "no", "actual": "yes", "passed": False},
    {"id": "ssh_log_level", "title": "SSH logs at VERBOSE level", "control": "SSH-7408",
     "severity": "low", "expected": "VERBOSE", "actual": "VERBOSE", "passed": True},
    {"id": "firewall_active", "title": "Host firewall (ufw) is active", "control": "FIRE-4590",
     "severity": "high", "expected": "active", "actual": "inactive", "passed": False},
]  # fmt: skip
SUMMARY_FIELDS = ("id", "title", "severity", "passed")


@pytest.fixture
async def logged_in(client):
    await log_in(client, (await tokens.issue_token("alice")).secret)
    return client


async def audited(server, findings, score, *, at, keep_task=True):
    """An audit report as the audit task leaves it: the full findings in the task's result,
    their summary in the history."""
    task = await Task.create(
        kind=TaskKind.AUDIT, server=server, server_ids=[server.id], status=TaskStatus.SUCCESSFUL,
        result={"report": {"score": score, "findings": findings}},
    )  # fmt: skip
    summary = [{key: finding[key] for key in SUMMARY_FIELDS} for finding in findings]
    return await AuditReport.create(
        server=server, task=task if keep_task else None, finished_at=at, score=score,
        passed=sum(f["passed"] for f in findings), failed=sum(not f["passed"] for f in findings),
        findings=summary,
    )  # fmt: skip


async def deployed(server, name, slot):
    """An app on the server whose last deployment says nginx serves `slot` there."""
    app = await App.create(name=name, server=server, remote_path=f"/srv/{name}", service_name=name)
    version = await Version.create(app=app, version_number="1.0.0")
    served = {server.name: {"served": {"slot": slot}}}
    await Deployment.create(app=app, version=version, host_results=served)
    return app


def rows(text, table_id):
    table = text[text.index(f'id="{table_id}"') :].split("</table>")[0]
    return re.findall(r"<tr data-status=\"(pass|fail)\"[^>]*>(.*?)</tr>", table, re.S)


async def test_the_findings_of_the_latest_audit_failed_first_with_expected_and_actual(logged_in):
    server = await Server.create(name="web-1", host="10.0.0.5")
    start = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
    await audited(server, [{**f, "passed": True} for f in FULL_FINDINGS], 100, at=start)
    await audited(server, FULL_FINDINGS, 40, at=start + timedelta(days=1))

    status, text, _ = await page(logged_in, f"/servers/{server.id}")

    assert status == 200
    found = rows(text, "findings")
    assert [state for state, _ in found] == ["fail", "fail", "pass"]  # the latest report
    first, second, last = (cells for _, cells in found)
    assert "critical" in first and "SSH-7408" in first  # failed, most severe first
    assert "<td>no</td>" in first and "<td>yes</td>" in first  # expected, actual
    assert "firewall_active" in second and "inactive" in second
    assert "ssh_log_level" in last
    assert 'Score <strong data-field="score">40</strong>' in text


async def test_a_regression_since_the_audit_before_is_named(logged_in):
    server = await Server.create(name="web-1", host="10.0.0.5")
    report = await audited(server, FULL_FINDINGS, 40, at=datetime.now(UTC))
    report.drift = {
        "report_id": report.id, "previous_report_id": 1, "score": 40, "previous_score": 100,
        "findings": [{**FULL_FINDINGS[2], "previously_passed": True},
                     {**FULL_FINDINGS[1], "previously_passed": False}],
    }  # fmt: skip
    await report.save()

    _, text, _ = await page(logged_in, f"/servers/{server.id}")

    drift = text[text.index('id="audit-drift"') :].split("</p>")[0]
    assert "score 100 → 40" in drift and "Host firewall (ufw) is active" in drift
    assert "VERBOSE" not in drift  # it got better: not a regression


async def test_the_score_history_is_an_svg_chart_drawn_on_the_server(logged_in):
    server = await Server.create(name="web-1", host="10.0.0.5")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for day, score in enumerate((55.0, 70.0, 92.5)):
        await audited(server, FULL_FINDINGS, score, at=start + timedelta(days=day))

    _, text, _ = await page(logged_in, f"/servers/{server.id}")

    chart = text[text.index('<figure class="chart" id="score-history"') :].split("</figure>")[0]
    assert '<svg role="img"' in chart and "<title" in chart and "Audit score history" in chart
    assert chart.count("<circle") == 3
    table = chart[chart.index("<table") :]
    for label, score in (("2026-11-01 00:00", "55"), ("2026-11-03 00:00", "92.5")):
        assert label in table and score in table  # the numbers are also there as text


async def test_a_purged_audit_task_leaves_the_findings_without_their_details(logged_in):
    server = await Server.create(name="web-1", host="10.0.0.5")
    await audited(server, FULL_FINDINGS, 40, at=datetime.now(UTC), keep_task=False)

    _, text, _ = await page(logged_in, f"/servers/{server.id}")

    found = rows(text, "findings")
    assert len(found) == 3
    assert all("<td>—</td>" in cells for _, cells in found)


async def test_a_server_never_audited_says_so(logged_in):
    server = await Server.create(name="web-1", host="10.0.0.5")
    _, text, _ = await page(logged_in, f"/servers/{server.id}")
    assert "has not been audited yet" in text
    assert 'id="findings"' not in text and "<svg" not in text


async def test_services_are_the_live_units_of_the_servers_apps_and_none_is_read_on_render(
    logged_in,
):
    server = await Server.create(name="web-1", host="10.0.0.5")
    await deployed(server, "shop", "green")
    await App.create(name="blog", server=server, remote_path="/srv/blog", service_name="blog")

    _, text, _ = await page(logged_in, f"/servers/{server.id}")

    services = text[text.index('id="services"') :].split("</table>")[0]
    assert '<tr data-unit="shop-green.service">' in services
    assert 'data-unit-action="restart"' in services
    assert "not deployed yet" in services  # blog has no live slot: nothing to act on
    assert '<option value="shop-green.service">' in text  # the journal offers it
    assert not await Task.filter(kind=TaskKind.SERVICE).exists()  # status is asked per click


async def test_the_running_task_and_the_actions_are_shown_to_a_deployer(logged_in):
    server = await Server.create(name="web-1", host="10.0.0.5", last_connection_ok=True)
    task = await Task.create(
        kind=TaskKind.SETUP, server=server, server_ids=[server.id], status=TaskStatus.RUNNING
    )
    _, text, _ = await page(logged_in, f"/servers/{server.id}")
    assert f'data-task-id="{task.id}"' in text
    for action in ("test", "setup", "lockdown", "audit"):
        assert f'data-action="{action}"' in text
    assert 'data-confirm="Lock down web-1?' in text
    assert f'data-url="/api/v1/servers/{server.id}/security/lockdown"' in text


async def test_a_viewer_sees_no_control_buttons(client):
    server = await Server.create(name="web-1", host="10.0.0.5")
    await deployed(server, "shop", "blue")
    await log_in(client, (await tokens.issue_token("watcher", Role.VIEWER)).secret)

    _, text, _ = await page(client, f"/servers/{server.id}")

    assert "data-action=" not in text
    for action in ("start", "stop", "restart"):
        assert f'data-unit-action="{action}"' not in text
    assert 'data-unit-action="status"' in text and 'data-unit-action="logs"' in text


async def test_a_server_outside_a_scoped_session_is_a_404(client):
    mine = await Server.create(name="mine", host="10.0.0.5")
    other = await Server.create(name="other", host="10.0.0.6")
    await log_in(client, (await tokens.issue_token("team", servers=[mine.id])).secret)

    assert (await page(client, f"/servers/{mine.id}"))[0] == 200
    status, text, headers = await page(client, f"/servers/{other.id}")
    assert status == 404 and "other" not in text
    assert headers["Content-Type"].startswith("text/html")
    assert (await page(client, "/servers/999"))[0] == 404


async def test_hostile_text_in_facts_findings_and_names_is_shown_as_text(logged_in):
    server = await Server.create(
        name=MARKUP, host=MARKUP, last_connection_ok=False, last_connection_error=MARKUP,
        last_connection_at=datetime.now(UTC), facts={MARKUP: MARKUP, "nested": {"x": MARKUP}},
    )  # fmt: skip
    hostile = [{**FULL_FINDINGS[0], "id": MARKUP, "title": MARKUP, "actual": MARKUP,
                "control": MARKUP, "severity": MARKUP}]  # fmt: skip
    await audited(server, hostile, 10, at=datetime.now(UTC))
    await App.create(name=MARKUP, server=server, remote_path="/srv/x", service_name=MARKUP)

    status, text, _ = await page(logged_in, f"/servers/{server.id}")

    assert status == 200
    assert "<script>alert" not in text and "<img src=x" not in text
    assert text.count("&lt;script&gt;") >= 8
    data = text[text.index('id="server-data">') :].split("</script>")[0]
    assert "\\u003cscript\\u003e" in data

"""Dashboard pages rendered over HTTP: what they show, to whom, and hostile text as text."""

import pytest

from service.domain import tokens
from service.models import AuditReport, Server, Task, TaskKind, TaskStatus
from tests.web.test_sessions import log_in

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
async def logged_in(client):
    await log_in(client, (await tokens.issue_token("alice")).secret)
    return client


async def page(client, path):
    response = await client.get(path, allow_redirects=False)
    return response.status, await response.text(), response.headers


async def test_pages_carry_headers_that_forbid_scripts_from_elsewhere(logged_in):
    status, _, headers = await page(logged_in, "/")
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"


async def test_hostile_text_from_the_database_is_shown_as_text(logged_in):
    # Names the API refuses can still come from an older database or a hand edit.
    server = await Server.create(
        name=MARKUP, host=MARKUP, last_connection_ok=False, last_connection_error=MARKUP
    )
    task = await Task.create(
        kind=TaskKind.CONNECTION_TEST, server=server, server_ids=[server.id],
        status=TaskStatus.RUNNING, actor=MARKUP, error=MARKUP,
        progress={"current_task": MARKUP, "hosts": {}},
    )  # fmt: skip
    for path in ("/", "/servers", f"/tasks/{task.id}"):
        status, text, _ = await page(logged_in, path)
        assert status == 200, path
        assert "<script>alert" not in text, path
        assert "<img src=x" not in text, path
        assert "&lt;script&gt;" in text or "\\u003cscript\\u003e" in text, path


async def test_the_servers_page_shows_badges_scores_and_the_running_task(logged_in):
    ok = await Server.create(
        name="web-1", host="10.0.0.5", last_connection_ok=True, setup_complete=True
    )
    await Server.create(name="db-1", host="10.0.0.6", last_connection_ok=False)
    await AuditReport.create(server=ok, finished_at=ok.created, score=61, passed=40, failed=9)
    await AuditReport.create(server=ok, finished_at=ok.created, score=88, passed=47, failed=2)
    task = await Task.create(
        kind=TaskKind.SETUP, server=ok, server_ids=[ok.id], status=TaskStatus.RUNNING
    )
    _, text, _ = await page(logged_in, "/servers")
    row = text[text.index('data-server-id="1"') :].split("</tr>")[0]
    assert "reachable" in row and "set up" in row
    assert ">88" in row and "2 failed" in row  # the latest audit, not the first
    assert f'data-task-id="{task.id}"' in row
    assert 'data-action="lockdown"' in row
    _, found, _ = await page(logged_in, "/servers?q=db")
    assert "db-1" in found and "web-1" not in found


async def test_the_overview_lists_what_needs_attention(logged_in):
    await Server.create(name="down-1", host="10.0.0.7", last_connection_ok=False)
    audited = await Server.create(name="weak-1", host="10.0.0.8", last_connection_ok=True)
    await AuditReport.create(
        server=audited, finished_at=audited.created, score=50, passed=10, failed=3
    )
    await Server.create(name="fine-1", host="10.0.0.9", last_connection_ok=True)
    _, text, _ = await page(logged_in, "/")
    attention = text[text.index('id="attention-list"') :]
    assert "down-1" in attention and "weak-1" in attention and "3 audit checks failed" in attention
    assert "fine-1" not in attention


async def test_a_scoped_session_does_not_see_other_records(client):
    mine = await Server.create(name="mine", host="10.0.0.5")
    other = await Server.create(name="other", host="10.0.0.6")
    task = await Task.create(kind=TaskKind.SETUP, server=other, server_ids=[other.id])
    scoped = await tokens.issue_token("team", servers=[mine.id])
    await log_in(client, scoped.secret)
    _, text, _ = await page(client, "/servers")
    assert "mine" in text and "other" not in text
    status, _, _ = await page(client, f"/tasks/{task.id}")
    assert status == 404


async def test_an_unknown_record_is_an_html_404(logged_in):
    status, text, headers = await page(logged_in, "/tasks/999")
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert 'role="alert"' in text


PAGES = ("/", "/servers", "/apps", "/versions", "/deployments")
HOSTILE_QUERIES = (
    "page=-1", "page=0", "page=99999999999999999999", "page=abc", "q=%00%ff", "q=" + "x" * 5000,
    "app_id=abc", "app_id=-3", "since=yesterday", "until=2026-13-45", "status=nope",
    "kind=%3Cscript%3E", "per_page=0", "per_page=100000", "sort=evil", "next=//evil.example",
)  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
async def test_no_query_makes_a_page_fail(logged_in, path):
    for hostile in HOSTILE_QUERIES:
        status, text, headers = await page(logged_in, f"{path}?{hostile}")
        assert status in (200, 422), (path, hostile, status)
        assert headers["Content-Type"].startswith("text/html"), (path, hostile)
        assert "<script>" not in text, (path, hostile)  # echoed, but escaped

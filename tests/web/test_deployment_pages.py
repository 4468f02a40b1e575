"""The deployments page over HTTP: the API's filters and order, the figures per day, scope."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, time, timedelta

import pytest

from service.domain import tokens
from service.models import (
    App,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    Role,
    Server,
    Task,
    TaskKind,
    TaskStatus,
    Version,
)
from tests.conftest import Api
from tests.web.test_pages import MARKUP, page
from tests.web.test_sessions import log_in

TODAY = datetime.now(UTC).date()
DAY = timedelta(days=1)


def at(day, hour=12):
    return datetime.combine(day, time(hour), UTC)


async def deployment(
    app, version, status, day, *, seconds=None, kind=DeploymentKind.DEPLOY, **more
):
    """A deployment created on `day` that ran for `seconds` (when it ran)."""
    started = at(day) if seconds is not None else None
    record = await Deployment.create(
        app=app, version=version, status=status, kind=kind,
        started_at=started, completed_at=started + timedelta(seconds=seconds) if started else None,
        **more,
    )  # fmt: skip
    await Deployment.filter(id=record.id).update(created=at(day))
    return record


@pytest.fixture
async def history():
    """Two apps; shop deployed over three days (two days ago, none yesterday, today)."""
    server = await Server.create(name="web-1", host="10.0.0.5")
    shop = await App.create(name="shop", server=server, remote_path="/srv/shop", service_name="s")
    blog = await App.create(name="blog", server=server, remote_path="/srv/blog", service_name="b")
    v1 = await Version.create(app=shop, version_number="1.0.0")
    v2 = await Version.create(app=shop, version_number="1.1.0")
    b1 = await Version.create(app=blog, version_number="0.9")
    first, today = TODAY - 2 * DAY, TODAY
    made = [
        await deployment(shop, v1, DeploymentStatus.COMPLETED, first, seconds=10, actor="alice"),
        await deployment(shop, v2, DeploymentStatus.COMPLETED, first, seconds=30, actor="bob"),
        await deployment(shop, v2, DeploymentStatus.FAILED, first, seconds=5, error="health check"),
        await deployment(
            shop, v1, DeploymentStatus.COMPLETED, today, seconds=20, kind=DeploymentKind.ROLLBACK
        ),
        await deployment(blog, b1, DeploymentStatus.RUNNING, today, actor="deploy-hook"),
    ]
    task = await Task.create(
        kind=TaskKind.DEPLOY, server=server, server_ids=[server.id], app=blog,
        deployment_id=made[-1].id, status=TaskStatus.RUNNING,
    )  # fmt: skip
    return {"shop": shop, "blog": blog, "deployments": made, "task": task}


@pytest.fixture
async def admin(client):
    secret = (await tokens.issue_token("alice")).secret
    await log_in(client, secret)
    return Api(client, secret)


def row_ids(text):
    return [int(found) for found in re.findall(r'data-deployment-id="(\d+)"', text)]


def row(text, deployment_id):
    start = text.index(f'data-deployment-id="{deployment_id}"')
    return text[start : text.index("</tr>", start)]


def charts(text):
    """Each chart's numbers, from its table: {title: {label: [cells]}}."""
    found = {}
    for figure in re.findall(r'<figure class="chart">.*?</figure>', text, re.S):
        tree = ET.fromstring(figure.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" '))
        table = tree.find("details/div/table")
        found[table.find("caption").text] = {
            tr[0].text: [td.text for td in tr[1:]] for tr in table.findall("tbody/tr")
        }
    return found


def figure(text, field):
    return re.search(rf'data-field="{field}">([^<]*)<', text).group(1)


async def test_the_history_is_newest_first_with_links_duration_and_who_asked(admin, history):
    status, text, _ = await page(admin.client, "/deployments")
    assert status == 200
    made = history["deployments"]
    assert row_ids(text) == [d.id for d in reversed(made)]
    running, failed = row(text, made[-1].id), row(text, made[2].id)
    assert f'href="/apps/{history["blog"].id}"' in running and ">blog<" in running
    assert ">0.9</a>" in running and "deploy-hook" in running
    assert f'data-task-id="{history["task"].id}"' in running
    assert 'class="status running"' in running and 'data-field="duration">—<' in running
    assert 'data-field="duration">5 s<' in failed and "health check" in failed
    assert 'data-field="duration">30 s<' in row(text, made[1].id)
    assert "rollback" in row(text, made[3].id)


@pytest.mark.parametrize(
    ("page_query", "api_query"),
    [
        ({"status": "completed"}, {"status": "completed"}),
        ({"kind": "rollback"}, {"kind": "rollback"}),
        ({"app_id": "shop", "status": "failed"}, {"app_id": "shop", "status": "failed"}),
        ({"since": TODAY.isoformat()}, {"since": at(TODAY, 0).isoformat()}),
        ({"until": (TODAY - DAY).isoformat()}, {"until": at(TODAY, 0).isoformat()}),
        ({"sort": "status"}, {"sort": "status"}),
    ],
)
async def test_the_page_filters_and_orders_as_the_api_does(admin, history, page_query, api_query):
    ids = {"shop": str(history["shop"].id)}
    page_query = {k: ids.get(v, v) for k, v in page_query.items()}
    api_query = {k: ids.get(v, v) for k, v in api_query.items()}
    listed = await admin.get("/api/v1/deployments", params={**api_query, "per_page": 100})
    assert listed.status == 200
    _, text, _ = await page(admin.client, "/deployments?" + "&".join(
        f"{k}={v}" for k, v in page_query.items()
    ))  # fmt: skip
    assert row_ids(text) == [item["id"] for item in listed.body["items"]]
    assert 0 < len(row_ids(text)) < len(history["deployments"]) or "sort" in page_query
    for key, value in page_query.items():  # the form shows the filters in force
        if key in ("status", "kind"):
            assert f"<option selected>{value}</option>" in text
        if key in ("since", "until"):
            assert f'value="{value}"' in text
        if key == "app_id":
            assert f'<option value="{value}" selected>shop</option>' in text


async def test_empty_fields_are_no_filter_and_bad_ones_an_html_422(admin, history):
    _, text, _ = await page(admin.client, "/deployments?app_id=&status=&kind=&since=&until=")
    assert len(row_ids(text)) == len(history["deployments"])
    for query in (
        "status=bogus",
        "app_id=x",
        "since=yesterday",
        "since=2026-12-02&until=2026-12-01",
    ):
        status, text, headers = await page(admin.client, f"/deployments?{query}")
        assert status == 422, query
        assert headers["Content-Type"].startswith("text/html")
        assert "These filters are not valid" in text and 'role="alert"' in text


async def test_the_figures_and_charts_say_what_the_deployments_did_per_day(admin, history):
    since, until = (TODAY - 2 * DAY).isoformat(), TODAY.isoformat()
    _, text, _ = await page(
        admin.client, f"/deployments?app_id={history['shop'].id}&since={since}&until={until}"
    )
    assert f"From {since} through {until}" in text
    assert figure(text, "total") == "4"
    assert figure(text, "success_rate") == "75 %"  # 3 completed, 1 failed
    assert figure(text, "median_duration_s") == "20 s"  # of 10, 20, 30
    assert figure(text, "p95_duration_s") == "30 s"
    found = charts(text)
    yesterday = (TODAY - DAY).isoformat()
    assert found["Success rate per day"] == {since: ["66.7 %"], yesterday: ["—"], until: ["100 %"]}
    durations = found["Duration of successful deployments per day"]
    assert durations == {since: ["20 s", "30 s"], yesterday: ["—", "—"], until: ["20 s", "20 s"]}
    assert text.count('<svg role="img"') == 2 and text.count("<title>") == 3  # + the page's


async def test_by_default_the_figures_are_the_last_30_days_as_the_stats_api_counts_them(
    admin, history
):
    before = datetime.now(UTC).date()
    _, text, _ = await page(admin.client, "/deployments")
    after = datetime.now(UTC).date()  # the run may cross midnight (UTC) in between
    window = (await admin.get("/api/v1/deployments/stats")).body["windows"]["30d"]
    assert figure(text, "total") == str(window["total"]) == "5"
    assert figure(text, "success_rate") == f"{window['success_rate'] * 100:g} %"
    assert figure(text, "median_duration_s") == f"{window['median_duration_s']:g} s"
    assert figure(text, "p95_duration_s") == f"{window['p95_duration_s']:g} s"
    days = found = charts(text)["Success rate per day"]
    assert len(days) == 30 and list(found)[-1] in {before.isoformat(), after.isoformat()}


async def test_a_long_range_is_drawn_in_wider_buckets(admin, history):
    since = (TODAY - 400 * DAY).isoformat()
    _, text, _ = await page(admin.client, f"/deployments?since={since}")
    (title,) = [t for t in charts(text) if t.startswith("Success rate")]
    assert title == "Success rate per 7 days"
    assert len(charts(text)[title]) <= 60
    assert figure(text, "total") == "5"


async def test_pages_keep_the_filters(admin, history):
    _, text, _ = await page(admin.client, "/deployments?status=completed&per_page=2")
    assert len(row_ids(text)) == 2 and "Page 1 of 2" in text
    link = re.search(r'href="([^"]+)" rel="next"', text).group(1).replace("&amp;", "&")
    assert "status=completed" in link and "page=2" in link
    _, second, _ = await page(admin.client, link)
    assert len(row_ids(second)) == 1 and 'rel="prev"' in second


async def test_a_scoped_session_sees_only_its_apps_deployments(client, history):
    team = await tokens.issue_token("team", Role.VIEWER, apps=[history["shop"].id])
    await log_in(client, team.secret)
    _, text, _ = await page(client, "/deployments")
    shop = [d.id for d in history["deployments"] if d.app_id == history["shop"].id]
    assert row_ids(text) == shop[::-1]
    assert ">blog<" not in text and figure(text, "total") == "4"
    _, other, _ = await page(client, f"/deployments?app_id={history['blog'].id}")
    assert row_ids(other) == [] and figure(other, "total") == "0"
    assert "No deployments match these filters." in other


async def test_the_running_row_is_marked_for_the_live_feed(admin, history):
    _, text, _ = await page(admin.client, "/deployments")
    assert 'id="deployments" data-live="all" data-newest-first' in text
    assert "deployments.js" in text
    _, filtered, _ = await page(admin.client, "/deployments?status=running")
    assert "data-newest-first" not in filtered  # a new deployment may not belong in this list


async def test_hostile_text_in_deployments_is_shown_as_text(admin):
    server = await Server.create(name="web-1", host="10.0.0.5")
    app = await App.create(name=MARKUP, server=server, remote_path="/srv/x", service_name="x")
    version = await Version.create(app=app, version_number=MARKUP)
    await deployment(
        app, version, DeploymentStatus.FAILED, TODAY, seconds=1, actor=MARKUP, error=MARKUP
    )
    status, text, _ = await page(
        admin.client, f"/deployments?until={TODAY.isoformat()}&kind=deploy"
    )
    assert status == 200
    assert "<script>alert" not in text and "<img src=x" not in text
    assert text.count("&lt;script&gt;") >= 4  # app (row and filter), version, actor, error

"""The apps and versions pages over HTTP: what they list, the deploy form's choices, who sees
which buttons, scope, hostile text as text, and the upload as upload.js sends it."""

import hashlib
import re

import pytest

from service.domain import tokens
from service.models import (
    App,
    AppStatus,
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
from tests.api.test_uploads import make_zip
from tests.web.test_pages import MARKUP, page
from tests.web.test_sessions import CSRF_RE, log_in, same_origin


async def logged_in_as(client, role=Role.ADMIN, **scope):
    issued = await tokens.issue_token(f"user-{role}", role, **scope)
    await log_in(client, issued.secret)
    return client


@pytest.fixture
async def shop():
    """An app on two servers: 1.0.0 was live, 1.1.0 is live now on both, 1.2.0 has a zip but
    was never deployed, 1.3.0 was created and never got its zip."""
    web1 = await Server.create(name="web-1", host="10.0.0.5")
    web2 = await Server.create(name="web-2", host="10.0.0.6")
    app = await App.create(
        name="shop", server=web1, remote_path="/srv/shop", service_name="shop.service",
        current_version="1.1.0", status=AppStatus.RUNNING,
    )  # fmt: skip
    await app.servers.add(web2)
    versions = {}
    for number in ("1.0.0", "1.1.0", "1.2.0", "1.3.0"):
        uploaded = number != "1.3.0"
        versions[number] = await Version.create(
            app=app, version_number=number, notes=f"notes of {number}",
            deployment_zip=f"v-{number}.zip" if uploaded else None,
            sha256=hashlib.sha256(number.encode()).hexdigest() if uploaded else None,
            size_bytes=2048 if uploaded else None,
        )  # fmt: skip
    for number in ("1.0.0", "1.1.0"):
        release = f"{number}-20261201T000000000000Z"
        served = {"slot": "blue", "release_id": release, "version": number}
        await Deployment.create(
            app=app, version=versions[number], status=DeploymentStatus.COMPLETED,
            release_id=release, actor="alice", completed_at=app.created,
            host_results={name: {"served": served} for name in ("web-1", "web-2")},
        )  # fmt: skip
    return app, versions


async def test_the_apps_page_lists_servers_version_and_status(client, shop):
    await logged_in_as(client)
    status, text, _ = await page(client, "/apps")
    assert status == 200
    row = text[text.index('data-app-id="1"') :].split("</tr>")[0]
    assert 'href="/apps/1"' in row and "shop" in row
    assert "web-1" in row and "web-2" in row
    assert ">1.1.0<" in row
    assert 'class="status running"' in row


async def test_the_app_page_shows_the_live_version_per_host_and_the_releases(client, shop):
    await logged_in_as(client)
    status, text, _ = await page(client, "/apps/1")
    assert status == 200
    hosts = text[text.index('id="app-hosts"') :].split("</table>")[0]
    assert hosts.count('data-field="live_version">1.1.0<') == 2
    assert "1.1.0-20261201T000000000000Z" in hosts
    releases = text[text.index('id="releases"') :].split("</table>")[0]
    rows = re.findall(r"<tr data-deployment-id=.*?</tr>", releases, re.S)
    assert [re.search(r'data-deployment-id="(\d+)"', r).group(1) for r in rows] == ["2", "1"]
    assert "data-live" in rows[0] and "live</span>" in rows[0]
    assert "data-live" not in rows[1] and "rollback target" in rows[1]


async def test_a_release_served_again_is_live_in_its_newest_row_only(client, shop):
    app, versions = shop
    first = await Deployment.get(id=1)
    await Deployment.create(
        app=app, version=versions["1.0.0"], kind=DeploymentKind.ROLLBACK,
        status=DeploymentStatus.COMPLETED, release_id=first.release_id,
        host_results=first.host_results,
    )  # fmt: skip
    await logged_in_as(client)
    _, text, _ = await page(client, "/apps/1")
    live = re.findall(r'<tr data-deployment-id="(\d+)" data-live>', text)
    assert live == ["3"]
    hosts = text[text.index('id="app-hosts"') :].split("</table>")[0]
    assert hosts.count('data-field="live_version">1.0.0<') == 2


async def test_the_deploy_form_offers_uploaded_versions_and_every_strategy(client, shop):
    await logged_in_as(client, Role.DEPLOYER)
    _, text, _ = await page(client, "/apps/1")
    form = text[text.index('<form id="deploy-form"') :].split("</form>")[0]
    assert 'data-url="/api/v1/apps/1/deploy"' in form and 'data-then="task"' in form
    version_select = form[form.index('name="version_id"') :].split("</select>")[0]
    offered = re.findall(r'<option value="(\d+)">([^<]*)</option>', version_select)
    assert offered == [("3", "1.2.0"), ("2", "1.1.0 (live)"), ("1", "1.0.0")]  # no zip: no 1.3.0
    strategy_select = form[form.index('name="strategy"') :].split("</select>")[0]
    assert re.findall(r'<option value="([^"]+)"', strategy_select) == ["rolling", "blue-green"]
    assert re.search(r'<input id="deploy-batch" name="batch_size" type="number" min="1"', form)
    rollback = text[text.index('id="rollback"') :].split("</button>")[0]
    assert 'data-url="/api/v1/apps/1/rollback"' in rollback
    assert 'data-confirm="Roll shop back to version 1.0.0 on 2 servers?"' in rollback
    assert "disabled" not in rollback


async def test_an_app_with_no_earlier_release_offers_no_rollback(client):
    server = await Server.create(name="web-1", host="10.0.0.5")
    await App.create(name="new", server=server, remote_path="/srv/new", service_name="new.service")
    await logged_in_as(client)
    _, text, _ = await page(client, "/apps/1")
    assert re.search(r'<button type="button" id="rollback" class="danger" disabled', text)
    assert "no earlier release" in text
    assert "Not deployed yet." in text
    assert re.search(r'<select id="deploy-version" name="version_id"[^>]* disabled', text)


async def test_the_running_deployment_is_handed_to_the_page_script(client, shop):
    app, versions = shop
    deployment = await Deployment.create(
        app=app, version=versions["1.2.0"], kind=DeploymentKind.DEPLOY,
        status=DeploymentStatus.RUNNING,
    )  # fmt: skip
    task = await Task.create(
        kind=TaskKind.DEPLOY, server_id=app.server_id, server_ids=[1, 2], app=app,
        deployment_id=deployment.id, status=TaskStatus.RUNNING,
        progress={"current_task": "Switch traffic", "hosts": {}},
    )  # fmt: skip
    await logged_in_as(client)
    _, text, _ = await page(client, "/apps/1")
    assert f'"id": {task.id}' in text.split('id="app-data">')[1].split("</script>")[0]
    running = text[text.index('id="deploy-progress"') :].split("</section>")[0]
    assert "hidden" not in running.split(">")[0]
    assert f'data-task-id="{task.id}"' in running and "Switch traffic" in running
    assert f'<a href="/tasks/{task.id}">task {task.id}</a>' in text  # in the releases table


async def test_a_viewer_sees_no_deploy_rollback_or_upload(client, shop):
    await logged_in_as(client, Role.VIEWER)
    _, app_page, _ = await page(client, "/apps/1")
    assert "deploy-form" not in app_page and 'id="rollback"' not in app_page
    assert 'id="releases"' in app_page  # still sees what happened
    _, versions_page, _ = await page(client, "/versions")
    assert "upload-form" not in versions_page
    assert 'data-version-id="1"' in versions_page


async def test_a_scoped_session_sees_only_its_apps_and_their_versions(client, shop):
    app, _ = shop
    other_server = await Server.create(name="db-1", host="10.0.0.9")
    other = await App.create(
        name="billing", server=other_server, remote_path="/srv/billing",
        service_name="billing.service",
    )  # fmt: skip
    hidden = await Version.create(app=other, version_number="9.9.9")
    await logged_in_as(client, Role.DEPLOYER, apps=[app.id], servers=[app.server_id])
    _, listing, _ = await page(client, "/apps")
    assert "shop" in listing and "billing" not in listing
    assert (await page(client, f"/apps/{other.id}"))[0] == 404
    _, versions, _ = await page(client, "/versions")
    assert f'data-version-id="{hidden.id}"' not in versions and "9.9.9" not in versions
    upload_apps = versions[versions.index('id="upload-app"') :].split("</select>")[0]
    assert "shop" in upload_apps and "billing" not in upload_apps
    _, app_page, _ = await page(client, f"/apps/{app.id}")
    assert 'href="/servers/1"' in app_page and 'href="/servers/2"' not in app_page


async def test_hostile_names_and_version_notes_are_shown_as_text(client):
    # Names the API refuses can still come from an older database or a hand edit.
    server = await Server.create(name=MARKUP, host="10.0.0.5")
    app = await App.create(
        name=MARKUP, server=server, remote_path="/srv/x", service_name="x.service",
        current_version=MARKUP,
    )  # fmt: skip
    version = await Version.create(
        app=app, version_number=MARKUP, notes=MARKUP, deployment_zip="x.zip"
    )
    await Deployment.create(
        app=app, version=version, status=DeploymentStatus.FAILED, error=MARKUP, actor=MARKUP,
        release_id=MARKUP, host_results={MARKUP: {"served": {"slot": "blue", "version": MARKUP}}},
    )  # fmt: skip
    await logged_in_as(client)
    for path in ("/apps", "/apps/1", "/versions"):
        status, text, _ = await page(client, path)
        assert status == 200, path
        assert "<script>alert" not in text, path
        assert "<img src=x" not in text, path
        assert "&lt;script&gt;" in text, path


async def test_the_versions_page_shows_size_and_sha256_and_filters_by_app(client, shop):
    app, versions = shop
    other = await App.create(
        name="blog", server_id=app.server_id, remote_path="/srv/blog", service_name="blog.service"
    )
    await Version.create(app=other, version_number="0.1.0")
    await logged_in_as(client)
    _, text, _ = await page(client, "/versions")
    row = text[text.index('data-version-id="2"') :].split("</tr>")[0]
    assert f'data-field="sha256" class="mono">{versions["1.1.0"].sha256}<' in row
    assert "2.0 KiB" in row and "notes of 1.1.0" in row
    assert "no zip yet" in text[text.index('data-version-id="4"') :].split("</tr>")[0]
    form = text[text.index('<form id="upload-form"') :].split("</form>")[0]
    assert 'type="file"' in form and '<progress id="upload-progress"' in form
    assert 'data-max-bytes="1073741824"' in form
    _, only_blog, _ = await page(client, f"/versions?app_id={other.id}")
    assert "0.1.0" in only_blog and 'data-version-id="2"' not in only_blog
    for junk in ("abc", "-1", "0", "9" * 30):
        assert (await page(client, f"/versions?app_id={junk}&page={junk}"))[0] == 200


async def test_a_version_is_created_and_its_zip_uploaded_as_the_page_does(client, shop):
    app, _ = shop
    await logged_in_as(client, Role.DEPLOYER)
    csrf = CSRF_RE.search((await page(client, "/versions"))[1]).group(1)
    headers = same_origin(client, csrf)
    created = await client.post(
        "/api/v1/versions", json={"app_id": app.id, "version_number": "2.0.0", "notes": "n"},
        headers=headers,
    )  # fmt: skip
    assert created.status == 201
    version = await created.json()
    body = make_zip()
    uploaded = await client.post(
        f"/api/v1/versions/{version['id']}/upload", data=body,
        headers={**headers, "Content-Type": "application/zip"},
    )  # fmt: skip
    assert uploaded.status == 201
    assert (await uploaded.json())["sha256"] == hashlib.sha256(body).hexdigest()
    again = await client.post(
        "/api/v1/versions", json={"app_id": app.id, "version_number": "2.0.0"}, headers=headers
    )
    assert again.status == 409  # the duplicate the page shows in #notice
    assert "already exists" in (await again.json())["error"]["message"]
    _, text, _ = await page(client, "/versions")
    assert hashlib.sha256(body).hexdigest() in text

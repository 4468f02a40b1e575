"""Jinja in any input never runs: through every field of every endpoint that reaches a playbook.

Each hostile value carries a lookup, a statement block and a shell substitution, each of which
would create its own proof file if anything evaluated it (the lookup on the controller, the
shell on the host). Fields whose rules refuse such text must answer 422 (or 404 for a unit name
the route cannot match); the fields that accept it (hook and health-check argv) go through real
deploy and rollback runs, whose commands record the argv they received on the host.
"""

import asyncio
import glob
import json
import time
import uuid
from urllib.parse import quote

import pytest

from service.models import App, Version
from tests.deploy.test_deploy_api_on_hosts import ZIP
from tests.http_probe import get
from tests.roles.fixtures import build_zip
from tests.tasks.helpers import create_server, wait_for_task

pytestmark = pytest.mark.hosts

TOKEN = uuid.uuid4().hex[:8]
PROOF_PREFIX = f"/tmp/pbd-proof-{TOKEN}-"
RECORD = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
"""A hook/health command that writes the argv it was given to a file on the host."""
DOMAIN = "shop.example.com"


def hostile(field: str) -> list[str]:
    """Three payloads for one field; each would leave its own proof file if evaluated."""
    proof = PROOF_PREFIX + field
    return [
        f"{{{{ lookup('pipe', 'touch {proof}-expr') }}}}",
        f"{{% set _ = lookup('pipe', 'touch {proof}-stmt') %}}{{{{ 7 * 7 }}}}{{# c #}}",
        f"$(touch {proof}-shell); touch {proof}-shell2",
    ]


def recorder(field: str) -> list[str]:
    """argv that records its own hostile arguments in /tmp/pbd-argv-<token>-<field>.json."""
    return ["/usr/bin/python3", "-c", RECORD, argv_file(field), *hostile(field)]


def argv_file(field: str) -> str:
    return f"/tmp/pbd-argv-{TOKEN}-{field}.json"


async def on_host(target_hosts, host, command: str) -> str:
    ssh = await asyncio.create_subprocess_exec(
        *target_hosts.ssh_args(host), command, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await ssh.communicate()
    assert ssh.returncode == 0, command
    return out.decode()


async def serves(host) -> str:
    status, body = await asyncio.to_thread(get, host, DOMAIN)
    assert status == 200, body
    return body


async def assert_refused(api, method: str, path: str, json_body=None, params=None) -> None:
    reply = await api.request(method, path, json=json_body, params=params)
    assert reply.status in (404, 422), (method, path, json_body, reply.status, reply.body)
    assert reply.body["error"]["code"] in ("validation_failed", "not_found"), reply.body


async def run(api, method: str, path: str, body: dict, status: str = "successful") -> dict:
    started = time.monotonic()
    reply = await api.request(method, path, json=body)
    assert reply.status == 202, reply.body
    done = await wait_for_task(api, reply.body["task"]["id"], timeout=600)
    assert done["status"] == status, done
    print(f"{method} {path}: {done['status']} in {time.monotonic() - started:.1f}s")
    return done


async def upload(api, app_id: int, version: str, tmp_path, notes: str = "") -> dict:
    body = {"app_id": app_id, "version_number": version, "notes": notes}
    record = (await api.post("/api/v1/versions", json=body)).body
    data = build_zip(version, directory=tmp_path).read_bytes()
    reply = await api.post(f"/api/v1/versions/{record['id']}/upload", data=data, headers=ZIP)
    assert reply.status == 201, reply.body
    return record


async def test_jinja_in_any_field_is_never_evaluated(api, target_hosts, app_host, tmp_path):
    text = hostile("refused")[0]
    statement = hostile("refused")[1]

    # Servers: every string field has a rule that refuses template text.
    base = {"name": "untrusted", "host": app_host.ip, "port": app_host.port}
    for field in ("name", "host", "root_username", "app_username", "manual_key_path"):
        for value in (text, statement):
            await assert_refused(api, "POST", "/api/v1/servers", {**base, field: value})
    server = await create_server(api, app_host, target_hosts.private_key, name="untrusted")
    sid = server["id"]
    for field in ("name", "host", "root_username", "app_username", "manual_key_path"):
        await assert_refused(api, "PATCH", f"/api/v1/servers/{sid}", {field: text})

    # Setup (keys, packages) and lockdown (ports) refuse it too.
    for path in ("setup", "setup/user", "setup/packages"):
        await assert_refused(api, "POST", f"/api/v1/servers/{sid}/{path}",
                             {"authorized_keys": [f"ssh-ed25519 {'A' * 68} {text}"]})  # fmt: skip
        await assert_refused(api, "POST", f"/api/v1/servers/{sid}/{path}", {"packages": [text]})
    for ports in ([{"port": text}], [{"port": 8080, "proto": text}], [text]):
        await assert_refused(api, "POST", f"/api/v1/servers/{sid}/security/lockdown",
                             {"allowed_ports": ports})  # fmt: skip

    # Services: the unit name (path), the action and the journal's `since`.
    await assert_refused(api, "GET", f"/api/v1/services/{sid}/{quote(text, safe='')}")
    await assert_refused(api, "GET", f"/api/v1/services/{sid}/{quote('a{{b}}', safe='')}/logs")
    await assert_refused(api, "POST", f"/api/v1/services/{sid}/nginx", {"action": text})
    await assert_refused(api, "GET", f"/api/v1/services/{sid}/nginx/logs", params={"since": text})

    # Apps and versions: names, paths, unit, domain, version number.
    app = {"name": "shop", "server_id": sid, "remote_path": "/srv/apps/shop",
           "service_name": "shop", "domain": DOMAIN}  # fmt: skip
    for field in ("name", "remote_path", "service_name", "domain"):
        await assert_refused(api, "POST", "/api/v1/apps", {**app, field: text})
    shop = (await api.post("/api/v1/apps", json=app)).body
    for field in ("name", "remote_path", "service_name", "domain"):
        await assert_refused(api, "PATCH", f"/api/v1/apps/{shop['id']}", {field: statement})
    await assert_refused(api, "POST", "/api/v1/versions",
                         {"app_id": shop["id"], "version_number": text})  # fmt: skip
    # Notes take any text; they are stored and never handed to a playbook.
    v1 = await upload(api, shop["id"], "1.0.0", tmp_path, notes=" ".join(hostile("notes")))

    # Deploy options with rules refuse it; so does anything the schema does not know.
    deploy_path = f"/api/v1/apps/{shop['id']}/deploy"
    for options in ({"health": {"path": text}}, {"batch_size": text}, {"keep_releases": text},
                    {"strategy": text}, {"hooks": {"pre": [text]}}, {"shared_paths": [text]},
                    {"ports": [text]}):  # fmt: skip
        await assert_refused(api, "POST", deploy_path, {"version_id": v1["id"], **options})

    # The app user the deploys need (setup's own fields all refuse the text, see above).
    await on_host(target_hosts, app_host, "useradd --create-home --shell /bin/bash deploy")

    # argv fields take any text: deploy with them in the health command and both hooks.
    deploy = {
        "version_id": v1["id"],
        "health": {"command": recorder("health")},
        "hooks": {"pre": [recorder("pre"), recorder("pre2")], "post": [recorder("post")]},
    }
    await run(api, "POST", deploy_path, deploy)
    assert await serves(app_host) == "version 1.0.0"
    for field in ("health", "pre", "pre2", "post"):
        received = await on_host(target_hosts, app_host, f"cat {argv_file(field)}")
        assert json.loads(received) == hostile(field), field

    # Rollback (roles/app_deploy's rollback entry) with the health command.
    v2 = await upload(api, shop["id"], "2.0.0", tmp_path)
    await run(api, "POST", deploy_path, {"version_id": v2["id"]})
    rollback = {"health": {"command": recorder("rollback-health")}}
    await run(api, "POST", f"/api/v1/apps/{shop['id']}/rollback", rollback)
    assert await serves(app_host) == "version 1.0.0"
    received = await on_host(target_hosts, app_host, f"cat {argv_file('rollback-health')}")
    assert json.loads(received) == hostile("rollback-health")

    # Database values that no rule checked (an old row, a hand edit) are data too: the run
    # refuses them in the role's own validation, and evaluates none of them.
    await App.filter(id=shop["id"]).update(
        name=hostile("n")[0], remote_path=hostile("remote-path")[1],
        service_name=hostile("service-name")[0], domain=hostile("domain")[1],
    )  # fmt: skip
    await Version.filter(id=v2["id"]).update(version_number=hostile("version")[0])
    failed = await run(api, "POST", deploy_path, {"version_id": v2["id"]}, status="failed")
    assert "Invalid request" in failed["error"], failed["error"]
    assert await serves(app_host) == "version 1.0.0"

    # Nothing ran: no proof file on the controller, none on the host.
    assert glob.glob(PROOF_PREFIX + "*") == []
    assert await on_host(target_hosts, app_host, f"ls {PROOF_PREFIX}* 2>/dev/null || true") == ""

"""Audit drift on a real host: a finding broken by hand between two audits arrives as
`audit.drift` over a real WebSocket, and the history keeps both audits."""

import time

import pytest

from tests.provisioning.helpers import audit, finished_ok, root_run
from tests.tasks.helpers import create_server

pytestmark = pytest.mark.hosts

FINDING = "ssh_permit_empty_passwords"
DROP_IN = "/etc/ssh/sshd_config.d/00-pbd-drift-test.conf"
"""Read first by Debian's sshd_config (its Include comes first), so it wins over the rest."""


async def next_drift(ws, timeout: float = 60) -> dict:
    """The next `audit.drift` message; everything else on the topic is skipped."""
    deadline = time.monotonic() + timeout
    while (message := await ws.receive_json(timeout=deadline - time.monotonic()))[
        "type"
    ] != "audit.drift":
        pass
    return message


async def test_a_finding_broken_by_hand_arrives_as_audit_drift(api, target_hosts, running_hosts):
    host = running_hosts[0]
    sid = (await create_server(api, host, target_hosts.private_key, name="drift"))["id"]
    ws = await api.client.ws_connect("/api/v1/ws", headers=api.headers)
    assert (await ws.receive_json(timeout=10))["type"] == "hello"
    await ws.send_json({"type": "subscribe", "topic": f"server:{sid}"})
    assert (await ws.receive_json(timeout=10)) == {"type": "subscribed", "topic": f"server:{sid}"}

    # Given an audit in which empty SSH passwords are refused,
    before = {f["id"]: f for f in (await audit(api, sid))["findings"]}
    assert before[FINDING]["passed"] is True, before[FINDING]

    # when someone allows them by hand and the server is audited again,
    root_run(target_hosts, host, "sh", "-c", f"echo 'PermitEmptyPasswords yes' > {DROP_IN}")
    try:
        again = await finished_ok(api, f"/api/v1/servers/{sid}/security/audit")

        # then the drift names that finding, live and in the history.
        drift = await next_drift(ws)
    finally:
        root_run(target_hosts, host, "rm", "-f", DROP_IN)
    await ws.close()
    assert drift["server_id"] == sid
    assert drift["task_id"] == again["id"]
    changed = {f["id"]: f for f in drift["findings"]}
    assert changed[FINDING]["passed"] is False
    assert changed[FINDING]["previously_passed"] is True
    assert drift["score"] < drift["previous_score"]

    history = (await api.get(f"/api/v1/servers/{sid}/security/audits")).body
    assert history["total_items"] == 2
    newest, first = history["items"]
    assert newest["task_id"] == again["id"]
    assert newest["drift"]["findings"] == drift["findings"]
    assert first["drift"] is None

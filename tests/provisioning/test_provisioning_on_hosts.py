"""Setup → lockdown → audit through the API on a real host, then proved from outside it."""

import asyncio
import socket
import subprocess
import time

import pytest

from tests.provisioning.helpers import audit, finished_ok, ssh
from tests.tasks.helpers import create_server

pytestmark = pytest.mark.hosts


def tcp_state(ip: str, port: int, timeout: float = 3.0) -> str:
    """open, refused (RST: reachable, nothing listening) or filtered (dropped: no answer)."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except (TimeoutError, OSError):
        return "filtered"


async def test_setup_lockdown_audit_and_proof_from_outside(api, target_hosts, lab_host):
    host = lab_host
    server = await create_server(api, host, target_hosts.private_key, name="prov")
    sid = server["id"]

    # Given an un-hardened host, the audit reports the failures.
    before = await audit(api, sid)
    failing = {f["id"] for f in before["findings"] if not f["passed"]}
    assert {"ssh_permit_root_login", "ssh_password_authentication", "firewall_active",
            "fail2ban_sshd_jail"} <= failing  # fmt: skip
    assert before["score"] < 60

    # Lockdown before setup would lock the service out: refused before it starts.
    refused = await api.post(f"/api/v1/servers/{sid}/security/lockdown")
    assert refused.status == 409

    await finished_ok(api, f"/api/v1/servers/{sid}/setup", json={"upgrade": True})
    assert (await api.get(f"/api/v1/servers/{sid}")).body["setup_complete"] is True

    started = time.monotonic()
    await finished_ok(api, f"/api/v1/servers/{sid}/security/lockdown")
    first_lockdown = time.monotonic() - started
    record = (await api.get(f"/api/v1/servers/{sid}")).body
    assert record["security_locked"] is True

    after = await audit(api, sid)  # now connecting as the app user, with sudo
    assert [f["id"] for f in after["findings"] if not f["passed"]] == []
    assert after["score"] == 100

    started = time.monotonic()
    again = await finished_ok(api, f"/api/v1/servers/{sid}/security/lockdown")
    second_lockdown = time.monotonic() - started
    assert again["result"]["stats"]["changed"] == {}, "a second lockdown changes nothing"
    print(f"lockdown: first {first_lockdown:.1f}s, idempotent second {second_lockdown:.1f}s")

    # From outside: root and passwords are refused, the app user's key works.
    root = ssh(target_hosts, host, "root", "true")
    assert root.returncode == 255 and "Permission denied" in root.stderr
    no_key = ("-o", "PreferredAuthentications=none", "-o", "PubkeyAuthentication=no")
    probe = ssh(target_hosts, host, "root", "true", extra=no_key)
    assert "Permission denied (publickey)" in probe.stderr, probe.stderr
    app_user = ssh(target_hosts, host, "deploy", "sudo", "-n", "true")
    assert app_user.returncode == 0, app_user.stderr

    # Only SSH and web ports pass the firewall.
    listener = ssh(target_hosts, host, "deploy", "sudo", "-n", "systemd-run", "--unit=probe-9999",
                   "python3", "-m", "http.server", "9999")  # fmt: skip
    assert listener.returncode == 0, listener.stderr
    await asyncio.sleep(1)
    assert (
        ssh(
            target_hosts, host, "deploy", "curl", "-s", "-o", "/dev/null", "http://127.0.0.1:9999/"
        ).returncode
        == 0
    )
    assert tcp_state(host.ip, 22) == "open"
    assert tcp_state(host.ip, 80) == "refused"  # allowed through, nothing listening
    assert tcp_state(host.ip, 9999) == "filtered"

    # Service control changes the unit's real state; logs are real journal lines.
    unit = f"/api/v1/services/{sid}/fail2ban"
    status = await api.get(unit)
    assert status.status == 200, status.body
    assert status.body["status"]["active_state"] == "active"
    await finished_ok(api, unit, json={"action": "stop"})
    assert (await api.get(unit)).body["status"]["active_state"] == "inactive"
    await finished_ok(api, unit, json={"action": "start"})
    assert (await api.get(unit)).body["status"]["active_state"] == "active"
    logs = await api.get(f"{unit}/logs", params={"lines": 20})
    assert logs.status == 200, logs.body
    entries = logs.body["logs"]["entries"]
    assert entries and all(entry["message"] for entry in entries)
    missing = await api.get(f"/api/v1/services/{sid}/no-such-unit.service")
    assert missing.status == 404, missing.body

    # fail2ban bans an address after repeated failures (here: ours, so this comes last).
    await asyncio.sleep(2)  # fail2ban's restart above: let the jail come up
    for _ in range(8):
        try:
            ssh(target_hosts, host, "intruder", "true", timeout=10)
        except subprocess.TimeoutExpired:
            break  # banned in the middle of the attempt
        if tcp_state(host.ip, 22, timeout=2) != "open":
            break
    deadline = time.monotonic() + 30
    while tcp_state(host.ip, 22, timeout=2) == "open":
        assert time.monotonic() < deadline, "fail2ban never banned the failing address"
        await asyncio.sleep(1)

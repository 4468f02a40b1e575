"""Lockdown never locks the service out of a real host (issue 8, item 2).

Before anything that can lock out, the lockdown proves the service's own login (a new SSH
connection as the app user, with its key or ssh-agent, then `sudo -n true`) and refuses
otherwise; after the firewall and sshd changes it proves it again and restores the previous
state when that fails. A run of setup by hand adds keys instead of replacing the service's.
"""

import json
import subprocess

import pytest

from tests.provisioning.helpers import audit, by_hand, finished, finished_ok, root_run
from tests.tasks.helpers import create_server

pytestmark = pytest.mark.hosts

DROPIN = "/etc/ssh/sshd_config.d/10-pb-deployer.conf"
APP_KEYS = "/home/deploy/.ssh/authorized_keys"
UFW_STATE = "/etc/default/ufw /etc/ufw/ufw.conf /etc/ufw/user.rules /etc/ufw/user6.rules"
# What lockdown could change, read as root: the effective sshd config, our drop-in, ufw.
HOST_STATE = f"sshd -T; cat {DROPIN} 2>&1; ufw status verbose 2>&1; cat {UFW_STATE} 2>&1; true"


def public_key(private_key) -> str:
    result = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(private_key)], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def operator_key(tmp_path) -> str:
    path = tmp_path / "operator_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "operator", "-f", str(path)],
        check=True,
    )
    return (tmp_path / "operator_ed25519.pub").read_text().strip()


def key_lines(target_hosts, host) -> list[str]:
    text = root_run(target_hosts, host, "cat", APP_KEYS)
    return [line for line in text.splitlines() if line and not line.startswith("#")]


async def server_record(api, server_id: int) -> dict:
    reply = await api.get(f"/api/v1/servers/{server_id}")
    assert reply.status == 200, reply.body
    return reply.body


async def test_setup_by_hand_keeps_the_service_key_and_both_rescues_restore_the_host(
    api, service_settings, target_hosts, lab_host, tmp_path
):
    host = lab_host
    server = await create_server(api, host, target_hosts.private_key, name="by-hand")
    sid = server["id"]
    await finished_ok(api, f"/api/v1/servers/{sid}/setup", json={})
    service_keys = key_lines(target_hosts, host)
    assert public_key(target_hosts.private_key) in service_keys

    # When an operator runs setup by hand with only their own key, as the README shows:
    mine = operator_key(tmp_path)
    run = by_hand(
        service_settings,
        sid,
        "setup.yml",
        json.dumps({"app_user_authorized_keys": [mine]}),
        tmp_path,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    # Then the service's keys are kept and the operator's is added.
    assert key_lines(target_hosts, host) == [*service_keys, mine]

    # Given a firewall change that would block the service's SSH port (ufw allows 2222 only):
    # when lockdown runs by hand, the login after enabling ufw fails, ufw is put back as it was.
    sshd_before = root_run(target_hosts, host, "sshd", "-T")
    run = by_hand(
        service_settings,
        sid,
        "lockdown.yml",
        json.dumps({"firewall_ssh_port": 2222, "ssh_hardening_access_timeout": 3}),
        tmp_path,
    )
    assert run.returncode != 0
    assert "Lockout guard (after the firewall change)" in run.stdout, run.stdout[-3000:]
    assert "The previous ufw state was restored." in run.stdout
    assert "Status: inactive" in root_run(target_hosts, host, "ufw", "status")
    assert root_run(target_hosts, host, "sshd", "-T") == sshd_before
    await finished_ok(api, f"/api/v1/servers/{sid}/test-connection")

    # Given an sshd change the service's client cannot speak (a cipher it does not offer):
    # sshd -t accepts it, the login afterwards fails, the previous sshd config comes back.
    ciphers = json.dumps({"ssh_hardening_ciphers": ["aes256-cbc"]})
    run = by_hand(service_settings, sid, "lockdown.yml", ciphers, tmp_path)
    assert run.returncode != 0
    assert "Lockout guard (after the sshd change)" in run.stdout, run.stdout[-3000:]
    assert "The previous sshd configuration was restored" in run.stdout
    assert root_run(target_hosts, host, "sshd", "-T") == sshd_before
    assert (
        root_run(target_hosts, host, "sh", "-c", f"test -e {DROPIN} || echo absent") == "absent\n"
    )
    await finished_ok(api, f"/api/v1/servers/{sid}/test-connection")
    assert (await server_record(api, sid))["security_locked"] is False

    # Lockdown through the API still works after all that, and so does every later task.
    await finished_ok(api, f"/api/v1/servers/{sid}/security/lockdown")
    assert (await server_record(api, sid))["security_locked"] is True
    await finished_ok(api, f"/api/v1/servers/{sid}/test-connection")
    failing = {f["id"] for f in (await audit(api, sid))["findings"] if not f["passed"]}
    assert failing <= {"security_updates"}, failing  # setup ran without upgrade


async def test_lockdown_is_refused_when_the_service_key_was_removed_by_hand(
    api, target_hosts, lab_host
):
    host = lab_host
    server = await create_server(api, host, target_hosts.private_key, name="key-gone")
    sid = server["id"]
    await finished_ok(api, f"/api/v1/servers/{sid}/setup", json={})

    # Given the key the service logs in with removed from the app user's authorized_keys
    # (others stay, so the file is not empty):
    mine = public_key(target_hosts.private_key).split()[1]
    root_run(target_hosts, host, "sed", "-i", f"\\|{mine}|d", APP_KEYS)
    assert key_lines(target_hosts, host), "other keys are still there"
    before = root_run(target_hosts, host, "sh", "-c", HOST_STATE)

    # When lockdown is asked for, it is refused with the reason and changes nothing.
    done = await finished(api, f"/api/v1/servers/{sid}/security/lockdown")
    assert done["status"] == "failed", done
    assert "Lockout guard (before any change, nothing was changed)" in done["error"], done
    assert "as 'deploy'" in done["error"] and "Permission denied" in done["error"], done
    assert root_run(target_hosts, host, "sh", "-c", HOST_STATE) == before
    assert (await server_record(api, sid))["security_locked"] is False

    # Later tasks still work: the service still logs in as root.
    await finished_ok(api, f"/api/v1/servers/{sid}/test-connection")


async def test_an_agent_server_gets_the_agent_key_and_lockdown_proves_the_agent_login(
    api, target_hosts, lab_host, ssh_agent
):
    host = lab_host
    ssh_agent(target_hosts.private_key)
    reply = await api.post(
        "/api/v1/servers",
        json={"name": "agent", "host": host.ip, "port": host.port, "use_ssh_agent": True},
    )
    assert reply.status == 201, reply.body
    sid = reply.body["id"]

    # Setup gives the app user the agent's key: the one the service connects with.
    await finished_ok(api, f"/api/v1/servers/{sid}/setup", json={})
    agent_key = public_key(target_hosts.private_key).split()[1]
    assert any(agent_key in line for line in key_lines(target_hosts, host))

    # Given that key removed by hand, lockdown proves the agent's login and refuses.
    root_run(target_hosts, host, "sed", "-i", f"\\|{agent_key}|d", APP_KEYS)
    refused = await finished(api, f"/api/v1/servers/{sid}/security/lockdown")
    assert refused["status"] == "failed", refused
    assert "with the ssh-agent" in refused["error"], refused
    assert (await server_record(api, sid))["security_locked"] is False

    # Setup again puts it back; lockdown then succeeds and later tasks work over the agent.
    await finished_ok(api, f"/api/v1/servers/{sid}/setup", json={})
    await finished_ok(api, f"/api/v1/servers/{sid}/security/lockdown")
    assert (await server_record(api, sid))["security_locked"] is True
    await finished_ok(api, f"/api/v1/servers/{sid}/test-connection")

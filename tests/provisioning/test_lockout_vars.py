"""The variables the service gives setup and lockdown: the key set it wants, and the login
the lockout guard must prove (the one the service makes after lockdown). Both differ per
server, so they are each server's host variables."""

import subprocess

from service.config import Settings
from service.models import Server, Task, TaskKind
from service.tasks.kinds import lockdown_host_vars, setup_host_vars


def server(**fields) -> Server:
    return Server(id=7, name="web", host="10.0.0.5", port=2222, app_username="ops", **fields)


def guard_login(record: Server, settings: Settings) -> dict:
    task = Task(kind=TaskKind.LOCKDOWN, params={})
    variables = lockdown_host_vars(task, [record], settings, "")[record.id]
    return {
        key: value for key, value in variables.items() if key.startswith("ssh_hardening_access")
    }


def test_the_guard_proves_the_service_key_login_as_the_app_user(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert guard_login(server(), settings) == {
        "ssh_hardening_access_host": "10.0.0.5",
        "ssh_hardening_access_port": 2222,
        "ssh_hardening_access_user": "ops",
        "ssh_hardening_access_key_file": str(settings.ssh_key_path.absolute()),
        "ssh_hardening_access_known_hosts_file": str(settings.known_hosts_path.absolute()),
    }


def test_the_guard_uses_the_manual_key_or_else_the_agent(tmp_path):
    settings = Settings(data_dir=tmp_path)
    manual = guard_login(server(manual_key_path="/keys/ops", use_ssh_agent=True), settings)
    assert manual["ssh_hardening_access_key_file"] == "/keys/ops"
    agent = guard_login(server(use_ssh_agent=True), settings)
    assert agent["ssh_hardening_access_key_file"] == ""


def test_the_service_setup_makes_exactly_its_key_set(tmp_path):
    task = Task(kind=TaskKind.SETUP, params={"authorized_keys": ["ssh-ed25519 AAAA extra"]})
    settings = Settings(data_dir=tmp_path)
    variables = setup_host_vars(task, [server()], settings, "ssh-ed25519 BBBB svc")[7]
    assert variables["app_user_authorized_keys"] == [
        "ssh-ed25519 BBBB svc",
        "ssh-ed25519 AAAA extra",
    ]


def test_an_agent_server_setup_adds_the_agent_keys(tmp_path, ssh_agent):
    key = tmp_path / "agent_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    ssh_agent(key)
    task = Task(kind=TaskKind.SETUP, params={})
    agent_server = server(use_ssh_agent=True)
    variables = setup_host_vars(task, [agent_server], Settings(data_dir=tmp_path), "svc")[7]
    expected = " ".join(key.with_name("agent_ed25519.pub").read_text().split()[:2])
    assert variables["app_user_authorized_keys"] == ["svc", expected]

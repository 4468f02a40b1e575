"""The package as a user installs it: a built wheel in a fresh virtualenv, nothing else.

The wheel must carry the Ansible content (playbooks, roles, inventory templates,
ansible.cfg) and find it through the package: started from an empty directory, the
installed service runs a real playbook against a real host. On a target host (real
systemd), `install-service` runs it as an unprivileged user.
"""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import aiohttp
import pytest

from tests.service_process import start_service

pytestmark = pytest.mark.hosts

PROJECT_DIR = Path(__file__).resolve().parents[1]


def run(*argv: str | Path, cwd: Path | None = None, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{argv}: {result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """The wheel built from this checkout and every dependency's wheel (from the index)."""
    house = tmp_path_factory.mktemp("wheelhouse")
    output = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", house, PROJECT_DIR)
    assert "deprecat" not in output.lower(), output
    wheel = next(house.glob("pb_deployer-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "service/ansible/project/playbooks/setup.yml" in names
    assert "service/ansible/project/ansible.cfg" in names
    assert "service/web/templates/base.html" in names
    assert "service/web/static/dashboard.js" in names
    run(sys.executable, "-m", "pip", "wheel", "-q", "-w", house, wheel)
    return house


def install_command(venv: str | Path, house: str | Path) -> list[str]:
    return [f"{venv}/bin/pip", "install", "-q", "--no-index", "--find-links", str(house),
            "pb-deployer"]  # fmt: skip


@pytest.fixture(scope="module")
def installed(wheelhouse, tmp_path_factory) -> Path:
    """A fresh venv with only the wheel and its dependencies."""
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", venv)
    run(*install_command(venv, wheelhouse))
    return venv


async def test_the_installed_wheel_runs_a_playbook_from_an_empty_directory(
    installed, tmp_path, target_hosts, running_hosts
):
    host = running_hosts[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    shipped = Path(run(installed / "bin" / "pb-deployer", "playbooks", "path", cwd=empty).strip())
    assert shipped.is_relative_to(installed) and (shipped / "roles").is_dir()

    service = await start_service(
        tmp_path / "data", cwd=empty, command=[installed / "bin" / "pb-deployer"]
    )
    try:
        task, _ = await service.connection_test("w", host.ip, target_hosts.private_key)
        assert task["status"] == "successful", task["error"]
        async with aiohttp.ClientSession() as session:
            for path in ("/login", "/static/dashboard.css", "/static/dashboard.js"):
                async with session.get(service.base_url + path) as response:
                    assert response.status == 200, path  # the dashboard ships in the wheel
        assert list(empty.iterdir()) == [], "nothing written to the working directory"
    finally:
        await service.stop()


def on_host(target_hosts, host, command: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [*target_hosts.ssh_args(host), command], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result.stdout


def test_install_service_runs_it_under_systemd_as_an_unprivileged_user(
    wheelhouse, target_hosts, running_hosts
):
    host = running_hosts[-1]
    try:
        subprocess.run(
            ["scp", "-q", "-r", "-i", str(target_hosts.private_key), *target_hosts.ssh_options(),
             str(wheelhouse), f"root@{host.ip}:/root/wheelhouse"],
            check=True, timeout=300,
        )  # fmt: skip
        on_host(target_hosts, host, "apt-get update -qq && apt-get install -y -qq python3-venv")
        venv = "/opt/pb-deployer"
        on_host(target_hosts, host, f"python3 -m venv {venv}")
        on_host(target_hosts, host, " ".join(install_command(venv, "/root/wheelhouse")))
        installed = on_host(target_hosts, host, f"{venv}/bin/pb-deployer install-service")
        token = next(word for word in installed.split() if word.startswith("pbd_"))

        def health() -> str:
            return on_host(
                target_hosts, host,
                "for i in $(seq 100); do curl -sf -H 'Authorization: Bearer " + token + "' "
                "http://127.0.0.1:8080/api/v1/servers && exit 0; sleep 0.2; done; exit 1",
            )  # fmt: skip

        assert json.loads(health())["items"] == []
        main_pid = on_host(target_hosts, host, "systemctl show -P MainPID pb-deployer").strip()
        user = on_host(target_hosts, host, f"ps -o user= -p {main_pid}").strip()
        assert user == "pb-deployer"
        mode = on_host(target_hosts, host, "stat -c '%U %a' /var/lib/pb-deployer").strip()
        assert mode == "pb-deployer 700"
        for name, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict"}.items():
            shown = on_host(target_hosts, host, f"systemctl show -P {name} pb-deployer")
            assert shown.strip() == value, name

        on_host(target_hosts, host, "systemctl restart pb-deployer")
        assert on_host(target_hosts, host, "systemctl show -P MainPID pb-deployer").strip() not in (
            main_pid, "0",
        )  # fmt: skip
        assert json.loads(health())["items"] == []

        on_host(target_hosts, host, "systemctl stop pb-deployer")
        state = {
            name: on_host(target_hosts, host, f"systemctl show -P {name} pb-deployer").strip()
            for name in ("ActiveState", "Result")
        }
        assert state == {"ActiveState": "inactive", "Result": "success"}, "a clean stop"
        journal = on_host(target_hosts, host, "journalctl -u pb-deployer --no-pager -o cat")
        assert token not in journal and "pbd_" not in journal
    finally:
        target_hosts.reset_host(host)

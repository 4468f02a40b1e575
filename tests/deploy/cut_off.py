"""Cutting off a blue-green deploy at each of its steps, under a visitor polling the app.

The machinery of tests/deploy/test_deploy_{killed,cancelled}_at_each_step_on_hosts.py (one
file per way of cutting, so parallel test workers run them side by side).

The real service runs as a process against one real host. For each step of the role, a
deploy is started, and as soon as the task's events show the step beginning the service is
either killed (SIGKILL, then started again: the run is `interrupted`) or the deployment is
cancelled. The reconcile the service queues by itself then has to leave the host serving
exactly one complete release, with nothing of the cut-off run still running, and the
records saying what the host serves; the visitor never sees a failed request, and the next
deploy (the next step's, and a full one at the end) works.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.hosts import TargetHosts
from tests.hosts.harness import TargetHost
from tests.http_probe import Poller, get
from tests.roles.fixtures import build_zip
from tests.service_process import TOKEN_RE, free_port

STEPS = [
    "setup", "unpack", "shared", "pre_hooks", "start", "health",
    "switch", "verify", "post_hooks", "stop_old", "cleanup",
]  # fmt: skip
FINISHED = {"successful", "failed", "cancelled", "timeout", "interrupted"}
HOOK_STARTED = "/tmp/pbd-cut-hook-started"
# The pre_hooks round runs a hook that keeps running until something stops it.
LONG_HOOK = ["sh", "-c", f"touch {HOOK_STARTED}; exec sleep 300"]
ROOT = "/srv/apps/shop"
TIMEOUT = 600


class Service:
    """`python -m service serve` as a process, driven over HTTP with the bootstrap token."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.token: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.data_dir.parent / f"service-{self.starts}.log"
        venv_bin = str(Path(sys.executable).parent)
        env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--port", str(self.port),
                 "--data-dir", str(self.data_dir)],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, log.read_text()
            if self.token is None and (match := TOKEN_RE.search(log.read_text())):
                self.token = match.group(1)
            try:
                if self.token and self.request("GET", "/api/v1/health")[0] in (200, 503):
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def request(
        self, method: str, path: str, body: Any = None, *, data: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/zip"
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        status, reply = self.request(method, path, body, **kwargs)
        assert status in (200, 201, 202), (method, path, status, reply)
        return reply

    def wait_task(self, task_id: int) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while (task := self.ok("GET", f"/api/v1/tasks/{task_id}"))["status"] not in FINISHED:
            assert time.monotonic() < deadline, task
            time.sleep(0.2)
        return task

    def wait_step(self, task_id: int, step: str) -> None:
        """Return as soon as the task's stored events show the step beginning."""
        wanted = f"APP_DEPLOY | Enter step {step}"
        after, deadline = 0, time.monotonic() + TIMEOUT
        while True:
            page = self.ok("GET", f"/api/v1/tasks/{task_id}/events?after={after}")
            for item in page["items"]:
                event = item["event"]
                if event.get("event") == "playbook_on_task_start" and event.get("task") == wanted:
                    return
            assert not page["finished"], f"task {task_id} ended before step {step}"
            assert time.monotonic() < deadline, f"step {step} never began"
            after = page["last_seq"]
            time.sleep(0.05)


@dataclass
class Lab:
    harness: TargetHosts
    host: TargetHost
    service: Service
    app_id: int
    versions: dict[str, int]
    poller: Poller
    server_name: str
    timings: dict[str, float] = field(default_factory=dict)

    def ssh(self, command: str) -> str:
        proc = subprocess.run(
            [*self.harness.ssh_args(self.host), command],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        return proc.stdout.strip()

    def served_version(self) -> str:
        app = self.service.ok("GET", f"/api/v1/apps/{self.app_id}")
        return app["current_version"]

    def deploy(self, version: str, **options: Any) -> dict[str, Any]:
        body = {"version_id": self.versions[version], "strategy": "blue-green", **options}
        return self.service.ok("POST", f"/api/v1/apps/{self.app_id}/deploy", body)

    def other(self, version: str) -> str:
        return "2.0.0" if version == "1.0.0" else "1.0.0"

    def latest_reconcile(self) -> dict[str, Any] | None:
        path = f"/api/v1/tasks?app_id={self.app_id}&kind=reconcile&sort=-id&per_page=1"
        items = self.service.ok("GET", path)["items"]
        return items[0] if items else None


@contextmanager
def running_lab(
    target_hosts: TargetHosts, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    """One host with the app user and v1 live, the service running, a visitor polling."""
    target_hosts.ensure_running()
    host = target_hosts.hosts[-1]
    workdir = tmp_path_factory.mktemp("cut")
    service = Service(workdir / "data")
    service.start()
    poller: Poller | None = None
    try:
        server = service.ok(
            "POST", "/api/v1/servers",
            {"name": "cut-host", "host": host.ip, "port": host.port, "root_username": "root",
             "manual_key_path": str(target_hosts.private_key)},
        )  # fmt: skip
        user = service.ok("POST", f"/api/v1/servers/{server['id']}/setup/user")
        assert service.wait_task(user["task"]["id"])["status"] == "successful"
        app = service.ok(
            "POST", "/api/v1/apps",
            {"name": "shop", "server_id": server["id"], "remote_path": ROOT,
             "service_name": "shop"},
        )  # fmt: skip
        versions = {}
        for number in ("1.0.0", "2.0.0"):
            record = service.ok(
                "POST", "/api/v1/versions", {"app_id": app["id"], "version_number": number}
            )
            zip_bytes = build_zip(number, directory=workdir).read_bytes()
            service.ok("POST", f"/api/v1/versions/{record['id']}/upload", data=zip_bytes)
            versions[number] = record["id"]
        poller = Poller(host)
        lab = Lab(target_hosts, host, service, app["id"], versions, poller, server["name"])
        first = lab.deploy("1.0.0")
        assert service.wait_task(first["task"]["id"])["status"] == "successful"
        poller.start()
        yield lab
        if lab.timings:
            rounds = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in lab.timings.items())
            print(f"\ncut-off rounds: {rounds}")
    finally:
        if poller is not None and poller.is_alive():
            poller.stop()
        service.stop()
        target_hosts.reset_host(host)


def assert_host_serves_one_complete_release(lab: Lab) -> tuple[str, str, str]:
    """(slot, release id, version) the host serves, after checking that it is the only one
    that runs and that nothing of a cut-off run is left."""
    checks = {
        "live": "curl -fsS -H 'Host: localhost' http://127.0.0.1/.pb-deployer/live",
        "current": f"readlink {ROOT}/current",
        "live_marker": f"readlink {ROOT}/slots/live",
        "blue": f"readlink {ROOT}/slots/blue",
        "green": f"readlink {ROOT}/slots/green",
        "blue_unit": "systemctl is-active shop-blue.service",
        "green_unit": "systemctl is-active shop-green.service",
        "hook_unit": "systemctl is-active pbd-shop-hook.service",
        "revision": f"grep -h release_id= {ROOT}/current/REVISION",
        "version": f"grep -h version= {ROOT}/current/REVISION",
        "pending": f"ls -a {ROOT}/releases/*/.pbd-pending 2>/dev/null | wc -l",
        "hooks": "pgrep -fc 'slee[p] 300'",
    }
    script = "".join(f'echo "{key}=$({command})";' for key, command in checks.items())
    out = dict(line.split("=", 1) for line in lab.ssh(script).splitlines() if "=" in line)
    slot, release = out["live"].split()
    other = "green" if slot == "blue" else "blue"
    assert (out["current"], out["live_marker"]) == (f"releases/{release}", slot), out
    assert out[slot] == f"../releases/{release}", out
    assert (out[f"{slot}_unit"], out[f"{other}_unit"], out["hook_unit"]) == (
        "active", "inactive", "inactive"
    ), out  # fmt: skip
    assert out["revision"] == f"release_id={release}", out
    assert (out["pending"], out["hooks"]) == ("0", "0"), f"pending releases / hooks left: {out}"
    version = out["version"].removeprefix("version=")
    return slot, release, version


def cut_off_at(lab: Lab, cut: str, step: str) -> None:
    """Deploy, cut the run off (`kill` the service or `cancel`) when `step` begins, and check
    that the host serves one complete release, the records say so and no visitor failed."""
    began = time.monotonic()
    service = lab.service
    before_id = (lab.latest_reconcile() or {}).get("id")
    version = lab.other(lab.served_version())
    options = {"hooks": {"pre": [LONG_HOOK]}} if step == "pre_hooks" else {}
    lab.ssh(f"rm -f {HOOK_STARTED}")
    # Given a blue-green deploy of the other version, when its step begins
    accepted = lab.deploy(version, **options)
    task_id, deployment_id = accepted["task"]["id"], accepted["deployment"]["id"]
    service.wait_step(task_id, step)
    if step == "pre_hooks":
        deadline = time.monotonic() + 60
        while lab.ssh(f"test -e {HOOK_STARTED} && echo yes") != "yes":
            assert time.monotonic() < deadline, "the hook never started"
            time.sleep(0.1)
    # ... the service is killed (and started again), or the deployment is cancelled
    if cut == "kill":
        service.kill()
        service.start()
    else:
        service.ok("POST", f"/api/v1/deployments/{deployment_id}/cancel")
    assert service.wait_task(task_id)["status"] == ("interrupted" if cut == "kill" else "cancelled")
    # Then a reconcile is queued by itself and succeeds
    deadline = time.monotonic() + 60
    while (reconcile := lab.latest_reconcile()) is None or reconcile["id"] == before_id:
        assert time.monotonic() < deadline, "no reconcile was queued"
        time.sleep(0.1)
    assert service.wait_task(reconcile["id"])["status"] == "successful"
    # And the host serves exactly one complete release, with nothing of the run left running
    slot, release, served_version = assert_host_serves_one_complete_release(lab)
    status, body = get(lab.host)
    assert (status, body) == (200, f"version {served_version}")
    # And the records say what the host serves
    app = service.ok("GET", f"/api/v1/apps/{lab.app_id}")
    assert (app["current_version"], app["status"]) == (served_version, "running")
    deployment = service.ok("GET", f"/api/v1/deployments/{deployment_id}/status")["deployment"]
    assert deployment["host_results"][lab.server_name]["served"] == {
        "slot": slot, "release_id": release, "version": served_version,
    }  # fmt: skip
    went_live = release == deployment["release_id"]
    assert deployment["status"] == ("completed" if went_live else "failed" if cut == "kill"
                                    else "cancelled")  # fmt: skip
    # And no visitor request failed
    assert lab.poller.failures == []
    lab.timings[f"{cut} at {step}"] = time.monotonic() - began


def next_deploy_succeeds(lab: Lab) -> None:
    """After all the cut-off runs, a full deploy works with no failed request."""
    version = lab.other(lab.served_version())
    accepted = lab.deploy(version)
    assert lab.service.wait_task(accepted["task"]["id"])["status"] == "successful"
    assert assert_host_serves_one_complete_release(lab)[2] == version
    assert lab.served_version() == version
    lab.poller.stop()
    assert lab.poller.failures == []
    assert lab.poller.answers[f"version {version}"] > 0

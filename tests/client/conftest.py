"""The client commands run as a user runs them: `python -m service ...` processes talking to
a real service process over HTTP and WebSocket."""

import io
import json
import os
import re
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.service_process import PROJECT_DIR, service_in_thread


@dataclass
class Cli:
    """Runs `pb-deployer` with the service's URL and token in the environment."""

    url: str
    token: str
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_DIR),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "PBD_URL": self.url,
            "PBD_TOKEN": self.token,
        }
        env.update(extra)
        return {key: value for key, value in env.items() if value != ""}

    def __call__(
        self, *args: str, input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "service", *args],
            capture_output=True, text=True, timeout=180, check=False, input=input,
            env=self.env(**env), start_new_session=True,  # no terminal: getpass reads stdin
        )  # fmt: skip

    def json(self, *args: str) -> Any:
        result = self(*args, "-o", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def closed_port() -> int:
    """A loopback port nothing listens on: SSH to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bin/start", "#!/bin/sh\nexec sleep 1000\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def service_env() -> dict[str, str]:
    """By default an unreachable host fails its task at the first attempt, so tasks end fast."""
    return {"PBD_UNREACHABLE_ATTEMPTS": "1", "PBD_WORKERS": "2"}


@dataclass
class Service:
    url: str
    admin_token: str
    data_dir: Path


@pytest.fixture(scope="module")
def service(tmp_path_factory, service_env) -> Iterator[Service]:
    """One service process per test module."""
    data_dir = tmp_path_factory.mktemp("service")
    with service_in_thread(data_dir, extra_env=service_env) as (process, _):
        assert process.token, process.output
        yield Service(process.base_url, process.token, data_dir)


@pytest.fixture
def cli(service, tmp_path) -> Cli:
    return Cli(service.url, service.admin_token, tmp_path)


ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def in_terminal(cli: Cli, *args: str, timeout: float = 900) -> tuple[int, str]:
    """Run the command in a pseudo-terminal of 80x24: (exit code, what it drew, without
    its escape codes)."""
    child = pexpect.spawn(
        sys.executable, ["-m", "service", *args], env=cli.env(), dimensions=(24, 80),
        encoding="utf-8", timeout=timeout,
    )  # fmt: skip
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, ANSI_RE.sub("", child.before.replace("\r", ""))


def host_line(host: str, *, failed: int = 0, unreachable: int = 0) -> re.Pattern[str]:
    """The live view's line of one host: name, progress bar, ok, changed, failed, unreachable."""
    counts = rf"\s+\d+\s+\d+\s+{failed}\s+{unreachable}\s*$"
    return re.compile(rf"^{re.escape(host)}\s+[━╸╺]+{counts}", re.M)

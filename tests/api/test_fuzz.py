"""Property-based fuzzing of the whole API: schemathesis over the served OpenAPI document.

A real service process (`python -m service serve`) is fuzzed, every operation of
`/api/docs/openapi.json`, with its token. Each response must not be a 5xx, must have a
documented status code, content type, headers and body, and a success must really have
needed the token. Afterwards the service log must hold no traceback and every worker must
still be alive.

No traffic leaves the machine, whatever host or port a fuzzed server names: the service runs
with `ANSIBLE_SSH_ARGS` that send every SSH connection to 127.0.0.1 on a port this test holds
bound but never listens on. Ansible puts `ssh_args` before everything else it passes (the
server's port, the inventory's `ssh_common_args`) and ssh keeps the first value of each
option, so `HostName`, `Port` and `ProxyCommand=none` win over anything a request sets; the
host name is never resolved. A probe task proves the redirection before the fuzzing starts.

Reproducing a failure: every run fuzzes with a fixed seed and with a fresh random one, each
named in the test's id (`[seed_N][METHOD /path]`); `PBD_FUZZ_SEED=N` replaces the random one.
"""

import io
import os
import re
import secrets
import socket
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.api.openapi import API_PREFIX, build_openapi
from service.api.v1 import create_v1_app
from service.models.tasks import FINISHED_STATUSES
from tests.service_process import service_in_thread

FIXED_SEED = 20261201


def _random_seed() -> int:
    """PBD_FUZZ_SEED, or a fresh one per run: xdist workers must all collect the same test ids,
    so under xdist it comes from the run's id, which every worker of the run shares."""
    if os.environ.get("PBD_FUZZ_SEED"):
        return int(os.environ["PBD_FUZZ_SEED"])
    if run_id := os.environ.get("PYTEST_XDIST_TESTRUNUID"):
        return int(run_id, 16) % 2**64
    return secrets.randbits(64)


RANDOM_SEED = _random_seed()
DOCUMENT = build_openapi(create_v1_app())
MAX_EXAMPLES = 10
"""Per operation and seed; with the explicit examples and the coverage phase's boundary
cases this gives well over MIN_CASES in all."""
MIN_CASES = 1000
BUSY_TASKS = 4
TARGET_REFUSED = re.compile(
    r"connect to host 127\.0\.0\.1 port \d+: Connection refused"
    r"|Data could not be sent to remote host '[^']+'\. Make sure this host can be reached over SSH"
)
"""How Ansible reports the pinned target refusing SSH: with ssh's own message, or, when ssh
exits before Ansible has written the pipelined module to it (a loaded machine), as a write
to a closed pipe (`Data could not be sent ... Broken pipe`). Both are the unreachable host."""


def not_a_server_error_but_the_refused_target(
    ctx: CheckContext, response: Response, case: Any
) -> bool | None:
    """A 503 saying the pinned target refused SSH is the documented answer of a read that
    has to reach the host (`GET /services/...`); any other 5xx is a failure."""
    if response.status_code == 503 and TARGET_REFUSED.search(response.text):
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    not_a_server_error_but_the_refused_target,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
TRACEBACK = "Traceback (most recent call last)"


@dataclass
class FuzzedService:
    base_url: str
    token: str
    output: list[str]
    cases: dict[str, int] = field(default_factory=dict)

    @property
    def log(self) -> str:
        return "".join(self.output)


def _wait_for_task(session: requests.Session, url: str) -> dict[str, Any]:
    for _ in range(600):
        task = session.get(url, timeout=10).json()
        if task["status"] in FINISHED_STATUSES:
            return task
        time.sleep(0.1)
    raise AssertionError(f"{url} did not finish in 60 s")


def _assert_ssh_is_pinned(session: requests.Session, api: str, port: int) -> None:
    """A server at 127.0.0.2:22 must be tried at 127.0.0.1:<port>, or no fuzzing happens."""
    server = session.post(f"{api}/servers", json={"name": "target", "host": "127.0.0.2"}).json()
    accepted = session.post(f"{api}/servers/{server['id']}/test-connection").json()
    task = _wait_for_task(session, f"{api}/tasks/{accepted['task']['id']}")
    assert f"127.0.0.1 port {port}" in (task["error"] or ""), task


def _seed_records(session: requests.Session, api: str) -> None:
    """An app with an uploaded version on the probed server, so the low ids the fuzzer
    favours reach the handlers' real work (tasks, deploys, downloads), not only 404s."""
    app = {"name": "shop", "server_id": 1, "remote_path": "/srv/shop", "service_name": "shop"}
    assert session.post(f"{api}/apps", json=app).status_code == 201
    version = session.post(f"{api}/versions", json={"app_id": 1, "version_number": "1.0.0"})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("app.py", "print('hello')\n")
    upload = session.post(
        f"{api}/versions/{version.json()['id']}/upload",
        data=archive.getvalue(),
        headers={"Content-Type": "application/zip"},
    )
    assert upload.status_code == 201, upload.text


@pytest.fixture(scope="module")
def fuzzed_service(tmp_path_factory) -> Iterator[FuzzedService]:
    with socket.socket() as never_answers:
        never_answers.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = never_answers.getsockname()[1]
        env = {
            "ANSIBLE_SSH_ARGS": f"-o HostName=127.0.0.1 -o Port={port} -o ProxyCommand=none",
            "PBD_WORKERS": "2",
            "PBD_UNREACHABLE_ATTEMPTS": "1",
        }
        data_dir = Path(tmp_path_factory.mktemp("fuzz"))
        with service_in_thread(data_dir, extra_env=env) as (service, output):
            assert service.token, service.output
            fuzzed = FuzzedService(service.base_url, service.token, output)
            with requests.Session() as session:
                session.headers["Authorization"] = f"Bearer {service.token}"
                served = session.get(f"{service.base_url}/api/docs/openapi.json").json()
                assert served == DOCUMENT, "the fuzzed document must be the served one"
                api = f"{service.base_url}{API_PREFIX}"
                _assert_ssh_is_pinned(session, api, port)
                _seed_records(session, api)
            yield fuzzed


def _schema(seed: int, *, only_fuzzing: bool) -> Any:
    seed_independent = {"enabled": not only_fuzzing}
    config = SchemathesisConfig.from_dict(
        {
            "seed": seed,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"examples": seed_independent, "coverage": seed_independent},
            "request-timeout": 90,
        }
    )
    return schemathesis.openapi.from_dict(DOCUMENT, config=config)


# The fixed seed runs every phase; the schema's examples and the coverage phase's boundary
# cases do not depend on the seed, so the random seed only adds random fuzzing.
SCHEMAS = {
    f"seed_{FIXED_SEED}": _schema(FIXED_SEED, only_fuzzing=False),
    f"seed_{RANDOM_SEED}": _schema(RANDOM_SEED, only_fuzzing=True),
}


@pytest.fixture(scope="module")
def http(fuzzed_service: FuzzedService) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {fuzzed_service.token}"
        yield session


def _call_and_validate(case: Any, fuzzed_service: FuzzedService, http: requests.Session) -> None:
    """One case; a task it queued is cancelled at once, so the queue stays short and the
    reads that wait for their own run (`/services/...`) are not stuck behind hundreds."""
    label = case.operation.label
    fuzzed_service.cases[label] = fuzzed_service.cases.get(label, 0) + 1
    api = f"{fuzzed_service.base_url}{API_PREFIX}"
    response = case.call_and_validate(base_url=api, session=http, checks=CHECKS)
    queued = response.json().get("task") if response.status_code == 202 else None
    if queued:
        cancel = http.post(f"{api}/tasks/{queued['id']}/cancel", timeout=30)
        assert cancel.status_code in (202, 409), cancel.text


@schemathesis.pytest.parametrize(
    **{name: schema.exclude(method="DELETE") for name, schema in SCHEMAS.items()}
)
def test_every_operation_answers_as_documented(
    case: Any, fuzzed_service: FuzzedService, http: requests.Session
) -> None:
    _call_and_validate(case, fuzzed_service, http)


@pytest.fixture(scope="module")
def busy_target(fuzzed_service: FuzzedService, http: requests.Session) -> None:
    """Tasks left queued and running on the seeded server for the deletes to meet: deleting
    a server under its running task must not cost a worker."""
    for _ in range(BUSY_TASKS):
        reply = http.post(f"{fuzzed_service.base_url}{API_PREFIX}/servers/1/setup", json={})
        assert reply.status_code == 202, reply.text


@schemathesis.pytest.parametrize(
    **{name: schema.include(method="DELETE") for name, schema in SCHEMAS.items()}
)
def test_every_delete_answers_as_documented(
    case: Any, fuzzed_service: FuzzedService, http: requests.Session, busy_target: None
) -> None:
    """Last, so the seeded records stay for the other operations."""
    _call_and_validate(case, fuzzed_service, http)


def test_the_fuzzed_service_logged_no_traceback_and_kept_its_workers(
    fuzzed_service: FuzzedService,
) -> None:
    cases = sum(fuzzed_service.cases.values())
    print(f"{cases} cases over {len(fuzzed_service.cases)} operations")
    assert cases >= MIN_CASES, (
        f"only {cases} cases over {len(fuzzed_service.cases)} operations: run the whole module"
    )
    health = requests.get(f"{fuzzed_service.base_url}{API_PREFIX}/health", timeout=30).json()
    components = health.get("components") or health["error"]["details"]  # 200 or 503
    assert components["workers"]["alive"] == components["workers"]["expected"], components
    tracebacks = _tracebacks(fuzzed_service.log)
    assert not tracebacks, f"{len(tracebacks)} tracebacks in the service log:\n\n" + "\n\n".join(
        tracebacks
    )


def _tracebacks(log: str) -> list[str]:
    """Each traceback with the two log lines before it (which say what was being handled)."""
    lines = log.splitlines()
    return [
        "\n".join(lines[max(0, number - 2) : number + 40])
        for number, line in enumerate(lines)
        if line.startswith(TRACEBACK)
    ]

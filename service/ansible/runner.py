"""The only module that talks to ansible-runner.

One call, `run_playbook`, runs one playbook in ansible-runner's thread and bridges it to
asyncio: each event is handed to the event loop thread-safely (`on_event` runs on the loop),
cancel is polled every 0.1 s and kills the whole process tree, and the result is awaited
without tying up an executor thread. Every run gets a fresh private data dir (ansible-runner
keeps a reused dir's first envvars/extravars) that is deleted afterwards: the events live in
the database, and no key material is ever written there (keys are referenced by path).

Secret files (an app's environment) are written vault-encrypted under a password made for
the run, which reaches ansible-playbook only through its prompt (`--ask-vault-password`,
answered by ansible-runner from memory): nothing on disk opens them, and the play copies
them with `decrypt`, so their content is never templated either.

Extra vars are data, never templates: `run_playbook` writes them to env/extravars through
`service.ansible.variables` (every string marked unsafe) and never hands ansible-runner a
dict, whose inline `-e` JSON Ansible would trust. This is the only way variables reach a run.
"""

import asyncio
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
from ansible.constants import DEFAULT_VAULT_ID_MATCH
from ansible.parsing.vault import VaultLib, VaultSecret

from service.ansible import processes
from service.ansible.content import ANSIBLE_CONFIG, PLAYBOOKS_DIR, PROJECT_DIR
from service.ansible.variables import extravars_json, variable_name

log = logging.getLogger(__name__)

PLAYBOOKS = frozenset(path.name for path in PLAYBOOKS_DIR.glob("*.yml"))
"""The only playbooks the service will run: the files shipped in playbooks/."""


@dataclass(frozen=True)
class PlaybookSpec:
    playbook: str
    inventory: str
    extravars: Mapping[str, Any] = field(default_factory=dict)
    """Plain data (request, database, zip values): the runner marks every string unsafe."""
    limit: str | None = None
    forks: int | None = None
    """Hosts worked on at once (ansible-playbook --forks); None: Ansible's default, 5."""
    timeout: int | None = None
    envvars: Mapping[str, str] = field(default_factory=dict)
    secret_files: Mapping[str, str] = field(default_factory=dict)
    """Extravar name → secret file content: the variable holds the encrypted file's path."""


@dataclass
class RunResult:
    status: str
    """ansible-runner's final status: successful, failed, canceled or timeout."""
    rc: int | None
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    """playbook_on_stats per counter: {"ok": {host: n}, "failures": {...}, "dark": {...}}."""
    custom_stats: dict[str, Any] = field(default_factory=dict)
    """set_stats data (artifact_data of playbook_on_stats)."""

    def hosts_with(self, *counters: str) -> list[str]:
        return sorted({host for name in counters for host in self.stats.get(name, {})})


class RunControl:
    """Shared between the loop and the runner thread: the cancel flag and the playbook pid.

    The pid comes with the first event, which a loaded machine may deliver late, so a kill
    finds the run by its command line instead: it names the run's inventory (`marker`).
    """

    def __init__(self) -> None:
        self.cancel_requested = threading.Event()
        self.pid: int | None = None
        self.marker: str | None = None
        """A string only this run's ansible-playbook command line contains."""
        self.killed: list[int] = []

    def cancel(self) -> None:
        self.cancel_requested.set()

    def poll_cancel(self) -> bool:
        """ansible-runner's cancel_callback: on cancel, kill the tree before it kills the group.

        ansible-runner calls it only once ansible-playbook has been exec'd, so its command
        line can already be found.
        """
        if not self.cancel_requested.is_set():
            return False
        self.kill()
        return True

    def kill(self) -> None:
        """SIGKILL ansible-playbook and everything it forked, in whichever session."""
        if self.marker is not None:
            self.killed = processes.kill_runs(self.marker)


RUNNER_SETTINGS = {
    "pexpect_timeout": 0.1,
    "suppress_ansible_output": True,
    "suppress_output_file": True,
}
"""Poll cancel every 0.1 s (default 5 s); no console copy of the output, and no stdout or
stderr file in the artifacts (the events are stored; a settings file overrides the same
keyword argument)."""


VAULT_PROMPT = r"^Vault password:\s*$"


def _vault_secret_files(run_dir: Path, spec: PlaybookSpec, password: str) -> dict[str, str]:
    """Write each secret file vault-encrypted (0600); the extravars naming their paths."""
    if not spec.secret_files:
        return {}
    vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(password.encode()))])
    directory = run_dir / "secrets"
    directory.mkdir(mode=0o700, parents=True)
    paths = {}
    for name, content in spec.secret_files.items():
        path = directory / variable_name(name)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(vault.encrypt(content.encode()))
        paths[name] = str(path)
    return paths


def _prepare_run_dir(run_dir: Path, spec: PlaybookSpec, vault_password: str) -> Path:
    """Write the inventory, env/settings, env/extravars and the secret files; return the
    inventory's path.

    The settings go in a file: ansible-runner 2.4 drops a `settings=` argument when the
    private data dir has no env/settings file (its loader error resets them to {}). The
    extra vars go in env/extravars, which ansible-runner passes as `-e @file`.
    """
    path = run_dir / "inventory" / "hosts.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec.inventory)
    env = run_dir / "env"
    env.mkdir(exist_ok=True)
    (env / "settings").write_text(json.dumps(RUNNER_SETTINGS))
    secret_paths = _vault_secret_files(run_dir, spec, vault_password)
    (env / "extravars").write_text(extravars_json({**spec.extravars, **secret_paths}))
    return path


async def run_playbook(
    spec: PlaybookSpec,
    run_dir: Path,
    on_event: Callable[[dict[str, Any]], None],
    control: RunControl | None = None,
) -> RunResult:
    """Run `spec` with `run_dir` as ansible-runner's private data dir; remove it afterwards."""
    if spec.playbook not in PLAYBOOKS:
        raise ValueError(f"unknown playbook {spec.playbook!r}")
    control = control or RunControl()
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    result = RunResult(status="failed", rc=None)

    def event_handler(event: dict[str, Any]) -> bool:
        if control.pid is None and event.get("pid"):
            control.pid = int(event["pid"])
        if event.get("event") == "playbook_on_stats":
            data = event.get("event_data", {})
            result.stats = {
                name: data.get(name) or {}
                for name in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")
            }
            result.custom_stats = data.get("artifact_data") or {}
        loop.call_soon_threadsafe(on_event, event)
        return False  # stored by the service, not as job_events files

    envvars = {"ANSIBLE_CONFIG": str(ANSIBLE_CONFIG), **spec.envvars}
    vault_password = secrets.token_urlsafe(32)
    vault = {"cmdline": "--ask-vault-password", "passwords": {VAULT_PROMPT: vault_password}}
    try:
        inventory_path = _prepare_run_dir(run_dir, spec, vault_password)
        control.marker = str(inventory_path)
        thread, runner = ansible_runner.run_async(
            private_data_dir=str(run_dir),
            project_dir=str(PROJECT_DIR),
            playbook=str(PLAYBOOKS_DIR / spec.playbook),
            inventory=str(inventory_path),
            envvars=envvars,
            limit=spec.limit,
            forks=spec.forks,
            timeout=spec.timeout,
            quiet=True,
            suppress_env_files=True,
            event_handler=event_handler,
            cancel_callback=control.poll_cancel,
            **(vault if spec.secret_files else {}),
        )

        def wait_for_runner() -> None:
            thread.join()
            loop.call_soon_threadsafe(finished.set_result, None)

        threading.Thread(target=wait_for_runner, name="runner-wait", daemon=True).start()
        try:
            await asyncio.shield(finished)
        except asyncio.CancelledError:
            # The service is shutting down: stop the run rather than orphan it.
            control.cancel()
            await finished
            raise
        result.status, result.rc = runner.status, runner.rc
    finally:
        control.kill()  # forks that outlived ansible-playbook (a timeout, a crash of the runner)
        shutil.rmtree(run_dir, ignore_errors=True)
    return result

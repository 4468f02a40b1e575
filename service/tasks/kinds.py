"""What each kind of task runs: its playbook, its variables and what its result changes.

A kind's `prepare` turns a task into extravars (plain validated values: `run_playbook` marks
every string unsafe, so Ansible never templates them) for the task's servers (the primary
one first), and `host_vars` gives each server its own values (inventory host variables,
which extravars would override: a value that differs per server must be only there). One
task may run one playbook over many servers, so `finish` records each host's real outcome
on its own server (connection facts, `setup_complete`, `security_locked`, an audit report,
a deployment's result); `status_changed` follows each status change.
"""

import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.ansible.inventory import connection_vars
from service.ansible.runner import RunResult
from service.ansible.sshkeys import public_key_of
from service.config import Settings
from service.domain import security_audits, unit_status
from service.domain import services as unit_services
from service.models import Server, Task, TaskKind
from service.storage.secrets import SecretBox
from service.tasks import deploy

Prepare = Callable[[Task, list[Server], Settings, str], dict[str, Any]]
HostVars = Callable[[Task, list[Server], Settings, str], dict[int, dict[str, Any]]]
Hook = Callable[[Task], Awaitable[None]]
Finish = Callable[[Task, list[Server], RunResult, dict[str, Any]], Awaitable[None]]
FollowUp = Callable[[Task], Awaitable[tuple[TaskKind, dict[str, Any]] | None]]
Notices = Callable[[Task], list[tuple[str, dict[str, Any]]]]
SecretFiles = Callable[[Task, SecretBox], Awaitable[dict[str, str]]]


@dataclass(frozen=True)
class KindSpec:
    playbook: str
    prepare: Prepare
    finish: Finish | None = None
    host_vars: HostVars | None = None
    status_changed: Hook | None = None
    """Called after every status change (queued, running, finished, cancelled, interrupted)."""
    retry_unreachable: bool = True
    """Run again (up to the configured attempts) when hosts were unreachable; a failed task
    is never retried on its own, and neither are deploys or service actions."""
    after_cut: FollowUp | None = None
    """After a run was cut off (cancelled or interrupted): the kind and params of a task to
    queue on the same servers, e.g. the host-side cleanup that a killed run could not do."""
    notices: Notices | None = None
    """Named notices (event, payload) a finished task announces once its status is stored."""
    secret_files: SecretFiles | None = None
    """Files with secrets the run needs (extravar → content), decrypted just before it."""
    playbook_of: Callable[[Task], str] | None = None
    """The playbook for this task, when it depends on the task (else `playbook`)."""
    concurrent: Callable[[Task], bool] | None = None
    """True for a task that only reads: it neither waits for nor holds its servers, so it
    runs beside whatever else runs there (a deploy, say) and nothing waits for it."""

    def playbook_for(self, task: Task) -> str:
        return self.playbook_of(task) if self.playbook_of is not None else self.playbook


def host_report(result: RunResult, key: str, server: Server) -> Any:
    """This server's entry of a playbook's set_stats report (keyed by inventory name)."""
    return (result.custom_stats.get(key) or {}).get(server.name)


def host_entry(summary: dict[str, Any], server: Server) -> dict[str, Any]:
    """This server's part of the task's result (`hosts`, keyed by inventory name)."""
    return summary["hosts"].get(server.name) or {}


def host_ok(summary: dict[str, Any], server: Server) -> bool:
    """The play ran to its end on this server without a failure."""
    return host_entry(summary, server).get("outcome") == "ok"


def per_server(
    values: Callable[[Task, Server, Settings, str], dict[str, Any]],
) -> HostVars:
    """Host variables from a function of one server."""

    def host_vars(
        task: Task, servers: list[Server], settings: Settings, public_key: str
    ) -> dict[int, dict[str, Any]]:
        return {server.id: values(task, server, settings, public_key) for server in servers}

    return host_vars


def no_vars(
    task: Task, servers: list[Server], settings: Settings, public_key: str
) -> dict[str, Any]:
    return {}


async def finish_connection_test(
    task: Task, servers: list[Server], result: RunResult, summary: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    for server in servers:
        if not host_entry(summary, server):
            continue  # outside a retry's limit: its last test stands
        server.last_connection_ok = host_ok(summary, server)
        server.last_connection_at = now
        error = host_entry(summary, server).get("error") or task.error
        server.last_connection_error = None if server.last_connection_ok else error
        facts = host_report(result, "ping", server)
        if facts:
            server.facts = facts
        await server.save(
            update_fields=[
                "last_connection_ok",
                "last_connection_at",
                "last_connection_error",
                "facts",
            ]
        )


def setup_vars(
    task: Task, servers: list[Server], settings: Settings, public_key: str
) -> dict[str, Any]:
    """What the run installs on every server: the parts asked for and the packages."""
    part = task.params.get("part", "all")
    return {
        "app_user_authorized_keys_exclusive": True,
        "app_user_enabled": part in ("all", "user"),
        "packages_enabled": part in ("all", "packages"),
        "packages_dist_upgrade": bool(task.params.get("upgrade")),
        **({"packages_extra": task.params["packages"]} if task.params.get("packages") else {}),
    }


def agent_public_keys() -> list[str]:
    """The public keys of the service's ssh-agent (SSH_AUTH_SOCK), which an agent server's
    connection offers; none when there is no agent or it holds no key."""
    program = shutil.which("ssh-add")
    if program is None or not os.environ.get("SSH_AUTH_SOCK"):
        return []
    try:
        listed = subprocess.run(  # noqa: S603 -- fixed program, argv list, no shell
            [program, "-L"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return []
    if listed.returncode != 0:
        return []
    # "type base64" only: the comment is a path on this machine (the role checks the rest).
    return [" ".join(line.split()[:2]) for line in listed.stdout.splitlines() if line.strip()]


def setup_host_vars(
    task: Task, servers: list[Server], settings: Settings, public_key: str
) -> dict[int, dict[str, Any]]:
    """The app user gets exactly the keys the service connects with (so it can connect after
    lockdown: its own, the server's manual key, or the ssh-agent's) plus any extra keys.
    The ssh-agent is asked once for all the servers that use it.

    Exclusive: the service's run decides the whole key set (a run by hand adds keys)."""
    by_agent = any(server.use_ssh_agent and not server.manual_key_path for server in servers)
    agent_keys = agent_public_keys() if by_agent else []
    extra = task.params.get("authorized_keys", [])
    host_vars = {}
    for server in servers:
        keys = [public_key]
        if server.manual_key_path:
            manual = public_key_of(Path(server.manual_key_path))
            if manual:
                keys.append(manual)
        elif server.use_ssh_agent:
            keys.extend(agent_keys)
        host_vars[server.id] = {"app_user_authorized_keys": [*keys, *extra]}
    return host_vars


async def finish_setup(
    task: Task, servers: list[Server], result: RunResult, summary: dict[str, Any]
) -> None:
    if task.params.get("part", "all") not in ("all", "user"):
        return
    for server in servers:
        if host_ok(summary, server):
            server.setup_complete = True
            await server.save(update_fields=["setup_complete"])


def lockdown_vars(
    task: Task, servers: list[Server], settings: Settings, public_key: str
) -> dict[str, Any]:
    return {"firewall_allowed_ports": task.params.get("allowed_ports", [])}


@per_server
def lockdown_host_vars(task: Task, server: Server, settings: Settings, public_key: str) -> dict:
    """The lockout guard's login is the one the service makes after lockdown: the app user,
    the same key file (none: the ssh-agent) and the service's own known_hosts."""
    connection = connection_vars(server, settings)
    return {
        "ssh_hardening_app_user": server.app_username,
        "ssh_hardening_access_host": server.host,
        "ssh_hardening_access_port": server.port,
        "ssh_hardening_access_user": server.app_username,
        "ssh_hardening_access_key_file": connection.get("ansible_ssh_private_key_file", ""),
        "ssh_hardening_access_known_hosts_file": str(settings.known_hosts_path.absolute()),
        "firewall_ssh_port": server.port,
    }


async def finish_lockdown(
    task: Task, servers: list[Server], result: RunResult, summary: dict[str, Any]
) -> None:
    for server in servers:
        if host_ok(summary, server):
            server.security_locked = True
            await server.save(update_fields=["security_locked"])


@per_server
def audit_host_vars(task: Task, server: Server, settings: Settings, public_key: str) -> dict:
    return {"audit_ssh_port": server.port, "audit_expected_allow_users": [server.app_username]}


async def finish_audit(
    task: Task, servers: list[Server], result: RunResult, summary: dict[str, Any]
) -> None:
    """Each host's report goes into its part of the result and its server's audit history;
    when a finding that passed before fails now (or the score dropped), that part names the
    drift. `report` and `drift` at the top are the primary server's (one-server tasks)."""
    now = datetime.now(UTC)
    for server in servers:
        entry = host_entry(summary, server)
        report = host_report(result, "audit", server)
        if not entry or not report:
            continue
        entry["report"] = report
        if host_ok(summary, server):
            record = await security_audits.record_report(task, server, report, now)
            if record.drift is not None:
                entry["drift"] = record.drift
    primary = host_entry(summary, servers[0])
    summary["report"] = primary.get("report")
    if "drift" in primary:
        summary["drift"] = primary["drift"]


def audit_notices(task: Task) -> list[tuple[str, dict[str, Any]]]:
    """One `audit.drift` per server whose audit got worse."""
    hosts = (task.result or {}).get("hosts") or {}
    return [
        ("audit.drift", {"server_id": entry["server_id"], "task_id": task.id, **entry["drift"]})
        for entry in hosts.values()
        if entry.get("drift") is not None
    ]


def service_vars(
    task: Task, servers: list[Server], settings: Settings, public_key: str
) -> dict[str, Any]:
    params = task.params
    variables = {"app_service_name": params["service_name"], "app_service_action": params["action"]}
    if "lines" in params:
        variables["app_service_log_lines"] = params["lines"]
    if params.get("since"):
        variables["app_service_log_since"] = params["since"]
    return variables


SERVICE_READS = frozenset({"status", "logs"})
"""Service actions that only read: they run the fast read play, beside other tasks."""


def is_service_read(task: Task) -> bool:
    return task.params.get("action") in SERVICE_READS


def service_playbook(task: Task) -> str:
    return "service_read.yml" if is_service_read(task) else "service.yml"


async def finish_service(
    task: Task, servers: list[Server], result: RunResult, summary: dict[str, Any]
) -> None:
    """The unit's state (and journal) into the result, and the state kept as the unit's last
    known one (what `GET /services/{id}` lists)."""
    server = servers[0]
    output = host_report(result, "service_read", server)
    if isinstance(output, str):
        params = task.params
        summary.update(
            unit_status.parse_read(
                output, params["service_name"], int(params.get("lines", 100)), params.get("since")
            )
        )
    else:
        summary["status"] = host_report(result, "service_status", server)
        logs = host_report(result, "service_logs", server)
        if logs is not None:
            summary["logs"] = logs
    if result.status == "successful" and summary.get("status"):
        summary["checked_at"] = datetime.now(UTC).isoformat()
        await unit_services.record_status(
            server.id,
            summary["status"].get("unit") or task.params["service_name"],
            summary["status"],
            datetime.fromisoformat(summary["checked_at"]),
            task.id,
        )


KINDS: dict[TaskKind, KindSpec] = {
    TaskKind.DEPLOY: KindSpec(
        "deploy.yml",
        deploy.deploy_vars,
        deploy.record_hosts,
        host_vars=deploy.app_user_vars,
        status_changed=deploy.follow_deployment,
        retry_unreachable=False,
        after_cut=deploy.reconcile_after_cut,
        secret_files=deploy.secret_files,
        notices=deploy.certificate_notices,
    ),
    TaskKind.ROLLBACK: KindSpec(
        "rollback.yml",
        deploy.rollback_vars,
        deploy.record_hosts,
        host_vars=deploy.app_user_vars,
        status_changed=deploy.follow_deployment,
        retry_unreachable=False,
        after_cut=deploy.reconcile_after_cut,
    ),
    TaskKind.RECONCILE: KindSpec(
        "reconcile.yml",
        deploy.reconcile_vars,
        deploy.record_reconcile,
        host_vars=deploy.app_user_vars,
    ),
    TaskKind.RESTART: KindSpec(
        "restart.yml",
        deploy.reconcile_vars,  # the app's own variables: nothing new is deployed
        deploy.record_restart,
        host_vars=deploy.app_user_vars,
        retry_unreachable=False,
        secret_files=deploy.environment_file,
    ),
    TaskKind.CONNECTION_TEST: KindSpec("ping.yml", no_vars, finish_connection_test),
    TaskKind.SETUP: KindSpec("setup.yml", setup_vars, finish_setup, host_vars=setup_host_vars),
    TaskKind.PACKAGES: KindSpec("setup.yml", setup_vars, finish_setup, host_vars=setup_host_vars),
    TaskKind.LOCKDOWN: KindSpec(
        "lockdown.yml", lockdown_vars, finish_lockdown, host_vars=lockdown_host_vars
    ),
    TaskKind.AUDIT: KindSpec(
        "audit.yml", no_vars, finish_audit, host_vars=audit_host_vars, notices=audit_notices
    ),
    TaskKind.SERVICE: KindSpec(
        "service.yml",
        service_vars,
        finish_service,
        retry_unreachable=False,
        playbook_of=service_playbook,
        concurrent=is_service_read,
    ),
}

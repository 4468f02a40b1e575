"""The client command groups of `pb-deployer`: nouns and verbs over the REST API.

`register(commands)` adds them to the CLI's subparsers; each leaf sets `client=HANDLER`, an
`async (Client, args) -> exit code`, which `run(args)` calls inside one HTTP session.
Exit codes: 0 done, 1 failed (or the service refused), 2 cancelled/interrupted/timeout,
3 usage or connection error.
"""

import argparse
import asyncio
import getpass
import signal
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from service.client import resolve
from service.client.follow import follow
from service.client.http import Client, ClientFailure, UsageError
from service.client.output import FORMATS, Column, emit, field
from service.client.profiles import (
    DEFAULT_PROFILE,
    load_profiles,
    profiles_file,
    save_profiles,
)
from service.client.profiles import (
    resolve as resolve_connection,
)
from service.client.upload import push

Handler = Callable[[Client, argparse.Namespace], Awaitable[int]]
USAGE_EXIT = 3

SERVER_COLUMNS = [
    field("ID"),
    field("NAME"),
    field("HOST"),
    field("PORT"),
    field("SETUP", "setup_complete"),
    field("LOCKED", "security_locked"),
    field("REACHABLE", "last_connection_ok"),
]
GROUP_COLUMNS = [
    field("ID"),
    field("NAME"),
    field("SERVERS", "server_ids"),
    field("DESCRIPTION"),
]
APP_COLUMNS = [
    field("ID"),
    field("NAME"),
    field("SERVER", "server_id"),
    field("STATUS"),
    field("VERSION", "current_version"),
    field("DOMAIN"),
]
VERSION_COLUMNS = [
    field("ID"),
    field("VERSION", "version_number"),
    field("SIZE", "size_bytes"),
    Column("SHA256", lambda version: (version.get("sha256") or "-")[:12]),
    Column("UPLOADED", lambda version: _time(version.get("uploaded_at"))),
]
TASK_COLUMNS = [
    field("ID"),
    field("KIND"),
    field("STATUS"),
    field("SERVERS", "server_ids"),
    field("APP", "app_id"),
    field("TRIES", "attempts"),
    Column("CREATED", lambda task: _time(task.get("created"))),
]
DEPLOYMENT_COLUMNS = [
    field("ID"),
    field("APP", "app_id"),
    field("VERSION", "version_id"),
    field("KIND"),
    field("STATUS"),
    field("STRATEGY"),
    field("STEP", "current_step"),
    Column("CREATED", lambda deployment: _time(deployment.get("created"))),
]
FINDING_COLUMNS = [
    Column("RESULT", lambda finding: "pass" if finding.get("passed") else "FAIL"),
    field("SEVERITY"),
    Column("ID", lambda finding: finding.get("control") or finding.get("id")),
    field("TITLE"),
]
SERVICE_COLUMNS = [
    field("APP", "app_id"),
    field("SERVICE", "service_name"),
    field("UNIT"),
    Column("ACTIVE", lambda entry: (entry.get("status") or {}).get("active_state")),
    Column("SUB", lambda entry: (entry.get("status") or {}).get("sub_state")),
]


def _time(value: str | None) -> str | None:
    """ISO timestamps shortened to the minute for tables."""
    return value[:16].replace("T", " ") if value else None


# Connecting


async def login(args: argparse.Namespace) -> int:
    """Ask for the token without echo, prove it against the service, save the profile."""
    token = getpass.getpass(f"API token for {args.url}: ").strip()
    async with Client(args.url, token) as api:
        await api.get("/servers", per_page=1)
    profiles = load_profiles()
    profiles[args.profile] = {"url": api.url, "token": token}
    path = save_profiles(profiles)
    print(f"Logged in to {api.url}; saved as profile {args.profile!r} in {path}.")
    return 0


async def logout(args: argparse.Namespace) -> int:
    profiles = load_profiles()
    if profiles.pop(args.profile, None) is None:
        raise UsageError(f"no profile {args.profile!r} in {profiles_file()}")
    save_profiles(profiles)
    print(f"Removed profile {args.profile!r}.")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a client command and turn its failure into a message and an exit code."""
    try:
        if args.client in (login, logout):
            return asyncio.run(args.client(args))
        connection = resolve_connection(args.url, args.token, args.profile)

        async def session() -> int:
            async with Client(connection.url, connection.token) as api:
                return await args.client(api, args)

        return asyncio.run(session())
    except ClientFailure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return failure.exit_code
    except KeyboardInterrupt:
        return 2


# Output of task-starting commands


async def _started(api: Client, args: argparse.Namespace, accepted: dict[str, Any]) -> int:
    """A queued task: follow it to its end, or say how to."""
    task = accepted["task"]
    if getattr(args, "follow", False):
        return await follow(api, task["id"], cancel_on_interrupt=args.cancel_on_interrupt)
    if args.output == "table":
        print(
            f"task {task['id']} ({task['kind']}) {task['status']}; "
            f"follow it with `pb-deployer tasks watch {task['id']}`"
        )
    else:
        emit(accepted, args.output)
    return 0


# Servers


def _server_fields(args: argparse.Namespace) -> dict[str, Any]:
    values = {
        "host": args.host,
        "port": args.port,
        "root_username": args.root_user,
        "app_username": args.app_user,
        "manual_key_path": args.key,
        "use_ssh_agent": args.ssh_agent,
    }
    return {key: value for key, value in values.items() if value is not None}


async def servers_list(api: Client, args: argparse.Namespace) -> int:
    emit([server async for server in api.all_pages("/servers")], args.output, SERVER_COLUMNS)
    return 0


async def servers_show(api: Client, args: argparse.Namespace) -> int:
    emit(await resolve.server(api, args.server), args.output)
    return 0


async def servers_add(api: Client, args: argparse.Namespace) -> int:
    emit(await api.post("/servers", {"name": args.name, **_server_fields(args)}), args.output)
    return 0


async def servers_edit(api: Client, args: argparse.Namespace) -> int:
    changes = _server_fields(args) | ({"name": args.rename} if args.rename else {})
    if not changes:
        raise UsageError("nothing to change: give at least one option")
    server = await resolve.server_id(api, args.server)
    emit(await api.patch(f"/servers/{server}", changes), args.output)
    return 0


async def servers_rm(api: Client, args: argparse.Namespace) -> int:
    server = await resolve.server_id(api, args.server)
    await api.delete(f"/servers/{server}", cascade=args.cascade, cancel_tasks=args.cancel_tasks)
    print(f"Deleted server {args.server}.")
    return 0


def _server_operation(path: str) -> Handler:
    """`servers test|setup|lockdown NAME...`: start the task (one over all the servers named),
    then follow or report it."""

    async def start(api: Client, args: argparse.Namespace) -> int:
        if bool(args.servers) == (args.group is not None):
            raise UsageError("name the servers, or a group with --group (not both)")
        if args.group is not None:
            group = await resolve.group_id(api, args.group)
            return await _started(api, args, await api.post(f"/servers{path}", {"group_id": group}))
        ids = [await resolve.server_id(api, server) for server in args.servers]
        if len(ids) == 1:
            return await _started(api, args, await api.post(f"/servers/{ids[0]}{path}"))
        return await _started(api, args, await api.post(f"/servers{path}", {"server_ids": ids}))

    return start


async def groups_list(api: Client, args: argparse.Namespace) -> int:
    emit([g async for g in api.all_pages("/server-groups")], args.output, GROUP_COLUMNS)
    return 0


async def _server_list(api: Client, names: str) -> list[int]:
    """`a,b,c` (names or ids) as server ids; an empty text is no server."""
    return [await resolve.server_id(api, name.strip()) for name in names.split(",") if name.strip()]


async def groups_add(api: Client, args: argparse.Namespace) -> int:
    group = {"name": args.name, "description": args.description or ""}
    group["server_ids"] = await _server_list(api, args.servers or "")
    emit(await api.post("/server-groups", group), args.output)
    return 0


async def groups_edit(api: Client, args: argparse.Namespace) -> int:
    """Rename, describe, or replace the servers (`--servers a,b`; `--servers ""` empties it)."""
    group = await resolve.group_id(api, args.group)
    changes: dict[str, Any] = {}
    if args.rename:
        changes["name"] = args.rename
    if args.description is not None:
        changes["description"] = args.description
    if args.servers is not None:
        changes["server_ids"] = await _server_list(api, args.servers)
    emit(await api.patch(f"/server-groups/{group}", changes), args.output)
    return 0


async def groups_rm(api: Client, args: argparse.Namespace) -> int:
    await api.delete(f"/server-groups/{await resolve.group_id(api, args.group)}")
    print(f"Deleted group {args.group} (its servers stay).")
    return 0


async def servers_audit(api: Client, args: argparse.Namespace) -> int:
    """Run an audit (unless `--last`), then print the findings when there are any to show."""
    server = await resolve.server_id(api, args.server)
    code = 0
    if not args.last:
        accepted = await api.post(f"/servers/{server}/security/audit")
        code = await _started(api, args, accepted)
        if not args.follow:
            return code
    audit = await api.get(f"/servers/{server}/security/audit")
    report = audit["report"]
    if args.output != "table":
        emit(audit, args.output)
        return code
    emit(report.get("findings", []), "table", FINDING_COLUMNS)
    print(
        f"score {report.get('score')}: {report.get('passed')} passed, {report.get('failed')} failed"
    )
    return code


# Apps


def _app_fields(args: argparse.Namespace) -> dict[str, Any]:
    values = {
        "remote_path": args.path,
        "service_name": args.service,
        "domain": args.domain,
    }
    return {key: value for key, value in values.items() if value is not None}


async def apps_list(api: Client, args: argparse.Namespace) -> int:
    emit([app async for app in api.all_pages("/apps")], args.output, APP_COLUMNS)
    return 0


async def apps_show(api: Client, args: argparse.Namespace) -> int:
    emit(await resolve.app(api, args.app), args.output)
    return 0


async def apps_add(api: Client, args: argparse.Namespace) -> int:
    server = await resolve.server_id(api, args.server)
    body = {"name": args.name, "server_id": server, **_app_fields(args)}
    emit(await api.post("/apps", body), args.output)
    return 0


async def apps_edit(api: Client, args: argparse.Namespace) -> int:
    changes = _app_fields(args) | ({"name": args.rename} if args.rename else {})
    if args.server:
        changes["server_id"] = await resolve.server_id(api, args.server)
    if not changes:
        raise UsageError("nothing to change: give at least one option")
    app = await resolve.app_id(api, args.app)
    emit(await api.patch(f"/apps/{app}", changes), args.output)
    return 0


async def apps_rm(api: Client, args: argparse.Namespace) -> int:
    app = await resolve.app_id(api, args.app)
    await api.delete(f"/apps/{app}", cancel_tasks=args.cancel_tasks)
    print(f"Deleted app {args.app}.")
    return 0


async def apps_servers(api: Client, args: argparse.Namespace) -> int:
    """The servers the app runs on besides its own; `--set a,b` replaces the whole list."""
    app = await resolve.app_id(api, args.app)
    if args.set is not None:
        body = await api.put(
            f"/apps/{app}/servers", {"server_ids": await _server_list(api, args.set)}
        )
    else:
        body = await api.get(f"/apps/{app}/servers")
    emit(body, args.output)
    return 0


# Versions, deployments


async def versions_list(api: Client, args: argparse.Namespace) -> int:
    app = await resolve.app_id(api, args.app)
    versions = [version async for version in api.all_pages("/versions", app_id=app)]
    emit(versions, args.output, VERSION_COLUMNS)
    return 0


async def versions_push(api: Client, args: argparse.Namespace) -> int:
    """Create the version if the app has none of that number, then upload its zip."""
    app = await resolve.app_id(api, args.app)
    version = await resolve.find_version(api, app, args.version)
    if version is None:
        body = {"app_id": app, "version_number": args.version, "notes": args.notes}
        version = await api.post("/versions", body)
    emit(await push(api, version["id"], Path(args.path)), args.output)
    return 0


async def deploy(api: Client, args: argparse.Namespace) -> int:
    app = await resolve.app_id(api, args.app)
    version = await resolve.version(api, app, args.version)
    body: dict[str, Any] = {"version_id": version["id"], "strategy": args.strategy}
    if args.batch_size is not None:
        body["batch_size"] = args.batch_size
    return await _deployment_started(api, args, await api.post(f"/apps/{app}/deploy", body))


async def rollback(api: Client, args: argparse.Namespace) -> int:
    app = await resolve.app_id(api, args.app)
    body = {"version_id": (await resolve.version(api, app, args.to))["id"]} if args.to else {}
    return await _deployment_started(api, args, await api.post(f"/apps/{app}/rollback", body))


async def _deployment_started(api: Client, args: argparse.Namespace, accepted: dict) -> int:
    if args.output == "table" or args.follow:
        deployment = accepted["deployment"]
        print(f"deployment {deployment['id']} ({deployment['kind']})", file=sys.stderr)
    return await _started(api, args, accepted)


async def deployments_list(api: Client, args: argparse.Namespace) -> int:
    app = await resolve.app_id(api, args.app) if args.app else None
    body = await api.get("/deployments", app_id=app, status=args.status, per_page=args.limit)
    emit(body["items"], args.output, DEPLOYMENT_COLUMNS)
    return 0


async def deployments_show(api: Client, args: argparse.Namespace) -> int:
    body = await api.get(f"/deployments/{args.id}/status")
    if args.output != "table":
        emit(body, args.output)
        return 0
    deployment = {key: value for key, value in body["deployment"].items() if key != "logs"}
    emit(deployment, "table")
    for line in body["logs"]:
        print(line)
    return 0


async def deployments_stats(api: Client, args: argparse.Namespace) -> int:
    app = await resolve.app_id(api, args.app) if args.app else None
    body = await api.get("/deployments/stats", app_id=app)
    if args.output != "table":
        emit(body, args.output)
        return 0
    rows = [{"window": name, **figures} for name, figures in body["windows"].items()]
    columns = [
        field("WINDOW"),
        field("TOTAL"),
        Column("COMPLETED", lambda row: row["by_status"].get("completed")),
        Column("FAILED", lambda row: row["by_status"].get("failed")),
        field("SUCCESS", "success_rate"),
        field("MEDIAN S", "median_duration_s"),
        field("P95 S", "p95_duration_s"),
    ]
    emit(rows, "table", columns)
    return 0


# Tasks


async def tasks_list(api: Client, args: argparse.Namespace) -> int:
    server = await resolve.server_id(api, args.server) if args.server else None
    app = await resolve.app_id(api, args.app) if args.app else None
    body = await api.get(
        "/tasks",
        status=args.status,
        kind=args.kind,
        server_id=server,
        app_id=app,
        per_page=args.limit,
    )
    emit(body["items"], args.output, TASK_COLUMNS)
    return 0


async def tasks_show(api: Client, args: argparse.Namespace) -> int:
    emit(await api.get(f"/tasks/{args.id}"), args.output)
    return 0


async def tasks_watch(api: Client, args: argparse.Namespace) -> int:
    return await follow(api, args.id, cancel_on_interrupt=args.cancel_on_interrupt)


async def tasks_cancel(api: Client, args: argparse.Namespace) -> int:
    emit(await api.post(f"/tasks/{args.id}/cancel"), args.output)
    return 0


async def tasks_retry(api: Client, args: argparse.Namespace) -> int:
    body = {"failed_hosts_only": args.failed_hosts_only}
    return await _started(api, args, await api.post(f"/tasks/{args.id}/retry", body))


# Services


async def services_list(api: Client, args: argparse.Namespace) -> int:
    server = await resolve.server_id(api, args.server)
    body = await api.get(f"/services/{server}")
    emit(body if args.output != "table" else body["items"], args.output, SERVICE_COLUMNS)
    return 0


async def services_status(api: Client, args: argparse.Namespace) -> int:
    server = await resolve.server_id(api, args.server)
    body = await api.get(f"/services/{server}/{args.unit}")
    emit(body if args.output != "table" else body["status"], args.output)
    return 0


async def services_action(api: Client, args: argparse.Namespace) -> int:
    server = await resolve.server_id(api, args.server)
    accepted = await api.post(f"/services/{server}/{args.unit}", {"action": args.action})
    return await _started(api, args, accepted)


def _log_key(entry: dict[str, Any]) -> tuple[object, ...]:
    return entry.get("time"), entry.get("pid"), entry.get("message")


async def services_logs(api: Client, args: argparse.Namespace) -> int:
    """The unit's journal; with `-f`, read it again every `--interval` seconds and print the
    lines not shown yet (the service answers each read from the host: there is no stream)."""
    server = await resolve.server_id(api, args.server)
    path = f"/services/{server}/{args.unit}/logs"
    body = await api.get(path, lines=args.lines, since=args.since)
    if args.output != "table":
        emit(body, args.output)
        return 0
    seen: set[tuple[object, ...]] = set()
    stop = asyncio.Event()
    if args.follow:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
    while True:
        for entry in body["logs"].get("entries", []):
            if _log_key(entry) not in seen:
                seen.add(_log_key(entry))
                print(f"{entry.get('time', '')} {entry.get('message', '')}", flush=True)
        if not args.follow:
            return 0
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.interval)
        if stop.is_set():
            return 0
        overlap = f"-{max(int(args.interval * 4), 30)}s"
        body = await api.get(path, lines=1000, since=overlap)


# The parser


def _common() -> argparse.ArgumentParser:
    """Options every client command takes: where the service is and how to print."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("connection")
    where.add_argument("--url", help="the service, e.g. http://127.0.0.1:8080 (env PBD_URL)")
    where.add_argument("--token", help="API token (env PBD_TOKEN; better: `pb-deployer login`)")
    where.add_argument("--profile", help="a profile saved by `login` (env PBD_PROFILE)")
    common.add_argument("-o", "--output", choices=FORMATS, default="table")
    return common


def _following() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--follow", "-f", action="store_true", help="draw the task live")
    options.add_argument(
        "--cancel-on-interrupt",
        action="store_true",
        help="Ctrl-C cancels the task without asking",
    )
    return options


class _Commands:
    """Adds client commands to the CLI's subparsers, each with the shared options, and keeps
    their names and help for the grouped `pb-deployer --help`."""

    def __init__(self, subparsers: Any) -> None:
        self.subparsers = subparsers
        self.common = _common()
        self.listing: list[tuple[str, str]] = []

    def command(
        self, name: str, help: str, *parents: argparse.ArgumentParser
    ) -> argparse.ArgumentParser:
        self.listing.append((name, help))
        return self.subparsers.add_parser(
            name, help=help, parents=list(parents), usage_exit_code=USAGE_EXIT
        )

    def group(self, name: str, help: str) -> "_Group":
        verbs = self.command(name, help).add_subparsers(
            dest=f"{name}_command", required=True, metavar="VERB"
        )
        return _Group(verbs, self.common)


class _Group:
    """The verbs of one noun (`servers list`, ...)."""

    def __init__(self, verbs: Any, common: argparse.ArgumentParser) -> None:
        self.verbs = verbs
        self.common = common

    def add(
        self, verb: str, handler: Handler, help: str, *parents: argparse.ArgumentParser
    ) -> argparse.ArgumentParser:
        parser = self.verbs.add_parser(
            verb, help=help, parents=[self.common, *parents], usage_exit_code=USAGE_EXIT
        )
        parser.set_defaults(client=handler)
        return parser


def _server_options(parser: argparse.ArgumentParser, *, required_host: bool) -> None:
    parser.add_argument("--host", required=required_host, help="name or IP address")
    parser.add_argument("--port", type=int, help="SSH port (default 22)")
    parser.add_argument("--root-user", help="user for setup (default root)")
    parser.add_argument("--app-user", help="user apps run as (default deploy)")
    parser.add_argument("--key", help="private key file on the service's machine")
    parser.add_argument(
        "--ssh-agent", action=argparse.BooleanOptionalAction, help="use the service's ssh-agent"
    )


def _app_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--server", required=required, help="its server (name or id)")
    parser.add_argument("--path", required=required, help="remote path, e.g. /srv/apps/shop")
    parser.add_argument("--service", required=required, help="systemd unit, e.g. shop.service")
    parser.add_argument("--domain", help="domain nginx serves it on")


def register(commands: Any) -> list[tuple[str, str]]:
    """Add the client commands to the `pb-deployer` subparsers; (name, help) of each, for
    the grouped `pb-deployer --help`."""
    client, following = _Commands(commands), _following()
    for name, handler, help in (
        ("login", login, "save a profile: the service URL and a token (asked, not echoed)"),
        ("logout", logout, "forget a saved profile"),
    ):
        parser = client.command(name, help)
        if handler is login:
            parser.add_argument("url", help="the service, e.g. http://127.0.0.1:8080")
        parser.add_argument("--profile", default=DEFAULT_PROFILE, help="profile name")
        parser.set_defaults(client=handler)

    servers = client.group("servers", "servers: list, add, test, set up, lock down, audit")
    servers.add("list", servers_list, "list servers")
    servers.add("show", servers_show, "one server").add_argument("server", help="name or id")
    add = servers.add("add", servers_add, "register a server")
    add.add_argument("name")
    _server_options(add, required_host=True)
    edit = servers.add("edit", servers_edit, "change a server")
    edit.add_argument("server", help="name or id")
    edit.add_argument("--rename", metavar="NAME")
    _server_options(edit, required_host=False)
    rm = servers.add("rm", servers_rm, "delete a server")
    rm.add_argument("server", help="name or id")
    rm.add_argument("--cascade", action="store_true", help="delete its apps too")
    rm.add_argument("--cancel-tasks", action="store_true", help="cancel its tasks first")
    for verb, path, help in (
        ("test", "/test-connection", "test the SSH connection"),
        ("setup", "/setup", "create the app user and install packages"),
        ("lockdown", "/security/lockdown", "firewall, SSH hardening, fail2ban"),
    ):
        operation = servers.add(verb, _server_operation(path), help, following)
        operation.add_argument(
            "servers", nargs="*", metavar="server", help="name or id (several: one run over all)"
        )
        operation.add_argument("--group", help="every server of this group (name or id) instead")
    audit = servers.add("audit", servers_audit, "run a security audit (findings)", following)
    audit.add_argument("server", help="name or id")
    audit.add_argument("--last", action="store_true", help="show the last audit, run none")

    groups = client.group("groups", "server groups: named sets of servers to run on together")
    groups.add("list", groups_list, "list server groups")
    add = groups.add("add", groups_add, "create a group")
    add.add_argument("name")
    add.add_argument("--servers", metavar="A,B,C", help="its servers (names or ids)")
    add.add_argument("--description")
    edit = groups.add("edit", groups_edit, "change a group")
    edit.add_argument("group", help="name or id")
    edit.add_argument("--rename", metavar="NAME")
    edit.add_argument("--servers", metavar="A,B,C", help="replace its servers (names or ids)")
    edit.add_argument("--description")
    groups.add("rm", groups_rm, "delete a group").add_argument("group", help="name or id")

    apps = client.group("apps", "apps: list, add, edit, remove, their servers")
    apps.add("list", apps_list, "list apps")
    apps.add("show", apps_show, "one app").add_argument("app", help="name or id")
    add = apps.add("add", apps_add, "register an app")
    add.add_argument("name")
    _app_options(add, required=True)
    edit = apps.add("edit", apps_edit, "change an app")
    edit.add_argument("app", help="name or id")
    edit.add_argument("--rename", metavar="NAME")
    _app_options(edit, required=False)
    rm = apps.add("rm", apps_rm, "delete an app")
    rm.add_argument("app", help="name or id")
    rm.add_argument("--cancel-tasks", action="store_true", help="cancel its tasks first")
    app_servers = apps.add("servers", apps_servers, "the servers an app runs on")
    app_servers.add_argument("app", help="name or id")
    app_servers.add_argument("--set", metavar="A,B,C", help="replace the list (names or ids)")

    versions = client.group("versions", "versions: list, push a zip or directory")
    versions.add("list", versions_list, "an app's versions").add_argument("app")
    push_cmd = versions.add("push", versions_push, "upload a zip (or a directory, zipped)")
    push_cmd.add_argument("app", help="name or id")
    push_cmd.add_argument("version", help="version number, e.g. 1.2.0")
    push_cmd.add_argument("path", help="a .zip file or a directory")
    push_cmd.add_argument("--notes", default="")

    deploy_cmd = client.command("deploy", "deploy a version of an app", client.common, following)
    deploy_cmd.add_argument("app", help="name or id")
    deploy_cmd.add_argument("version", help="version number or id")
    deploy_cmd.add_argument("--strategy", choices=["rolling", "blue-green"], default="rolling")
    deploy_cmd.add_argument("--batch-size", type=int, help="hosts per rolling batch")
    deploy_cmd.set_defaults(client=deploy)

    rollback_cmd = client.command(
        "rollback", "go back to the previous (or a given) version", client.common, following
    )
    rollback_cmd.add_argument("app", help="name or id")
    rollback_cmd.add_argument("--to", metavar="VERSION", help="version number or id")
    rollback_cmd.set_defaults(client=rollback)

    deployments = client.group("deployments", "deployments: history, status, stats")
    listing = deployments.add("list", deployments_list, "recent deployments")
    listing.add_argument("--app", help="name or id")
    listing.add_argument("--status")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (max 100)")
    deployments.add("show", deployments_show, "a deployment's status").add_argument("id", type=int)
    deployments.add("stats", deployments_stats, "counts and durations").add_argument("--app")

    tasks = client.group("tasks", "tasks: list, show, watch, cancel, retry")
    listing = tasks.add("list", tasks_list, "recent tasks, newest first")
    listing.add_argument("--status")
    listing.add_argument("--kind")
    listing.add_argument("--server", help="name or id")
    listing.add_argument("--app", help="name or id")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (max 100)")
    tasks.add("show", tasks_show, "one task").add_argument("id", type=int)
    watch = tasks.add("watch", tasks_watch, "draw a task live until it ends")
    watch.add_argument("id", type=int)
    watch.add_argument("--cancel-on-interrupt", action="store_true")
    tasks.add("cancel", tasks_cancel, "cancel a task").add_argument("id", type=int)
    retry = tasks.add("retry", tasks_retry, "run a finished task again", following)
    retry.add_argument("id", type=int)
    retry.add_argument("--failed-hosts-only", action="store_true")

    services = client.group("services", "systemd units on a server: state, control, logs")
    services.add("list", services_list, "the app units of a server").add_argument("server")
    status = services.add("status", services_status, "a unit's state now")
    status.add_argument("server", help="name or id")
    status.add_argument("unit")
    for action in ("start", "stop", "restart", "reload", "enable", "disable"):
        control = services.add(action, services_action, f"{action} a unit", following)
        control.add_argument("server", help="name or id")
        control.add_argument("unit")
        control.set_defaults(action=action)
    logs = services.add("logs", services_logs, "a unit's journal")
    logs.add_argument("server", help="name or id")
    logs.add_argument("unit")
    logs.add_argument("--lines", type=int, default=50)
    logs.add_argument("--since", help="today, yesterday, -1h or YYYY-MM-DD[ HH:MM[:SS]]")
    logs.add_argument(
        "--follow", "-f", action="store_true", help="keep reading new lines until Ctrl-C"
    )
    logs.add_argument("--interval", type=float, default=5, help="seconds between reads (-f)")
    return client.listing

"""The `pb-deployer` command: serve the API, manage tokens, export the OpenAPI document
(server-side commands, here), and drive a running service (client commands, in
`service.client`)."""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import shtab
from aiohttp import web

from service import __version__, systemd_unit
from service.ansible import content, inventory
from service.ansible.sshkeys import ensure_service_key
from service.api.openapi import build_openapi, openapi_yaml
from service.api.v1 import create_v1_app
from service.app import create_app
from service.client import commands as client
from service.cluster.bus import tell_other_instances
from service.config import ConfigError, Settings
from service.domain import secrets_at_rest, tokens
from service.errors import APIError, NotFound
from service.logs import AccessLogger, configure_logging
from service.models import ApiToken, App, Role, Server
from service.retention import RULES, RetentionJob
from service.storage.db import database
from service.storage.secrets import SecretBox

Command = Callable[[argparse.Namespace, Settings], int]


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.load(
        config_file=getattr(args, "config", None),
        database_url=getattr(args, "database_url", None),
        data_dir=getattr(args, "data_dir", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        log_level=getattr(args, "log_level", None),
    )


class UsageError(Exception):
    """A command that cannot run as asked; the message says what to do instead."""


def _require_database(settings: Settings) -> None:
    """Refuse to create a database as a side effect: only `serve` and `migrate` may."""
    path = settings.sqlite_path
    if path is not None and not path.is_file():
        raise UsageError(
            f"no database at {path}. Point at the service's data with --data-dir, "
            f"PBD_DATA_DIR or data_dir in the configuration file (or --database-url / "
            f"PBD_DATABASE_URL), or create one with `pb-deployer migrate`."
        )


def _with_database(
    settings: Settings, work: Callable[[], Awaitable[int]], *, create: bool = False
) -> int:
    if not create:
        _require_database(settings)

    async def run() -> int:
        async with database(settings.database_url):
            return await work()

    return asyncio.run(run())


async def _issue_first_token() -> int:
    """Create the admin token of a new database and print it (never log it): the only time
    the secret is visible. Once there is a token, this prints nothing."""
    issued = await tokens.ensure_admin_token()
    if issued is not None:
        print(
            f"Created the first API token ({issued.token.name}); store it now, "
            f"it is not shown again:\n\n    {issued.secret}\n",
            flush=True,
        )
    return 0


def serve(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level)

    _with_database(settings, _issue_first_token, create=True)
    url = f"http://{settings.host}:{settings.port}"
    print(
        f"pb-deployer {__version__}\n"
        f"  data:     {settings.data_dir}\n"
        f"  database: {_redacted(settings.database_url)}\n"
        f"  API docs: {url}/api/docs\n"
        f"listening on {url}",
        flush=True,
    )
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log_class=AccessLogger,
        print=None,
    )
    return 0


def _redacted(url: str) -> str:
    """The database URL without its password, for the console."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{location}"


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    async def done() -> int:
        print("Database schema is up to date.")
        return 0

    return _with_database(settings, done, create=True)


def purge(args: argparse.Namespace, settings: Settings) -> int:
    """Run the retention rules now (as the service does on its schedule); say what went."""

    async def work() -> int:
        deleted = await RetentionJob(settings).run_once(dry_run=args.dry_run)
        verb = "would delete" if args.dry_run else "deleted"
        for table in dict.fromkeys(table for rule in RULES for table in rule.tables):
            print(f"{table}: {verb} {deleted.get(table, 0)}")
        for rule in RULES:
            print(f"  rule {rule.describe(settings)}")
        return 0

    return _with_database(settings, work)


def secrets_rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    """Re-encrypt every app secret under a new key; a running service follows the key file."""

    async def work() -> int:
        box = SecretBox(settings.secrets_key_file)
        count = await secrets_at_rest.rotate_key(box)
        print(
            f"Re-encrypted {count} secret(s) and key(s) under a new key in {box.path}; "
            "old keys removed."
        )
        return 0

    return _with_database(settings, work)


def token_create(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> int:
        scoped = args.apps is not None or args.servers is not None
        issued = await tokens.issue_token(
            args.name,
            Role(args.role),
            apps=await tokens.named_ids(App, args.apps or []) if scoped else None,
            servers=await tokens.named_ids(Server, args.servers or []) if scoped else None,
            expires_at=tokens.expiry(args.expires),
        )
        print(
            f"Token {issued.token.id} ({issued.token.name}, {issued.token.role}); "
            "it is not shown again:"
        )
        print(issued.secret)
        return 0

    return _with_database(settings, work)


def _lifetime(text: str) -> str:
    if not tokens.DURATION_RE.match(text):
        raise argparse.ArgumentTypeError("use a number (1-9999) and m, h, d or w, e.g. 30d")
    return text


def token_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> int:
        print(
            f"{'ID':>4}  {'NAME':<20} {'ROLE':<9} {'PREFIX':<11} {'SCOPE':<22} "
            f"{'CREATED':<20} {'LAST USED':<20} {'EXPIRES':<20} REVOKED"
        )
        for token in await tokens.list_tokens():
            print(
                f"{token.id:>4}  {token.name:<20} {token.role:<9} {token.prefix:<11} "
                f"{await _scope_text(token):<22} {_when(token.created):<20} "
                f"{_when(token.last_used_at):<20} {_when(token.expires_at):<20} "
                f"{_when(token.revoked_at)}"
            )
        return 0

    return _with_database(settings, work)


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}Z" if value else "-"


async def _scope_text(token: ApiToken) -> str:
    """`all`, or the names it may see, e.g. `apps=web servers=-`."""
    if token.scope_apps is None and token.scope_servers is None:
        return "all"
    apps = await App.filter(id__in=token.scope_apps or []).values_list("name", flat=True)
    servers = await Server.filter(id__in=token.scope_servers or []).values_list("name", flat=True)
    return f"apps={','.join(apps) or '-'} servers={','.join(servers) or '-'}"


def token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> int:
        token = await tokens.revoke_token(args.id, settings.data_dir)
        await tell_other_instances({"t": "tokens"})
        print(f"Token {token.id} ({token.name}) is revoked.")
        return 0

    return _with_database(settings, work)


def openapi(args: argparse.Namespace, settings: Settings) -> int:
    document = openapi_yaml(build_openapi(create_v1_app()))
    if args.output == "-":
        sys.stdout.write(document)
    else:
        Path(args.output).write_text(document)
    return 0


def playbooks_path(args: argparse.Namespace, settings: Settings) -> int:
    """The shipped Ansible content, for running the same playbooks by hand."""
    print(content.PROJECT_DIR)
    return 0


def inventory_command(args: argparse.Namespace, settings: Settings) -> int:
    """`export` writes the YAML inventory; `--list`/`--host` speak the inventory-script protocol."""
    if args.action is None and (args.server, args.app, args.output) != (None, None, "-"):
        print("error: --server, --app and --output go with export", file=sys.stderr)
        return 2
    _require_database(settings)
    ensure_service_key(settings)  # the inventory names its private key file

    async def work() -> int:
        if args.host is not None:
            server = await Server.get_or_none(name=args.host)
            if server is None:
                raise NotFound(f"Server {args.host!r} does not exist.")
            text = json.dumps(inventory.host_vars(server, settings)) + "\n"
        elif args.list:
            servers = await inventory.select_servers()
            text = json.dumps(inventory.dynamic_inventory(servers, settings)) + "\n"
        else:
            servers = await inventory.select_servers(server_id=args.server, app_id=args.app)
            text = inventory.render_inventory(servers, settings)
        if args.output == "-":
            sys.stdout.write(text)
        else:
            await asyncio.to_thread(Path(args.output).write_text, text)
        return 0

    return _with_database(settings, work)


def install_service(args: argparse.Namespace, settings: Settings) -> int:
    """Create the service user, the database and first token, then the systemd unit."""
    if os.geteuid() != 0:
        raise UsageError("install-service must run as root (it writes a systemd unit).")
    spec = systemd_unit.UnitSpec(
        user=args.user,
        python=systemd_unit.current_python(),
        settings=settings,
        config_file=args.config.absolute() if args.config else None,
    )
    systemd_unit.check_spec(spec)
    account = systemd_unit.ensure_user(args.user, settings.data_dir)

    _with_database(settings, _issue_first_token, create=True)
    systemd_unit.prepare_data_dir(settings.data_dir, account)
    unit = systemd_unit.install_unit(spec, start=not args.no_start)
    state = "enabled" if args.no_start else "enabled and started"
    print(
        f"{unit} {state}: runs as {args.user}, data in {settings.data_dir}, "
        f"listening on http://{settings.host}:{settings.port} "
        f"(`systemctl status {systemd_unit.UNIT_NAME}`, `journalctl -u {systemd_unit.UNIT_NAME}`)."
    )
    return 0


class CommandParser(argparse.ArgumentParser):
    """A parser whose usage errors exit with `usage_exit_code`: 2 for the server-side
    commands, as before; 3 for the client commands, whose 2 means "cancelled"."""

    def __init__(self, *args: Any, usage_exit_code: int = 2, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.usage_exit_code = usage_exit_code

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(self.usage_exit_code, f"{self.prog}: error: {message}\n")


COMPLETION_HELP = "print a bash or zsh completion script"


def completion(args: argparse.Namespace, settings: Settings) -> int:
    """Shell completion generated from this very parser, so it never falls behind."""
    print(shtab.complete(_parser(), args.shell))
    return 0


class _GroupedHelp(argparse.RawDescriptionHelpFormatter):
    """Leaves the listing of commands to the epilog, which shows server-side and client
    commands apart (the subparsers stay visible to shell completion)."""

    def add_argument(self, action: argparse.Action) -> None:
        if not isinstance(action, argparse._SubParsersAction):
            super().add_argument(action)


def _command_list(title: str, entries: Sequence[tuple[str, str]]) -> str:
    return "\n".join([f"{title}:", *(f"  {name:<16}{help}" for name, help in entries)])


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="pb-deployer",
        description="Provision servers and deploy apps with real Ansible playbooks: run the "
        "service, or drive a running one.",
        formatter_class=_GroupedHelp,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument(
        "--config",
        type=Path,
        help="TOML configuration file (env PBD_CONFIG; default /etc/pb-deployer/config.toml "
        "as root, else ~/.config/pb-deployer/config.toml, if it exists)",
    )
    db.add_argument(
        "--database-url",
        help="sqlite://PATH or postgres://USER:PASS@HOST/DB "
        "(env PBD_DATABASE_URL; default DATA_DIR/pb-deployer.sqlite3)",
    )
    db.add_argument(
        "--data-dir",
        help="database, SSH key, uploads and runs (env PBD_DATA_DIR; default "
        "/var/lib/pb-deployer as root, else ~/.local/share/pb-deployer)",
    )
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        prog="pb-deployer",
    )

    serve_cmd = commands.add_parser("serve", parents=[db], help="run the API server")
    serve_cmd.add_argument("--host", help="listen address (env PBD_HOST; default 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, help="listen port (env PBD_PORT; default 8080)")
    serve_cmd.add_argument("--log-level", help="DEBUG, INFO, WARNING (env PBD_LOG_LEVEL)")
    serve_cmd.set_defaults(func=serve)

    commands.add_parser(
        "migrate", parents=[db], help="create or upgrade the database schema"
    ).set_defaults(func=migrate)

    purge_cmd = commands.add_parser(
        "purge",
        parents=[db],
        help="delete old task events and finished tasks now (the retention settings)",
    )
    purge_cmd.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
    )
    purge_cmd.set_defaults(func=purge)

    secrets_cmd = commands.add_parser("secrets", help="app secrets at rest").add_subparsers(
        dest="secrets_command", required=True
    )
    secrets_cmd.add_parser(
        "rotate-key",
        parents=[db],
        help="encrypt every app secret under a new key and forget the old ones",
    ).set_defaults(func=secrets_rotate_key)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", parents=[db], help="create a token (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--role",
        required=True,
        choices=[role.value for role in Role],
        help="viewer: read only; deployer: also operations and deploys; admin: everything",
    )
    create.add_argument(
        "--apps", nargs="+", metavar="APP", help="limit to these apps (names or ids)"
    )
    create.add_argument(
        "--servers", nargs="+", metavar="SERVER", help="limit to these servers (names or ids)"
    )
    create.add_argument(
        "--expires", type=_lifetime, metavar="LIFETIME", help="e.g. 12h, 30d, 8w (default: never)"
    )
    create.set_defaults(func=token_create)
    token.add_parser("list", parents=[db], help="list tokens (never their secrets)").set_defaults(
        func=token_list
    )
    revoke = token.add_parser("revoke", parents=[db], help="revoke a token by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=token_revoke)

    spec = commands.add_parser("openapi", help="write the OpenAPI 3 document as YAML")
    spec.add_argument("--output", default="-", help="file path, or - for stdout (default)")
    spec.set_defaults(func=openapi)

    playbooks = commands.add_parser(
        "playbooks", help="the Ansible content the service runs"
    ).add_subparsers(dest="playbooks_command", required=True)
    playbooks.add_parser(
        "path",
        help="print the directory holding playbooks/, roles/ and ansible.cfg",
    ).set_defaults(func=playbooks_path)

    inv = commands.add_parser(
        "inventory",
        parents=[db],
        help="Ansible inventory of the servers: export YAML, or act as an inventory script",
    )
    mode = inv.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "action",
        nargs="?",
        choices=["export"],
        help="write the YAML inventory for ansible-playbook",
    )
    mode.add_argument("--list", action="store_true", help="all servers as inventory-script JSON")
    mode.add_argument("--host", metavar="NAME", help="one server's variables as JSON")
    scope = inv.add_mutually_exclusive_group()
    scope.add_argument("--server", type=int, metavar="ID", help="export only this server")
    scope.add_argument("--app", type=int, metavar="ID", help="export only this app's server")
    inv.add_argument("--output", default="-", help="file path, or - for stdout (default)")
    inv.set_defaults(func=inventory_command)

    unit = commands.add_parser(
        "install-service",
        parents=[db],
        help="run the service under systemd as an unprivileged user (as root)",
    )
    unit.add_argument("--user", default="pb-deployer", help="system user (default pb-deployer)")
    unit.add_argument("--host", help="listen address (default 127.0.0.1)")
    unit.add_argument("--port", type=int, help="listen port (default 8080)")
    unit.add_argument("--no-start", action="store_true", help="enable the unit, do not start it")
    unit.set_defaults(func=install_service)
    server_side = [(action.dest, action.help or "") for action in commands._get_subactions()]

    client_side = client.register(commands)
    shells = commands.add_parser("completion", help=COMPLETION_HELP)
    shells.add_argument("shell", choices=["bash", "zsh"])
    shells.set_defaults(func=completion)
    client_side.append(("completion", COMPLETION_HELP))
    parser.epilog = "\n\n".join(
        [
            _command_list("server-side commands (on the service's machine)", server_side),
            _command_list(
                "client commands (talk to a running service: --url/--token, "
                "PBD_URL/PBD_TOKEN or `login`)",
                client_side,
            ),
            "`pb-deployer COMMAND --help` tells more.",
        ]
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if hasattr(args, "client"):
        return client.run(args)
    command: Command = args.func
    try:
        return command(args, _settings(args))
    except (ConfigError, UsageError, systemd_unit.InstallError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except APIError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


def inventory_script() -> int:
    """`pb-deployer-inventory`: `pb-deployer inventory` as a file Ansible can run with --list."""
    return main(["inventory", *sys.argv[1:]])

"""The operator's path on a real host, all through `pb-deployer` in a terminal: set the
server up, push two versions (a directory zipped on the fly), deploy both and roll back,
each drawn live with one line per host."""

import pytest

from tests.client.conftest import Cli, host_line, in_terminal
from tests.http_probe import get
from tests.roles.fixtures import SAMPLE_APP
from tests.service_process import service_in_thread

pytestmark = pytest.mark.hosts


@pytest.fixture
def app_host(target_hosts, running_hosts):
    """A host handed back pristine (it gets nginx, an app user and releases)."""
    host = running_hosts[0]
    yield host
    target_hosts.reset_host(host)


def test_push_deploy_and_roll_back_from_the_terminal(target_hosts, app_host, tmp_path):
    with service_in_thread(tmp_path / "data", extra_env={"PBD_WORKERS": "2"}) as (service, _):
        cli = Cli(service.base_url, service.token, tmp_path)
        cli.json(
            "servers", "add", "app-host", "--host", app_host.ip, "--port", str(app_host.port),
            "--root-user", "root", "--key", str(target_hosts.private_key),
        )  # fmt: skip
        setup = cli("servers", "setup", "app-host", "--follow")
        assert setup.returncode == 0, setup.stdout + setup.stderr
        audit = cli("servers", "audit", "app-host", "--follow")
        assert audit.returncode == 0, audit.stdout + audit.stderr
        assert "RESULT" in audit.stdout and "SSH-7408" in audit.stdout
        assert "score " in audit.stdout.splitlines()[-1]
        cli.json(
            "apps", "add", "shop", "--server", "app-host", "--path", "/srv/apps/shop",
            "--service", "shop",
        )  # fmt: skip
        for version in ("1.0.0", "2.0.0"):
            assert cli.json("versions", "push", "shop", version, str(SAMPLE_APP))["sha256"]

        for command, serving in (
            (["deploy", "shop", "1.0.0", "--follow"], "version 1.0.0"),
            (["deploy", "shop", "2.0.0", "--strategy", "blue-green", "--follow"], "version 2.0.0"),
            (["rollback", "shop", "--follow"], "version 1.0.0"),
        ):
            code, screen = in_terminal(cli, *command)
            assert code == 0, screen
            assert host_line("app-host").search(screen), screen
            kind = command[0]
            assert f"({kind}) successful in " in screen.rstrip().splitlines()[-1], screen
            assert get(app_host) == (200, serving)
        print(screen)  # the README's captured example comes from here (pytest -s)

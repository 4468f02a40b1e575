"""Where the URL and token come from, how failures read, and the exit codes."""

import stat
import subprocess

from tests.client.conftest import closed_port


def test_no_service_configured_is_a_usage_error(cli):
    result = cli("servers", "list", PBD_URL="", PBD_TOKEN="")
    assert result.returncode == 3
    assert "--url and --token" in result.stderr and "pb-deployer login" in result.stderr


def test_a_refused_connection_names_the_url(cli):
    url = f"http://127.0.0.1:{closed_port()}"
    result = cli("servers", "list", "--url", url)
    assert result.returncode == 3
    assert f"cannot connect to {url}" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_token_shows_the_service_error_with_its_request_id(cli):
    result = cli("servers", "list", "--token", "pbd_not_a_token")
    assert result.returncode == 1
    assert "(401 unauthorized)" in result.stderr and "request id: " in result.stderr


def test_validation_errors_show_each_field(cli):
    result = cli("servers", "add", "bad", "--host", "-not a host-", "--port", "70000")
    assert result.returncode == 1
    assert "(422 validation_failed)" in result.stderr
    assert "host:" in result.stderr and "port:" in result.stderr


def test_usage_errors_exit_3(cli):
    assert cli("servers", "frobnicate").returncode == 3
    assert cli("deploy", "shop").returncode == 3


def test_login_checks_the_token_and_saves_a_private_profile(cli, service):
    url, token = service.url, service.admin_token
    bad = cli("login", url, input="pbd_wrong\n", PBD_URL="", PBD_TOKEN="")
    assert bad.returncode == 1 and "401" in bad.stderr
    profiles = cli.home / ".config" / "pb-deployer" / "profiles.toml"
    assert not profiles.exists(), "a token the service refused is not saved"

    for profile in ("default", "staging"):
        done = cli("login", url, "--profile", profile, input=f"{token}\n", PBD_URL="", PBD_TOKEN="")
        assert done.returncode == 0, done.stderr
        assert token not in done.stdout + done.stderr
    assert stat.S_IMODE(profiles.stat().st_mode) == 0o600
    assert stat.S_IMODE(profiles.parent.stat().st_mode) == 0o700

    assert cli("servers", "list", PBD_URL="", PBD_TOKEN="").returncode == 0
    assert cli("servers", "list", "--profile", "staging", PBD_URL="", PBD_TOKEN="").returncode == 0
    missing = cli("servers", "list", "--profile", "prod", PBD_URL="", PBD_TOKEN="")
    assert missing.returncode == 3 and "no profile 'prod'" in missing.stderr

    assert cli("logout", "--profile", "staging").returncode == 0
    gone = cli("servers", "list", "--profile", "staging", PBD_URL="", PBD_TOKEN="")
    assert gone.returncode == 3
    assert cli("logout", "--profile", "staging").returncode == 3


def test_a_refused_operation_names_the_role_it_needs(cli, service):
    created = cli(
        "token", "create", "--name", "watcher", "--role", "viewer",
        "--data-dir", str(service.data_dir),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    viewer = created.stdout.strip().splitlines()[-1]
    assert cli("servers", "list", "--token", viewer).returncode == 0
    refused = cli("servers", "add", "x", "--host", "10.0.0.9", "--token", viewer)
    assert refused.returncode == 1
    assert "(403 forbidden)" in refused.stderr and "request id: " in refused.stderr


def test_help_lists_server_side_and_client_commands_apart(cli):
    text = cli("--help").stdout
    server_side, client = text.split("server-side commands")[1].split("client commands")
    for command in ("serve", "migrate", "token", "inventory", "openapi"):
        assert f"\n  {command} " in server_side
    for command in ("login", "servers", "apps", "versions", "deploy", "rollback", "tasks"):
        assert f"\n  {command} " in client


def test_bash_completion_completes_commands_verbs_and_options(cli, tmp_path):
    script = tmp_path / "pb-deployer.bash"
    script.write_text(cli("completion", "bash").stdout)
    probe = (
        f"source {script}\n"
        'complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _shtab_pb_deployer; '
        'echo "${COMPREPLY[*]}"; }\n'
        "complete_words pb-deployer dep\n"
        "complete_words pb-deployer servers lo\n"
        "complete_words pb-deployer deploy shop 1.0.0 --str\n"
    )
    lines = subprocess.run(
        ["bash", "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert lines == ["deploy deployments", "lockdown", "--strategy"]


def test_zsh_completion_names_every_client_command(cli):
    script = cli("completion", "zsh").stdout
    assert script.startswith("#compdef pb-deployer")
    for command in ("servers", "deploy", "rollback", "tasks", "versions", "serve"):
        assert command in script

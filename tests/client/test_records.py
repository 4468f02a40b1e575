"""servers, apps, versions, deployments and tasks: named by name or id, printed as tables that
fit 80 columns, or as JSON and YAML."""

import hashlib
import re

import yaml

from tests.client.conftest import app_zip, closed_port, host_line, in_terminal


def test_servers_add_list_show_edit_rm(cli):
    added = cli.json("servers", "add", "web-1", "--host", "127.0.0.1", "--port", "2222")
    assert (added["name"], added["port"]) == ("web-1", 2222)
    assert cli.json("servers", "show", "web-1")["id"] == added["id"]
    assert cli.json("servers", "show", str(added["id"]))["name"] == "web-1"

    edited = cli.json("servers", "edit", "web-1", "--app-user", "app", "--rename", "web-one")
    assert (edited["app_username"], edited["name"]) == ("app", "web-one")
    assert "web-one" in [server["name"] for server in cli.json("servers", "list")]
    assert yaml.safe_load(cli("servers", "show", "web-one", "-o", "yaml").stdout)["port"] == 2222

    table = cli("servers", "list").stdout
    assert "web-one" in table and "127.0.0.1" in table
    assert max(len(line) for line in table.splitlines()) <= 80

    assert cli("servers", "rm", "web-one").returncode == 0
    missing = cli("servers", "show", "web-one")
    assert missing.returncode == 3 and "no server named 'web-one'" in missing.stderr
    assert cli("servers", "show", str(added["id"])).returncode == 1  # 404 from the service
    nothing = cli("servers", "edit", "web-1")
    assert nothing.returncode == 3 and "nothing to change" in nothing.stderr


def test_apps_and_their_servers(cli):
    own = cli.json("servers", "add", "app-host-a", "--host", "10.0.0.1")["id"]
    other = cli.json("servers", "add", "app-host-b", "--host", "10.0.0.2")["id"]
    app = cli.json(
        "apps", "add", "blog", "--server", "app-host-a", "--path", "/srv/apps/blog",
        "--service", "blog.service", "--domain", "blog.example.com",
    )  # fmt: skip
    assert app["domain"] == "blog.example.com"
    assert cli.json("apps", "show", "blog")["id"] == app["id"]
    assert cli.json("apps", "edit", "blog", "--path", "/srv/blog")["remote_path"] == "/srv/blog"
    assert "blog" in [each["name"] for each in cli.json("apps", "list")]

    servers = cli.json("apps", "servers", "blog", "--set", "app-host-b")
    assert sorted(servers["server_ids"]) == [own, other], "its own server and the one set"
    assert cli.json("apps", "servers", "blog") == servers
    assert cli("apps", "rm", "blog").returncode == 0
    assert cli("apps", "show", "blog").returncode == 3


def _app(cli, name):
    cli.json("servers", "add", f"{name}-host", "--host", "127.0.0.1", "--port", str(closed_port()))
    return cli.json(
        "apps", "add", name, "--server", f"{name}-host", "--path", f"/srv/apps/{name}",
        "--service", f"{name}.service",
    )  # fmt: skip


def test_versions_push_a_zip_and_a_directory(cli, tmp_path):
    _app(cli, "shop")
    archive = tmp_path / "shop.zip"
    archive.write_bytes(app_zip())
    pushed = cli.json("versions", "push", "shop", "1.0.0", str(archive))
    assert pushed["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()

    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "start").write_text("#!/bin/sh\nexec sleep 1000\n")
    (tree / "bin" / "start").chmod(0o755)
    assert cli.json("versions", "push", "shop", "1.1.0", str(tree))["size_bytes"] > 0

    again = cli("versions", "push", "shop", "1.1.0", str(tree))
    assert again.returncode == 1 and "409 conflict" in again.stderr
    numbers = [version["version_number"] for version in cli.json("versions", "list", "shop")]
    assert numbers == ["1.0.0", "1.1.0"]
    assert "1.1.0" in cli("versions", "list", "shop").stdout
    assert cli("versions", "push", "shop", "1.2.0", str(tmp_path / "none")).returncode == 3


def test_deploy_that_fails_on_an_unreachable_host(cli, tmp_path):
    _app(cli, "cart")
    archive = tmp_path / "cart.zip"
    archive.write_bytes(app_zip())
    cli.json("versions", "push", "cart", "2.0.0", str(archive))
    accepted = cli.json("deploy", "cart", "2.0.0", "--strategy", "blue-green")
    assert accepted["deployment"]["strategy"] == "blue-green"
    task_id = accepted["task"]["id"]

    watched = cli("tasks", "watch", str(task_id))  # joins late: the replay shows everything
    assert watched.returncode == 1, watched.stdout + watched.stderr
    assert f"task {task_id} (deploy) failed" in watched.stdout
    assert "cart-host  ok=" in watched.stdout and "unreachable=1" in watched.stdout

    deployment = accepted["deployment"]["id"]
    assert cli.json("deployments", "show", str(deployment))["deployment"]["status"] == "failed"
    listed = cli.json("deployments", "list", "--app", "cart")
    assert [each["id"] for each in listed] == [deployment]
    assert "24h" in cli.json("deployments", "stats")["windows"]
    assert "WINDOW" in cli("deployments", "stats").stdout

    tasks = cli.json("tasks", "list", "--app", "cart")
    assert [task["id"] for task in tasks] == [task_id]
    assert cli.json("tasks", "show", str(task_id))["status"] == "failed"
    assert "deploy" in cli("tasks", "list").stdout

    retried = cli("tasks", "retry", str(task_id), "--failed-hosts-only", "--follow")
    assert retried.returncode == 1, retried.stdout + retried.stderr
    assert "(deploy) failed in " in retried.stdout

    refused = cli("tasks", "cancel", str(task_id))
    assert refused.returncode == 1 and "409" in refused.stderr
    assert cli("deploy", "cart", "9.9.9").returncode == 3


def test_following_a_connection_test_that_fails(cli):
    _app(cli, "probe")
    result = cli("servers", "test", "probe-host", "--follow")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.endswith("(connection_test) running") for line in lines)
    assert any("probe-host  ok=0  changed=0  failed=0  unreachable=1" in line for line in lines)
    assert any("FAILED probe-host · " in line for line in lines)
    assert "(connection_test) failed in 0:00:" in lines[-1]


def test_one_connection_test_over_two_servers(cli):
    for name in ("pair-a", "pair-b"):
        cli.json("servers", "add", name, "--host", "127.0.0.1", "--port", str(closed_port()))
    result = cli("servers", "test", "pair-a", "pair-b", "--follow")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name in ("pair-a", "pair-b"):
        assert any(f"{name}  ok=0  changed=0  failed=0  unreachable=1" in line for line in lines)
    task = cli.json("tasks", "show", re.search(r"task (\d+)", result.stdout)[1])
    assert len(task["server_ids"]) == 2
    assert {entry["outcome"] for entry in task["result"]["hosts"].values()} == {"unreachable"}


def test_a_group_of_servers_made_and_tested_from_the_terminal(cli):
    for name in ("grp-a", "grp-b", "grp-c"):
        cli.json("servers", "add", name, "--host", "127.0.0.1", "--port", str(closed_port()))
    made = cli.json("groups", "add", "edge", "--servers", "grp-b,grp-a", "--description", "e")
    edited = cli.json("groups", "edit", "edge", "--servers", "grp-a,grp-c")
    assert len(made["server_ids"]) == len(edited["server_ids"]) == 2
    assert edited["server_ids"] != made["server_ids"] and edited["description"] == "e"
    assert "edge" in cli("groups", "list").stdout

    result = cli("servers", "test", "--group", "edge", "--follow")
    assert result.returncode == 1, result.stdout + result.stderr
    for name in ("grp-a", "grp-c"):
        assert f"{name}  ok=0  changed=0  failed=0  unreachable=1" in result.stdout
    task = cli.json("tasks", "show", re.search(r"task (\d+)", result.stdout)[1])
    assert task["server_ids"] == edited["server_ids"]
    both = cli("servers", "test", "grp-a", "--group", "edge")
    assert both.returncode != 0 and "not both" in both.stderr
    assert "its servers stay" in cli("groups", "rm", "edge").stdout
    assert "grp-a" in cli("servers", "list").stdout


def test_the_live_view_in_a_terminal(cli):
    _app(cli, "live")
    code, screen = in_terminal(cli, "servers", "test", "live-host", "--follow")
    assert code == 1, screen
    assert host_line("live-host", unreachable=1).search(screen), screen
    assert "FAILED live-host · " in screen
    assert re.search(r"\(connection_test\) failed in \d+:\d\d:\d\d$", screen.rstrip()), screen


def test_services_on_an_unreachable_host(cli):
    _app(cli, "mail")
    listed = cli.json("services", "list", "mail-host")
    assert [entry["service_name"] for entry in listed["items"]] == ["mail.service"]
    status = cli("services", "status", "mail-host", "fail2ban")
    assert status.returncode == 1 and "(503 service_unavailable)" in status.stderr
    logs = cli("services", "logs", "mail-host", "fail2ban", "--lines", "5", "-f")
    assert logs.returncode == 1 and "request id: " in logs.stderr
    restart = cli("services", "restart", "mail-host", "fail2ban", "--follow")
    assert restart.returncode == 1 and "(service) failed in " in restart.stdout

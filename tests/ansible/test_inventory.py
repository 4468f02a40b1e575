"""Inventories from records: read back by Ansible itself, values exact and never templated."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.template import is_trusted_as_template

from service.ansible.inventory import (
    _template,
    connection_vars,
    dynamic_inventory,
    host_vars,
    render_inventory,
    select_servers,
)
from service.config import Settings
from service.errors import NotFound, ValidationFailed
from service.models import App, Server
from service.storage.db import database

HOSTILE = [
    "{{ lookup('pipe','id') }}",
    "{% for x in range(3) %}{{ x }}{% endfor %}{# c #}",
    "a: b\n  c: d\n- e",
    "\"double\" 'single' `back`",
    "value # not a comment",
    "&anchor *alias !!python/object/apply:os.system ['id'] !unsafe",
    "---\n...\n%YAML 1.2",
    "tab\there\r\nCRLF",
    "back\\slash \\u0041 \\ud83d\\ude00 \\",
    "NEL\x85 LS\u2028 PS\u2029 BOM\ufeff",
    "ctrl \x00\x01\x1b\x7f\x9f",
    "emoji \U0001f600 clef \U0001d11e ünïcödé",
    "yes",
    "null",
    "~",
    "0x1F",
    "  padded  ",
    "%(var)s ${HOME} $(id)",
]
NAMES = [value for value in HOSTILE if value.strip() and not set(value) & set(":[]")]


def settings_for(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data dir")


def hostile_servers() -> list[Server]:
    return [
        Server(
            id=index + 1,
            name=name,
            host=HOSTILE[index % len(HOSTILE)],
            port=22 + index,
            root_username=HOSTILE[(index + 1) % len(HOSTILE)],
            app_username=HOSTILE[(index + 2) % len(HOSTILE)],
            security_locked=index % 2 == 1,
        )
        for index, name in enumerate(NAMES)
    ]


def extra_vars(servers: list[Server]) -> dict[int, dict[str, object]]:
    return {
        server.id: {"probe": value, "nested": {"list": [value, 1, None, True, 1.5]}}
        for server, value in zip(servers, reversed(HOSTILE), strict=False)
    }


def load(path: Path) -> InventoryManager:
    return InventoryManager(loader=DataLoader(), sources=[str(path)])


def own_vars(host) -> dict[str, object]:
    return {k: v for k, v in host.vars.items() if k not in {"inventory_file", "inventory_dir"}}


def untrusted_strings(value: object) -> list[str]:
    """Every string in value, failing on the first one Ansible would template."""
    if isinstance(value, str):
        assert not is_trusted_as_template(value), value
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in untrusted_strings(k) + untrusted_strings(v)]
    if isinstance(value, list):
        return [s for item in value for s in untrusted_strings(item)]
    return []


def script_printing(tmp_path: Path, document: object) -> Path:
    """An executable inventory script that prints document as JSON."""
    data = tmp_path / "inventory.json"
    data.write_text(json.dumps(document))
    script = tmp_path / "inventory.py"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdout.write(open({str(data)!r}).read())\n"
    )
    script.chmod(0o755)
    return script


def ansible_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
        "ANSIBLE_NOCOLOR": "true",
    }


def run_ansible(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=tmp_path,
        env=ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# connection_vars


def test_connection_vars_before_lockdown_use_root_and_the_service_key(tmp_path):
    settings = settings_for(tmp_path)
    found = connection_vars(Server(id=7, name="web-1", host="10.0.0.5", port=2222), settings)
    known_hosts = settings.known_hosts_path.absolute()
    assert found == {
        "ansible_host": "10.0.0.5",
        "ansible_port": 2222,
        "ansible_user": "root",
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_private_key_file": str(settings.ssh_key_path.absolute()),
        "ansible_ssh_common_args": f"-o 'UserKnownHostsFile=\"{known_hosts}\"' "
        "-o StrictHostKeyChecking=accept-new -o ConnectTimeout=10 -o IdentitiesOnly=yes",
        "app_user_name": "deploy",
        "pbd_server_id": 7,
    }


def test_connection_vars_after_lockdown_use_the_app_user_with_become(tmp_path):
    server = Server(id=1, name="web-1", host="h", app_username="ops", security_locked=True)
    found = connection_vars(server, settings_for(tmp_path))
    assert found["ansible_user"] == "ops"
    assert found["ansible_become"] is True
    assert found["app_user_name"] == "ops"


def test_connection_vars_key_choice(tmp_path):
    settings = Settings(data_dir=tmp_path)
    manual = Server(id=1, name="a", host="h", manual_key_path="/keys/a", use_ssh_agent=True)
    agent = Server(id=2, name="b", host="h", use_ssh_agent=True)
    assert connection_vars(manual, settings)["ansible_ssh_private_key_file"] == "/keys/a"
    agent_vars = connection_vars(agent, settings)
    assert "ansible_ssh_private_key_file" not in agent_vars
    assert "IdentitiesOnly" not in agent_vars["ansible_ssh_common_args"]
    assert (
        f"UserKnownHostsFile={tmp_path}/ssh/known_hosts " in agent_vars["ansible_ssh_common_args"]
    )


def test_a_key_path_that_would_break_ssh_quoting_is_refused(tmp_path):
    server = Server(id=1, name="a", host="h", manual_key_path='/k" -oProxyCommand="id')
    with pytest.raises(ValidationFailed):
        connection_vars(server, settings_for(tmp_path))


# render_inventory


def test_hostile_records_come_back_exact_and_untrusted(tmp_path):
    settings = settings_for(tmp_path)
    servers = hostile_servers()
    extra = extra_vars(servers)
    path = tmp_path / "inventory.yml"
    path.write_text(render_inventory(servers, settings, host_vars=extra, groups={"web": [2, 3]}))

    inventory = load(path)
    hosts = {host.name: host for host in inventory.get_hosts()}
    assert sorted(hosts) == sorted(NAMES)
    strings = []
    for server in servers:
        host = hosts[server.name]
        assert not is_trusted_as_template(host.name)
        assert own_vars(host) == {**connection_vars(server, settings), **extra[server.id]}
        assert type(host.vars["ansible_port"]) is not str and host.vars["ansible_port"] > 0
        strings += untrusted_strings(own_vars(host))
    assert set(HOSTILE) <= set(strings)
    assert sorted(h.name for h in inventory.get_hosts("web")) == sorted(NAMES[1:3])

    # The check above can fail: without the tag Ansible trusts the very same values.
    path.write_text(path.read_text().replace("!unsafe ", ""))
    plain = {host.name: own_vars(host) for host in load(path).get_hosts()}
    with pytest.raises(AssertionError):
        untrusted_strings(plain)


@pytest.mark.parametrize("name", ["evil:2222", "web[1:3]", "[::1]:22", "", "   "])
def test_names_ansible_would_read_as_patterns_are_refused(tmp_path, name):
    with pytest.raises(ValidationFailed):
        render_inventory([Server(id=1, name=name, host="h")], settings_for(tmp_path))


def test_duplicate_names_are_refused(tmp_path):
    servers = [Server(id=1, name="a", host="h"), Server(id=2, name="a", host="h")]
    with pytest.raises(ValidationFailed):
        render_inventory(servers, settings_for(tmp_path))
    with pytest.raises(ValidationFailed):
        dynamic_inventory(servers, settings_for(tmp_path))


def test_lone_surrogates_are_refused(tmp_path):
    with pytest.raises(ValidationFailed):
        render_inventory([Server(id=1, name="a", host="x\ud800")], settings_for(tmp_path))


@pytest.mark.parametrize(
    "options",
    [
        {"host_vars": {1: {"not an identifier": 1}}},
        {"groups": {"web: {}": [1]}},
        {"groups": {"web": [2]}},
    ],
)
def test_bad_variable_names_groups_and_members_are_refused(tmp_path, options):
    with pytest.raises(ValueError):
        render_inventory([Server(id=1, name="a", host="h")], settings_for(tmp_path), **options)


def test_the_template_cannot_print_an_unfiltered_value():
    with pytest.raises(TypeError):
        _template().environment.from_string("{{ name }}").render(name="{{ x }}")


def test_no_servers_is_still_an_inventory(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(render_inventory([], settings_for(tmp_path)))
    result = run_ansible(tmp_path, "ansible-inventory", "-i", str(path), "--list")
    assert result.returncode == 0, result.stderr


def test_ansible_inventory_lists_every_value_as_unsafe(tmp_path):
    settings = settings_for(tmp_path)
    servers = hostile_servers()
    path = tmp_path / "inventory.yml"
    path.write_text(render_inventory(servers, settings))
    result = run_ansible(tmp_path, "ansible-inventory", "-i", str(path), "--list")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)["_meta"]["hostvars"]
    # ansible-inventory writes untrusted strings as {"__ansible_unsafe": ...}, as we do.
    assert listed == dynamic_inventory(servers, settings)["_meta"]["hostvars"]


def test_a_template_in_a_record_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"{{{{ lookup('pipe', 'touch {marker}') }}}}"
    path = tmp_path / "inventory.yml"
    path.write_text(render_inventory([Server(id=1, name="web-1", host=payload)], Settings()))
    command = ["ansible", "-i", str(path), "all", "-c", "local", "-m", "debug"]

    result = run_ansible(tmp_path, *command, "-a", "var=ansible_host")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not marker.exists()
    assert "lookup('pipe', 'touch" in result.stdout

    # The same file without the tags does run the lookup: the test can see it.
    path.write_text(path.read_text().replace("!unsafe ", ""))
    run_ansible(tmp_path, *command, "-a", "var=ansible_host")
    assert marker.exists()


# dynamic inventory (the script protocol)


def test_script_inventory_values_come_back_exact_and_untrusted(tmp_path):
    settings = settings_for(tmp_path)
    servers = hostile_servers()
    inventory = load(script_printing(tmp_path, dynamic_inventory(servers, settings)))
    hosts = {host.name: host for host in inventory.get_hosts()}
    assert sorted(hosts) == sorted(NAMES)
    for server in servers:
        assert own_vars(hosts[server.name]) == connection_vars(server, settings)
        untrusted_strings(own_vars(hosts[server.name]))


def test_script_strings_without_the_wrapper_would_be_trusted(tmp_path):
    """Why dynamic_inventory wraps: ansible-core 2.19 trusts plain script hostvars."""
    document = {"_meta": {"hostvars": {"a": {"v": "{{ x }}"}}}, "all": {"hosts": ["a"]}}
    (host,) = load(script_printing(tmp_path, document)).get_hosts()
    assert is_trusted_as_template(host.vars["v"])


def test_host_vars_wrap_every_string(tmp_path):
    found = host_vars(Server(id=3, name="a", host="{{ x }}"), settings_for(tmp_path))
    assert found["ansible_host"] == {"__ansible_unsafe": "{{ x }}"}
    assert found["ansible_port"] == 22
    assert found["pbd_server_id"] == 3


# select_servers


async def test_select_servers(settings):
    async with database(settings.database_url):
        one = await Server.create(name="one", host="10.0.0.1")
        two = await Server.create(name="two", host="10.0.0.2")
        app = await App.create(
            name="shop", server=two, remote_path="/srv/apps/shop", service_name="shop"
        )
        assert [s.id for s in await select_servers()] == [one.id, two.id]
        assert [s.id for s in await select_servers(server_id=one.id)] == [one.id]
        assert [s.id for s in await select_servers(app_id=app.id)] == [two.id]
        with pytest.raises(NotFound):
            await select_servers(server_id=99)
        with pytest.raises(NotFound):
            await select_servers(app_id=99)

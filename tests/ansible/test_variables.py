"""Extra vars reach Ansible as data: read back by ansible-core itself, exact and untrusted."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import is_trusted_as_template

from service.ansible import runner
from service.ansible.content import ANSIBLE_CONFIG
from service.ansible.runner import PlaybookSpec, run_playbook
from service.ansible.variables import extravars_json, untrusted

PAYLOADS = [
    "{{ lookup('pipe', 'id') }}",
    "{% for x in range(3) %}{{ x }}{% endfor %}{# c #}",
    "${{ x }} {{x}}",
    "yes",
    "0x1F",
    "emoji \U0001f600 \\ud83d",
]

VARIABLES = {
    "app_deploy_health_command": [PAYLOADS[0], PAYLOADS[1]],
    "app_deploy_pre_hooks": [[PAYLOADS[2], PAYLOADS[3]], [PAYLOADS[4]]],
    "firewall_allowed_ports": [{"port": 8080, "proto": PAYLOADS[0]}],
    "nested": {"{{ key }}": {"{% raw %}": [PAYLOADS[5], None, True, 0, -3, 1.5]}},
    "plain": PAYLOADS[1],
    "number": 22,
    "flag": False,
    "nothing": None,
}


def load_like_ansible(path: Path) -> object:
    """How `ansible.utils.vars.load_extra_vars` reads `-e @path`: trusted as a template."""
    return DataLoader().load_from_file(str(path), trusted_as_template=True, cache="none")


def trusted_strings(value: object) -> list[str]:
    """Every string (values and mapping keys, at any depth) Ansible would template."""
    if isinstance(value, str):
        return [value] if is_trusted_as_template(value) else []
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in trusted_strings(key) + trusted_strings(item)
        ]
    if isinstance(value, list):
        return [found for item in value for found in trusted_strings(item)]
    return []


def test_every_string_loads_untrusted_and_every_value_exact(tmp_path):
    path = tmp_path / "extravars"
    path.write_text(extravars_json(VARIABLES))
    loaded = load_like_ansible(path)
    assert loaded == VARIABLES
    assert trusted_strings(loaded) == []
    _, nothing, flag, zero, negative, fraction = loaded["nested"]["{{ key }}"]["{% raw %}"]
    assert nothing is None and flag is True
    assert all(isinstance(n, int) and not isinstance(n, bool) for n in (zero, negative))
    assert isinstance(fraction, float)


def test_without_the_marking_ansible_trusts_the_same_values(tmp_path):
    """The check above can fail: plain JSON in the same file is templated."""
    path = tmp_path / "extravars"
    path.write_text(json.dumps(VARIABLES))
    assert set(PAYLOADS) <= set(trusted_strings(load_like_ansible(path)))


def test_untrusted_wraps_every_nested_string_and_keeps_the_rest():
    marked = untrusted({"a": ["x", 1, None, True, 2.5, ("y", {"k": "z"})], "b": 7})
    assert marked == {
        "a": [
            {"__ansible_unsafe": "x"},
            1,
            None,
            True,
            2.5,
            [{"__ansible_unsafe": "y"}, {"k": {"__ansible_unsafe": "z"}}],
        ],
        "b": 7,
    }


@pytest.mark.parametrize(
    "value",
    [
        {"__ansible_unsafe": "x"},  # the decoder would read it as its own marker ...
        {"__ansible_vault": "x"},
        {"__ansible_type": "x"},
        ["lone \ud800 surrogate"],  # ... or fail, and a failure falls back to trusted YAML
        {"lone \udfff key": 1},
        float("nan"),
        float("inf"),
        {1: "not a string key"},
        {"a set"},
        b"bytes",
        object(),
    ],
)
def test_what_ansible_could_not_read_back_as_data_is_refused(value):
    with pytest.raises((TypeError, ValueError)):
        extravars_json({"v": value})


@pytest.mark.parametrize("name", ["not an identifier", "{{ x }}", "1st", "", "__ansible_unsafe"])
def test_variable_names_must_be_identifiers(name):
    with pytest.raises(ValueError):
        extravars_json({name: 1})


def test_a_real_playbook_gets_the_literal_text_and_runs_nothing(tmp_path):
    """ansible-playbook itself, on the controller: marked vars are printed, never evaluated;
    the same vars as ansible-runner's inline `-e` JSON run the lookup (the hole)."""
    proof = tmp_path / "proof"
    payload = f"{{{{ lookup('pipe', 'touch {proof}') }}}}{{% if true %}}!{{% endif %}}"
    playbook = tmp_path / "copy.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.copy:\n"
        "        content: '{{ payload }}'\n        dest: '{{ out }}'\n        mode: '0600'\n"
    )
    marked = tmp_path / "marked.json"
    marked.write_text(extravars_json({"payload": payload, "out": str(tmp_path / "marked.out")}))
    inline = json.dumps({"payload": payload, "out": str(tmp_path / "inline.out")})
    ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
    base = [ansible_playbook, "-i", "localhost,", "-c", "local", str(playbook), "-e"]

    env = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE_CONFIG)}  # the service's interpreter
    subprocess.run([*base, f"@{marked}"], check=True, capture_output=True, timeout=120, env=env)
    assert (tmp_path / "marked.out").read_text() == payload
    assert not proof.exists()

    subprocess.run([*base, inline], check=True, capture_output=True, timeout=120, env=env)
    assert (tmp_path / "inline.out").read_text() == "!"
    assert proof.exists()


class FakeRunner:
    """Stands in for `ansible_runner.run_async`: records its arguments and the run dir."""

    def __init__(self) -> None:
        self.kwargs: dict[str, object] = {}
        self.extravars_file: str | None = None

    def __call__(self, **kwargs):
        self.kwargs = kwargs
        path = Path(kwargs["private_data_dir"]) / "env" / "extravars"
        self.extravars_file = path.read_text() if path.exists() else None
        thread = threading.Thread(target=lambda: None)
        thread.start()
        return thread, SimpleNamespace(status="successful", rc=0)


async def test_run_playbook_always_marks_the_extravars(tmp_path, monkeypatch):
    fake = FakeRunner()
    monkeypatch.setattr(runner.ansible_runner, "run_async", fake)
    run_dir = tmp_path / "run"
    spec = PlaybookSpec(playbook="ping.yml", inventory="all: {}\n", extravars=VARIABLES)

    result = await run_playbook(spec, run_dir, lambda event: None)

    assert result.status == "successful"
    # No dict for ansible-runner to turn into an inline (trusted) `-e` JSON.
    assert fake.kwargs.get("extravars") is None
    assert fake.extravars_file == extravars_json(VARIABLES)
    path = tmp_path / "extravars"
    path.write_text(fake.extravars_file)
    assert trusted_strings(load_like_ansible(path)) == []
    assert not run_dir.exists()


async def test_variables_that_cannot_be_marked_stop_the_run_before_it_starts(tmp_path, monkeypatch):
    fake = FakeRunner()
    monkeypatch.setattr(runner.ansible_runner, "run_async", fake)
    run_dir = tmp_path / "run"
    spec = PlaybookSpec(playbook="ping.yml", inventory="all: {}\n", extravars={"v": {"x"}})

    with pytest.raises(TypeError):
        await run_playbook(spec, run_dir, lambda event: None)

    assert fake.kwargs == {}
    assert not run_dir.exists()

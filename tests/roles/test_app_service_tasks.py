"""The app_service role's remote commands: a read costs one round trip per thing it reads."""

from typing import Any

import yaml

from service.ansible.content import ROLES_DIR

TASKS_DIR = ROLES_DIR / "app_service" / "tasks"


def _remote_commands(tasks_file: str) -> list[list[str]]:
    """The argv of every `command` task of a tasks file (all that reach the host)."""
    tasks: list[dict[str, Any]] = yaml.safe_load((TASKS_DIR / tasks_file).read_text())
    return [
        task["ansible.builtin.command"]["argv"]
        for task in tasks
        if "ansible.builtin.command" in task
    ]


def test_a_status_read_asks_systemctl_once():
    main = yaml.safe_load((TASKS_DIR / "main.yml").read_text())[0]["block"]
    always_included = [
        task["ansible.builtin.include_tasks"]
        for task in main
        if "ansible.builtin.include_tasks" in task and "when" not in task
    ]
    commands = [argv for name in always_included for argv in _remote_commands(name)]
    assert len(commands) == 1, commands
    assert commands[0][:2] == ["/usr/bin/systemctl", "show"]
    assert any("LoadState" in arg for arg in commands[0])

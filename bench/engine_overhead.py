"""Engine overhead: a playbook run through the service's API vs plain `ansible-playbook`.

The service runs one task per server, and each task is one `ansible-playbook` run (under
ansible-runner) over a one-host inventory. The fair baseline is therefore the same: per
host, one plain `ansible-playbook -i <that host's inventory> playbooks/<playbook>` as a
subprocess, the inventory rendered by `render_inventory` from the same server record and
settings as the service's, the same ANSIBLE_CONFIG, extra vars and SSH ControlPath directory
(so both sides share the same warm ControlPersist master connections and known_hosts).

One round = every host at once (N subprocesses started together, or N POSTs sent together);
its wall time ends when the last host is done:
  plain: from spawning the processes to the last exit;
  API:   from sending the POSTs to the last final `task.status` received over a WebSocket
         subscribed to "all" (poll-free).
One warm-up round each (host keys, ControlPersist), then `--runs` rounds of each, interleaved.

    .venv/bin/python -m bench.engine_overhead [--hosts 2] [--runs 5] [--playbook ping]
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ServiceClient, TaskWatcher, run_command, run_on_lab_hosts
from service.ansible.content import ANSIBLE_CONFIG, PLAYBOOKS_DIR, PROJECT_DIR
from service.ansible.inventory import render_inventory
from service.ansible.sshkeys import control_dir
from service.config import Settings
from service.models import Server
from tests.service_process import running_service

# playbook -> (API operation, extra vars the service passes: see service.tasks.kinds)
PLAYBOOKS = {
    "ping": ("test-connection", lambda server: {}),
    "audit": (
        "security/audit",
        lambda server: {
            "audit_ssh_port": server["port"],
            "audit_expected_allow_users": [server["app_username"]],
        },
    ),
}


def server_record(body: dict) -> Server:
    """The `Server` the engine loads for a task, rebuilt from the API's reply."""
    return Server(
        id=body["id"],
        name=body["name"],
        host=body["host"],
        port=body["port"],
        root_username=body["root_username"],
        app_username=body["app_username"],
        use_ssh_agent=body["use_ssh_agent"],
        manual_key_path=body["manual_key_path"],
        security_locked=body["security_locked"],
    )


async def plain_round(commands: list[list[str]], env: dict[str, str]) -> list[float]:
    """Run the commands at once; seconds from the common start to each one's exit."""
    started = time.perf_counter()

    async def one(argv: list[str]) -> float:
        await run_command(argv, PROJECT_DIR, env)
        return time.perf_counter() - started

    return list(await asyncio.gather(*(one(argv) for argv in commands)))


async def api_round(
    client: ServiceClient,
    watcher: TaskWatcher,
    server_ids: list[int],
    operation: str,
    phases: list[tuple[float, float, float]] | None = None,
) -> list[float]:
    """POST the operation for every server at once; seconds until each final status arrived.

    Appends to `phases`, per task: POST -> `running` status, `running` -> last `task.event`
    received, last event -> final status received (seconds).
    """
    started = time.perf_counter()
    tasks = await asyncio.gather(*(client.start(sid, operation) for sid in server_ids))
    done = await asyncio.wait_for(
        asyncio.gather(*(watcher.finished(task["id"]) for task in tasks)), timeout=600
    )
    for received, task in done:
        assert task["status"] == "successful", task
        running = watcher.status_at(task["id"], "running") or started
        last = watcher.last_event.get(task["id"], received)
        if phases is not None:
            phases.append((running - started, last - running, received - last))
    return [received - started for received, _ in done]


async def bench(harness, hosts, args: argparse.Namespace) -> None:
    operation, extravars_of = PLAYBOOKS[args.playbook]
    playbook = PLAYBOOKS_DIR / f"{args.playbook}.yml"
    with tempfile.TemporaryDirectory(prefix="pbd-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        work = Path(tmp) / "plain"
        work.mkdir()
        settings = Settings(data_dir=data_dir)
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(ANSIBLE_CONFIG),
            # The engine's ControlPath directory (TaskEngine._envvars): shared masters.
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir(settings)),
        }
        ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
        extra = {"PBD_LOG_LEVEL": "WARNING"}
        async with running_service(data_dir, extra_env=extra) as service:
            client = ServiceClient(service.base_url, service.token)
            try:
                servers = [await client.create_server(h, harness.private_key) for h in hosts]
                commands = []
                for body in servers:
                    inventory = work / f"{body['name']}.yml"
                    inventory.write_text(render_inventory([server_record(body)], settings))
                    extravars = work / f"{body['name']}-extravars.json"
                    extravars.write_text(json.dumps(extravars_of(body)))
                    commands.append(
                        [ansible_playbook, "-i", str(inventory), "-e", f"@{extravars}", playbook]
                    )
                server_ids = [body["id"] for body in servers]
                async with TaskWatcher(client) as watcher:
                    await api_round(client, watcher, server_ids, operation)  # warm-up
                    await plain_round(commands, env)  # warm-up
                    plain, api, phases = [], [], []
                    for run in range(args.runs):
                        # Alternate which side goes first, so neither always follows the other.
                        if run % 2 == 0:
                            plain.append(await plain_round(commands, env))
                            api.append(
                                await api_round(client, watcher, server_ids, operation, phases)
                            )
                        else:
                            api.append(
                                await api_round(client, watcher, server_ids, operation, phases)
                            )
                            plain.append(await plain_round(commands, env))
            finally:
                await client.close()
    report(args, [h.name for h in hosts], plain, api, phases)


def report(
    args: argparse.Namespace, names: list[str], plain: list, api: list, phases: list
) -> None:
    def fmt(values: list[float]) -> str:
        return " ".join(f"{v:.3f}" for v in values)

    plain_walls = [max(r) for r in plain]
    api_walls = [max(r) for r in api]
    print(
        f"playbook {args.playbook}.yml, {len(names)} host(s) at once "
        f"(one server record, one task and one ansible-playbook per host), "
        f"{args.runs} interleaved runs each after 1 warm-up"
    )
    print(f"plain ansible-playbook round wall (s): {fmt(plain_walls)}")
    print(f"service API round wall (s):           {fmt(api_walls)}")
    for i, name in enumerate(names):
        p = statistics.median(r[i] for r in plain)
        a = statistics.median(r[i] for r in api)
        print(f"  {name}: median plain {p:.3f}s, API {a:.3f}s, overhead {(a / p - 1) * 100:+.1f}%")
    queue, run, finish = (statistics.median(values) * 1000 for values in zip(*phases, strict=True))
    print(
        f"  API per task, medians: POST -> running {queue:.0f}ms, running -> last event "
        f"{run:.0f}ms, last event -> final status {finish:.0f}ms"
    )
    pairs = [a / p for a, p in zip(api_walls, plain_walls, strict=True)]
    print(f"  per-pair ratio API/plain (run i vs run i): {' '.join(f'{r:.3f}' for r in pairs)}")
    p, a = statistics.median(plain_walls), statistics.median(api_walls)
    print(f"median round wall: plain {p:.3f}s (baseline), API {a:.3f}s")
    print(f"overhead API vs plain: {(a - p) * 1000:+.0f}ms = {(a / p - 1) * 100:+.1f}% (aim <= 3%)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--playbook", choices=sorted(PLAYBOOKS), default="ping")
    args = parser.parse_args()
    run_on_lab_hosts(bench, args)


if __name__ == "__main__":
    main()

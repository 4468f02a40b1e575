"""What an app's environment adds to a deploy, against the deploy itself in the same run.

One `pb-deployer serve` and one lab host (set up first). The app gets `--variables`
variables (every fifth a secret), then `--rounds` deploys of new versions alternate its
slots. For each deploy: its wall time (POST to the final `task.status` over the WebSocket,
the baseline), and the time of the role's two environment tasks (the directory, and the
decrypting copy of the vault-encrypted file), from their runner events' `duration`. The
controller's share (decrypting the secrets and vault-encrypting the file) is timed apart,
in this process, over the same variables.

    PBD_HOSTS_LAB=4 .venv/bin/python -m bench.deploy_environment [--rounds 4] [--variables 50]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import ServiceClient, TaskWatcher, api_json, run_on_lab_hosts, run_together
from bench.deploy import upload
from tests.roles.fixtures import build_zip
from tests.service_process import running_service

ENV_TASKS = ("Create the environment files' directory", "Write the slot's environment file")


def variables(count: int) -> list[dict]:
    return [
        {"name": f"VAR_{i}", "value": f"value-{i}-" + "x" * 40, "secret": i % 5 == 0}
        for i in range(count)
    ]


async def env_step_seconds(client: ServiceClient, task_id: int) -> float:
    events = await api_json(client, "GET", f"tasks/{task_id}/events?limit=5000")
    return sum(
        item["event"].get("duration") or 0
        for item in events["items"]
        if item["event"]["event"] == "runner_on_ok"
        and any(name in (item["event"].get("task") or "") for name in ENV_TASKS)
    )


async def bench(harness, hosts, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="pbd-bench-env-") as tmp:
        extra = {"PBD_LOG_LEVEL": "WARNING"}
        async with running_service(Path(tmp) / "data", extra_env=extra) as service:
            client = ServiceClient(service.base_url, service.token)
            try:
                async with TaskWatcher(client) as watcher:
                    return await rounds(client, watcher, harness, hosts[0], Path(tmp), args)
            finally:
                await client.close()


async def rounds(client, watcher, harness, host, tmp: Path, args) -> dict:
    server = await client.create_server(host, harness.private_key)
    setup, _, _ = await run_together(
        client, watcher, [(f"servers/{server['id']}/setup", {"upgrade": False})]
    )
    print(f"  setup: {setup:.1f}s")
    app = {"name": "shop", "server_id": server["id"], "remote_path": "/srv/apps/shop",
           "service_name": "shop"}  # fmt: skip
    app_id = (await api_json(client, "POST", "apps", app, status=201))["id"]
    body = {"variables": variables(args.variables)}
    await api_json(client, "PUT", f"apps/{app_id}/env", body)
    walls, steps = [], []
    for round_number in range(args.rounds):
        version = f"1.0.{round_number}"
        record, _ = await upload(client, app_id, version, build_zip(version, directory=tmp))
        wall, (reply,), _ = await run_together(
            client, watcher, [(f"apps/{app_id}/deploy", {"version_id": record["id"]})]
        )
        step = await env_step_seconds(client, reply["task"]["id"])
        walls.append(wall)
        steps.append(step)
        print(f"  deploy {version}: {wall:.1f}s, environment tasks {step:.2f}s")
    return {"walls": walls, "steps": steps, "controller": controller_seconds(args, tmp)}


def controller_seconds(args: argparse.Namespace, tmp: Path) -> float:
    """Decrypting the secrets and vault-encrypting the file, as a deploy does it."""
    from ansible.constants import DEFAULT_VAULT_ID_MATCH
    from ansible.parsing.vault import VaultLib, VaultSecret

    from service.storage.secrets import SecretBox

    box = SecretBox(tmp / "bench.key")
    sealed = [box.encrypt(item["value"]) for item in variables(args.variables)]
    started = time.perf_counter()
    content = "\n".join(f"V={box.decrypt(token)}" for token in sealed)
    VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(b"per-run"))]).encrypt(content.encode())
    return time.perf_counter() - started


def report(args: argparse.Namespace, figures: dict) -> None:
    wall = statistics.median(figures["walls"])
    step = statistics.median(figures["steps"])
    controller = figures["controller"]
    print(f"{args.variables} variables ({args.variables // 5} secrets), {args.rounds} deploys")
    print(f"deploy wall time p50 (baseline): {wall:.1f}s")
    print(f"environment tasks on the host p50: {step:.2f}s = {100 * step / wall:.1f}% of it")
    print(f"controller: decrypt + vault-encrypt: {controller * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--variables", type=int, default=50)
    args = parser.parse_args()
    args.hosts = 1
    report(args, run_on_lab_hosts(bench, args))


if __name__ == "__main__":
    main()

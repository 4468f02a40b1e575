"""Deploying a large app zip through the service: 1 host, rolling on N hosts, blue-green.

The app is the sample web app of the role tests (GET / -> "version <v>") with an
incompressible file of `--zip-mb` MiB added, stored (assets/blob.bin), as built assets are.
One `pb-deployer serve` (PBD_WORKERS=N) and N lab-4 hosts, all set up first ({"upgrade":
false}: creates the app user; timed for information only). Then, one app:

  upload: v1's zip, POST /versions/{id}/upload (raw body), wall time and MiB/s;
  1 host: v1 deployed to the app's primary server alone (the baseline);
  rolling: the app put on all N servers (PUT /apps/{id}/servers), v2 uploaded, then a rolling
    deploy of v2 with `--batch-size` hosts per batch (default 1: one host after another).
    The primary host gets its second release, the others their first;
  blue-green: v3 deployed blue-green on the N hosts while a Poller per host requests the app
    through nginx every 50 ms, from before the POST until 0.5 s after the deploy finished:
    failed requests (aim 0) and total requests.

Deploy wall times run from the POST to the final `task.status` received over a WebSocket
subscribed to "all". The multi-host deploys are one task (one ansible-playbook run over the
N hosts); their per-host time (N-host time / N) is set against the 1-host time as a ratio.

    .venv/bin/python -m bench.deploy [--hosts 5] [--zip-mb 50] [--batch-size 1]
"""

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from bench.common import (
    ServiceClient,
    TaskWatcher,
    api_json,
    run_on_lab_hosts,
    run_together,
)
from tests.roles.fixtures import build_zip
from tests.service_process import running_service

MIB = 1024 * 1024


def big_zip(version: str, size_mb: int, directory: Path) -> Path:
    """The sample app's zip plus `size_mb` MiB of random bytes, stored, at assets/blob.bin."""
    small = build_zip(version, directory=directory / "small")
    path = directory / f"app-{version}-{size_mb}mb.zip"
    shutil.copyfile(small, path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_STORED) as archive:
        info = zipfile.ZipInfo("assets/blob.bin", date_time=(2026, 1, 1, 0, 0, 0))
        info.external_attr = 0o100644 << 16
        with archive.open(info, "w", force_zip64=True) as entry:
            for _ in range(size_mb):
                entry.write(os.urandom(MIB))
    return path


async def upload(client: ServiceClient, app_id: int, version: str, zip_path: Path) -> tuple:
    """A new version with its zip uploaded; (version record, upload seconds)."""
    record = await api_json(
        client, "POST", "versions", {"app_id": app_id, "version_number": version}, status=201
    )
    data = await asyncio.to_thread(zip_path.read_bytes)
    url = f"{client.base_url}/api/v1/versions/{record['id']}/upload"
    started = time.perf_counter()
    headers = {"Content-Type": "application/zip"}
    async with client.session.post(url, data=data, headers=headers) as response:
        reply = await response.json()
        assert response.status == 201, reply
    return record, time.perf_counter() - started


async def deploy(
    client: ServiceClient, watcher: TaskWatcher, app_id: int, version: dict, **options
) -> tuple[float, dict]:
    """Deploy `version` to all the app's servers; (wall seconds, the deployment's status)."""
    body = {"version_id": version["id"], **options}
    wall, (reply,), _ = await run_together(client, watcher, [(f"apps/{app_id}/deploy", body)])
    status = await api_json(client, "GET", f"deployments/{reply['deployment']['id']}/status")
    deployment = status["deployment"]
    assert deployment["status"] == "completed", (deployment["status"], deployment["error"])
    hosts = {name: result.get("status") for name, result in deployment["host_results"].items()}
    assert set(hosts.values()) == {"deployed"}, hosts
    return wall, status


async def serving(hosts, version: str) -> None:
    from tests.http_probe import get  # after lab_hosts: tests.hosts reads the lab at import

    for host in hosts:
        status, body = await asyncio.to_thread(get, host)
        assert (status, body) == (200, f"version {version}"), (host.name, status, body)


async def bench(harness, hosts, args: argparse.Namespace) -> dict:
    n = len(hosts)
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="pbd-bench-deploy-") as tmp:
        zips = {v: big_zip(v, args.zip_mb, Path(tmp)) for v in ("1.0.0", "2.0.0", "3.0.0")}
        figures["zip_bytes"] = zips["1.0.0"].stat().st_size
        extra = {"PBD_LOG_LEVEL": "WARNING", "PBD_WORKERS": str(n)}
        async with running_service(Path(tmp) / "data", extra_env=extra) as service:
            client = ServiceClient(service.base_url, service.token)
            try:
                async with TaskWatcher(client) as watcher:
                    figures.update(await rounds(client, watcher, harness, hosts, zips, args))
            finally:
                await client.close()
    return figures


async def rounds(client, watcher, harness, hosts, zips, args) -> dict:
    from tests.http_probe import Poller  # after lab_hosts: tests.hosts reads the lab at import

    n = len(hosts)
    servers = [await client.create_server(h, harness.private_key) for h in hosts]
    ids = [server["id"] for server in servers]
    requests = [(f"servers/{sid}/setup", {"upgrade": False}) for sid in ids]
    setup, _, _ = await run_together(client, watcher, requests)
    print(f"  setup of {n} hosts at once: {setup:.1f}s")
    app = {"name": "shop", "server_id": ids[0], "remote_path": "/srv/apps/shop",
           "service_name": "shop"}  # fmt: skip
    app_id = (await api_json(client, "POST", "apps", app, status=201))["id"]

    v1, upload_s = await upload(client, app_id, "1.0.0", zips["1.0.0"])
    print(f"  upload of v1: {upload_s:.2f}s")
    one, _ = await deploy(client, watcher, app_id, v1)
    await serving(hosts[:1], "1.0.0")
    print(f"  deploy v1 to 1 host: {one:.1f}s")

    await api_json(client, "PUT", f"apps/{app_id}/servers", {"server_ids": ids[1:]})
    v2, _ = await upload(client, app_id, "2.0.0", zips["2.0.0"])
    rolling, _ = await deploy(
        client, watcher, app_id, v2, strategy="rolling", batch_size=args.batch_size
    )
    await serving(hosts, "2.0.0")
    print(f"  rolling deploy v2 to {n} hosts (batch_size {args.batch_size}): {rolling:.1f}s")

    v3, _ = await upload(client, app_id, "3.0.0", zips["3.0.0"])
    pollers = [Poller(host) for host in hosts]
    for poller in pollers:
        poller.start()
    try:
        blue_green, _ = await deploy(client, watcher, app_id, v3, strategy="blue-green")
        await asyncio.sleep(0.5)
    finally:
        await asyncio.gather(*(asyncio.to_thread(poller.stop) for poller in pollers))
    await serving(hosts, "3.0.0")
    print(f"  blue-green deploy v3 to {n} hosts under load: {blue_green:.1f}s")
    return {
        "setup": setup,
        "upload": upload_s,
        "one": one,
        "rolling": rolling,
        "blue_green": blue_green,
        "requests": [sum(p.answers.values()) + len(p.failures) for p in pollers],
        "failures": [p.failures for p in pollers],
        "answers": [dict(p.answers) for p in pollers],
    }


def report(args: argparse.Namespace, f: dict) -> None:
    n = args.hosts
    size = f["zip_bytes"] / MIB
    print(
        f"app zip {size:.1f} MiB (sample app + {args.zip_mb} MiB stored random), "
        f"{n} hosts, PBD_WORKERS={n}"
    )
    print(f"upload: {f['upload']:.2f}s = {size / f['upload']:.0f} MiB/s")
    print(f"deploy to 1 host (baseline): {f['one']:.1f}s")
    for label, wall in (
        (f"rolling, batch_size {args.batch_size}", f["rolling"]),
        ("blue-green, under load", f["blue_green"]),
    ):
        per_host = wall / n
        print(
            f"deploy to {n} hosts, {label}: {wall:.1f}s; per host {per_host:.1f}s "
            f"vs 1 host {f['one']:.1f}s: ratio {per_host / f['one']:.2f}x"
        )
    failed = sum(len(failures) for failures in f["failures"])
    print(
        f"blue-green under load: {failed} failed requests of {sum(f['requests'])} "
        f"(per host {f['requests']}) (aim 0)"
    )
    for host_failures in f["failures"]:
        for failure in host_failures[:5]:
            print(f"  failed: {failure}")
    print(f"  answers per host: {f['answers']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--zip-mb", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=1, choices=(1, 2))
    args = parser.parse_args()
    if args.hosts < 2:
        parser.error("--hosts must be at least 2")
    report(args, run_on_lab_hosts(bench, args))


if __name__ == "__main__":
    main()

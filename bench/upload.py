"""Upload of a large deploy zip: throughput against hashing the same file, and RSS growth.

The service must hash what it stores, so the baseline (same run, same file, from the page
cache) is `sha256sum` of the file. References beside it: `openssl dgst -sha256` (the same
SHA-256 code as Python's hashlib: it uses the CPU's SHA instructions where Debian's
coreutils do not) and `cp` into the same data directory (the disk write alone).
Memory: the service's peak RSS (VmHWM) during the upload minus its RSS just before it.
Then a hostile 1,000,000-entry zip (about 96 MB): time to its 422 and the same RSS figure.

    .venv/bin/python -m bench.upload [--size-mib 1024] [--runs 3]
"""

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import aiohttp

from tests.service_process import memory_kib, reset_peak, running_service
from tests.storage.zipcraft import write_many_entries

CHUNK = 4 * 1024 * 1024
BASELINES = {
    "sha256sum": ["sha256sum", "{source}"],
    "openssl": ["openssl", "dgst", "-sha256", "{source}"],
    "cp": ["cp", "{source}", "{copy}"],
}


def make_zip(path: Path, size: int) -> None:
    """A valid zip holding `size` bytes of random data, stored (ratio 1:1, like built assets)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        with archive.open("payload.bin", "w", force_zip64=True) as entry:
            left = size
            while left:
                block = os.urandom(min(CHUNK, left))
                entry.write(block)
                left -= len(block)
        archive.writestr("bin/start", "#!/bin/sh\nexec python3 server.py\n")


async def new_version(session: aiohttp.ClientSession, base: str) -> int:
    stamp = time.time_ns()
    server = await (
        await session.post(f"{base}/api/v1/servers", json={"name": f"s{stamp}", "host": "10.0.0.1"})
    ).json()
    app = {"name": f"a{stamp}", "server_id": server["id"], "remote_path": "/srv/a",
           "service_name": "a"}  # fmt: skip
    app = await (await session.post(f"{base}/api/v1/apps", json=app)).json()
    version = {"app_id": app["id"], "version_number": "1.0.0"}
    return (await (await session.post(f"{base}/api/v1/versions", json=version)).json())["id"]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def curl_upload(url: str, token: str, path: Path, expect: str = "201") -> float:
    """Upload with curl (a separate process, streaming the file: `-T`), timed to the reply."""
    started = time.perf_counter()
    result = subprocess.run(
        ["curl", "-sS", "-X", "POST", "-T", str(path), "-o", "/dev/null", "-w", "%{http_code}",
         "-H", "Content-Type: application/zip", "-H", f"Authorization: Bearer {token}",
         "-H", "Expect:", url],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    assert result.stdout == expect, result.stdout + result.stderr
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        work = Path(tmp)
        source = work / "build.zip"
        started = time.perf_counter()
        make_zip(source, size)
        took = time.perf_counter() - started
        print(f"made a {source.stat().st_size / 2**20:.0f} MiB zip in {took:.1f}s")
        data_dir = work / "data"
        data_dir.mkdir()
        env = {
            "PBD_MAX_UPLOAD_BYTES": str(2 * size),
            "PBD_MAX_UNZIPPED_BYTES": str(2 * size),
            "PBD_LOG_LEVEL": "WARNING",
        }
        async with running_service(data_dir, extra_env=env) as service:
            pid = service.process.pid
            baselines: dict[str, list[float]] = {name: [] for name in BASELINES}
            upload_times, growth = [], []
            for run in range(args.runs):
                copy = data_dir / f"cp-{run}.zip"
                for name, command in BASELINES.items():
                    os.sync()
                    command = [part.format(source=source, copy=copy) for part in command]
                    baselines[name].append(await asyncio.to_thread(timed, command))
                copy.unlink()
                headers = {"Authorization": f"Bearer {service.token}"}
                async with aiohttp.ClientSession(headers=headers) as session:
                    version_id = await new_version(session, service.base_url)
                url = f"{service.base_url}/api/v1/versions/{version_id}/upload"
                reset_peak(pid)
                before = memory_kib(pid, "VmRSS")
                upload_times.append(
                    await asyncio.to_thread(curl_upload, url, service.token, source)
                )
                os.sync()
                growth.append((memory_kib(pid, "VmHWM") - before) / 1024)
            many = write_many_entries(work / "many.zip", 1_000_000)
            many_mib = many.stat().st_size / 2**20
            async with aiohttp.ClientSession(headers=headers) as session:
                version_id = await new_version(session, service.base_url)
            url = f"{service.base_url}/api/v1/versions/{version_id}/upload"
            reset_peak(pid)
            before = memory_kib(pid, "VmRSS")
            refused_in = await asyncio.to_thread(curl_upload, url, service.token, many, "422")
            many_growth = (memory_kib(pid, "VmHWM") - before) / 1024
    mib = size / 2**20
    best_up = min(upload_times)
    for name, times in [*baselines.items(), ("upload", upload_times)]:
        runs = ", ".join(f"{t:.2f}s" for t in times)
        print(f"{name:9} {runs} -> best {mib / min(times):.0f} MiB/s")
    for name, times in baselines.items():
        print(f"throughput ratio upload/{name} (best runs): {min(times) / best_up:.2f}x")
    figures = ", ".join(f"{g:.1f}" for g in growth)
    print(f"service peak RSS growth during upload: {figures} MiB (max {max(growth):.1f})")
    print(
        f"1,000,000-entry zip ({many_mib:.0f} MiB) refused in "
        f"{refused_in:.2f}s, peak RSS growth {many_growth:.1f} MiB"
    )


if __name__ == "__main__":
    asyncio.run(main())

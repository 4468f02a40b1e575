"""The service's memory while it receives and checks many-entry zips (a real process).

Growth = the process's peak RSS (VmHWM, reset just before) minus its RSS before the upload.
"""

from pathlib import Path

import aiohttp

from tests.service_process import memory_kib, reset_peak, running_service
from tests.storage.zipcraft import write_many_entries

MAX_GROWTH_KIB = 64 * 1024


async def _upload_growth(session, base: str, pid: int, path: Path) -> tuple[int, dict, int]:
    server = {"name": f"s-{path.stem}", "host": "10.0.0.1"}
    async with session.post(f"{base}/api/v1/servers", json=server) as reply:
        server_id = (await reply.json())["id"]
    app = {"name": f"a-{path.stem}", "server_id": server_id, "remote_path": "/srv/a",
           "service_name": "a"}  # fmt: skip
    async with session.post(f"{base}/api/v1/apps", json=app) as reply:
        app_id = (await reply.json())["id"]
    async with session.post(
        f"{base}/api/v1/versions", json={"app_id": app_id, "version_number": "1.0.0"}
    ) as reply:
        version_id = (await reply.json())["id"]
    before = memory_kib(pid, "VmRSS")
    reset_peak(pid)
    with path.open("rb") as body:
        async with session.post(
            f"{base}/api/v1/versions/{version_id}/upload",
            data=body,
            headers={"Content-Type": "application/zip"},
        ) as reply:
            status, answer = reply.status, await reply.json()
    return status, answer, memory_kib(pid, "VmHWM") - before


async def test_many_entry_zips_keep_the_service_memory_flat(tmp_path):
    huge = write_many_entries(tmp_path / "million.zip", 1_000_000)  # ~96 MB, zip64
    allowed = write_many_entries(tmp_path / "tenthousand.zip", 10_000)
    async with running_service(tmp_path / "data") as service:
        headers = {"Authorization": f"Bearer {service.token}"}
        pid = service.process.pid
        async with aiohttp.ClientSession(headers=headers) as session:
            status, answer, growth = await _upload_growth(session, service.base_url, pid, huge)
            assert status == 422, answer
            assert "1000000 entries" in answer["error"]["details"]["zip"][0]
            assert growth < MAX_GROWTH_KIB, f"{growth} KiB"
            print(f"1,000,000 entries: refused, RSS growth {growth} KiB")
            status, answer, growth = await _upload_growth(session, service.base_url, pid, allowed)
            assert status == 201, answer
            assert growth < MAX_GROWTH_KIB, f"{growth} KiB"
            print(f"10,000 entries: accepted, RSS growth {growth} KiB")

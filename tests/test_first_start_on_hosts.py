"""The service as a newcomer starts it: from some directory, with a relative data dir."""

import pytest

from tests.service_process import running_service

pytestmark = pytest.mark.hosts


async def test_a_relative_data_dir_runs_playbooks_against_a_real_host(
    tmp_path, target_hosts, running_hosts
):
    host = running_hosts[0]
    workdir = tmp_path / "somewhere"
    workdir.mkdir()
    async with running_service("data", cwd=workdir) as service:
        task, events = await service.connection_test("first", host.ip, target_hosts.private_key)
    assert task["status"] == "successful", task["error"]
    assert f"data:     {workdir / 'data'}" in service.output
    assert "ok: [first]" in events and "\\u001b" not in events, "plain text, no colours"
    assert (workdir / "data" / "pb-deployer.sqlite3").is_file()

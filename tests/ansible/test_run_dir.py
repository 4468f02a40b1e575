"""What a real run leaves in its private data dir while it runs, and after: the output goes
to the service as events only (no stdout or stderr copy on disk), and the dir is removed."""

from service.ansible.runner import PlaybookSpec, run_playbook
from tests.service_process import free_port


async def test_a_run_writes_no_output_files_and_leaves_no_run_dir(tmp_path):
    run_dir = tmp_path / "run"
    inventory = (
        "all:\n  hosts:\n    closed:\n      ansible_host: 127.0.0.1\n"
        f"      ansible_port: {free_port()}\n"
    )
    seen: list[str] = []
    files: set[str] = set()

    def on_event(event: dict) -> None:
        seen.append(event.get("event", ""))
        files.update(path.name for path in run_dir.rglob("*") if path.is_file())

    result = await run_playbook(
        PlaybookSpec(playbook="ping.yml", inventory=inventory), run_dir, on_event
    )

    assert result.status == "failed" and "runner_on_unreachable" in seen, seen
    assert files and not files & {"stdout", "stderr"}, sorted(files)
    assert not run_dir.exists()

"""The systemd unit `install-service` writes: sandboxed, unprivileged, no secret in it."""

import shutil
import subprocess
from pathlib import Path

import pytest

from service.config import Settings
from service.systemd_unit import InstallError, UnitSpec, check_spec, render_unit


def spec(**settings: object) -> UnitSpec:
    return UnitSpec(
        user="pb-deployer",
        python=Path("/opt/pb-deployer/bin/python"),
        settings=Settings(data_dir=Path("/var/lib/pb-deployer"), **settings),
    )


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_the_unit_runs_unprivileged_in_a_sandbox_that_can_write_only_the_data_dir(tmp_path):
    unit = directives(render_unit(spec()))
    assert unit["User"] == unit["Group"] == ["pb-deployer"]
    assert unit["ExecStart"] == ["/opt/pb-deployer/bin/python -m service serve"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ReadWritePaths"] == ["/var/lib/pb-deployer"]
    for name in ("NoNewPrivileges", "PrivateTmp", "ProtectKernelTunables", "RestrictSUIDSGID"):
        assert unit[name] == ["yes"], name
    assert unit["CapabilityBoundingSet"] == [""]
    assert unit["Restart"] == ["on-failure"]
    assert '"PBD_DATA_DIR=/var/lib/pb-deployer"' in unit["Environment"]


def test_a_database_password_goes_to_a_root_only_file_not_into_the_unit(tmp_path):
    url = "postgres://pbd:s3cret@db.example.com:5432/pbd"
    text = render_unit(spec(database_url=url))
    assert "s3cret" not in text
    assert directives(text)["EnvironmentFile"] == ["/etc/pb-deployer/environment"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path):
    draft = tmp_path / "pb-deployer.service"
    draft.write_text(render_unit(spec()).replace("/opt/pb-deployer/bin/python", "/bin/true"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(draft)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("data_dir", ["/var/lib/pb deployer", "/var/lib/$HOME", "/var/lib/50%"])
def test_values_systemd_would_split_or_expand_are_refused(data_dir):
    with pytest.raises(InstallError, match="not supported"):
        check_spec(
            UnitSpec("pb-deployer", Path("/usr/bin/python3"), Settings(data_dir=Path(data_dir)))
        )


def test_an_installation_the_service_user_cannot_read_is_refused(tmp_path):
    private = tmp_path / "private"
    (private / "bin").mkdir(parents=True)
    private.chmod(0o700)
    python = private / "bin" / "python"
    python.symlink_to("/usr/bin/python3")
    with pytest.raises(InstallError, match=r"cannot enter.*python3 -m venv /opt/pb-deployer"):
        check_spec(UnitSpec("pb-deployer", python, Settings(data_dir=Path("/var/lib/pbd"))))

"""The service key pair: created once, private, and only its public half ever handed out."""

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.ansible.sshkeys import control_dir, ensure_service_key, public_key
from service.config import Settings
from service.errors import ServiceUnavailable


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_a_private_ed25519_key_and_returns_the_public_line(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    line = ensure_service_key(settings)
    key = settings.ssh_key_path
    assert line.startswith("ssh-ed25519 ") and line.endswith(" pb-deployer")
    assert line == key.with_name("id_ed25519.pub").read_text().strip()
    assert mode(key.parent) == 0o700
    assert mode(key) == 0o600
    assert "PRIVATE KEY" in key.read_text()
    assert "PRIVATE" not in line


def test_is_idempotent_and_tightens_an_existing_directory(tmp_path):
    settings = Settings(data_dir=tmp_path)
    settings.ssh_dir.mkdir(mode=0o755)
    settings.ssh_dir.chmod(0o755)
    first = ensure_service_key(settings)
    private = settings.ssh_key_path.read_bytes()
    settings.ssh_key_path.chmod(0o644)
    assert ensure_service_key(settings) == first
    assert settings.ssh_key_path.read_bytes() == private
    assert mode(settings.ssh_dir) == 0o700
    assert mode(settings.ssh_key_path) == 0o600
    assert sorted(p.name for p in settings.ssh_dir.iterdir()) == ["id_ed25519", "id_ed25519.pub"]


def test_concurrent_callers_all_get_the_same_key(tmp_path):
    settings = Settings(data_dir=tmp_path)
    with ThreadPoolExecutor(8) as pool:
        lines = set(pool.map(lambda _: ensure_service_key(settings), range(8)))
    assert len(lines) == 1
    assert sorted(p.name for p in settings.ssh_dir.iterdir()) == ["id_ed25519", "id_ed25519.pub"]


def test_public_key_is_recreated_from_the_private_key(tmp_path):
    settings = Settings(data_dir=tmp_path)
    line = ensure_service_key(settings)
    settings.ssh_key_path.with_name("id_ed25519.pub").unlink()
    assert public_key(settings).split()[:2] == line.split()[:2]


def test_public_key_without_a_key_pair(tmp_path):
    with pytest.raises(ServiceUnavailable):
        public_key(Settings(data_dir=tmp_path))


def test_control_sockets_get_a_short_private_directory_whatever_the_data_dir(tmp_path):
    deep = Settings(data_dir=tmp_path / ("d" * 80) / "data")
    path = control_dir(deep)
    assert len(str(path / ("x" * 40))) < 100, "room for ssh's socket name within 108 bytes"
    assert path.stat().st_mode & 0o777 == 0o700
    assert control_dir(deep) == path != control_dir(Settings(data_dir=tmp_path / "other"))


def test_a_control_directory_planted_by_someone_else_is_refused(tmp_path):
    settings = Settings(data_dir=tmp_path / "planted")
    path = control_dir(settings)
    path.chmod(0o777)
    with pytest.raises(ServiceUnavailable, match="not a private directory"):
        control_dir(settings)
    path.rmdir()
    path.symlink_to(tmp_path)
    with pytest.raises(ServiceUnavailable, match="not a private directory"):
        control_dir(settings)
    path.unlink()

"""Where settings come from: flag > environment > configuration file > default, all absolute."""

import os
from pathlib import Path

import pytest

from service.config import (
    LETS_ENCRYPT,
    LETS_ENCRYPT_STAGING,
    ConfigError,
    Settings,
    default_data_dir,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.load(environ={"HOME": str(tmp_path / "home")})
    assert settings.data_dir.is_absolute()
    assert settings.data_dir == default_data_dir({"HOME": str(tmp_path / "home")})
    assert settings.database_url == f"sqlite://{settings.data_dir}/pb-deployer.sqlite3"


def test_the_default_data_dir_is_system_wide_for_root_and_per_user_otherwise(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_data_dir({}) == Path("/var/lib/pb-deployer")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert default_data_dir({"XDG_DATA_HOME": "/home/u/.data"}) == Path("/home/u/.data/pb-deployer")
    assert default_data_dir({}) == Path.home() / ".local/share/pb-deployer"


def test_relative_paths_are_made_absolute_when_settings_load(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.load(environ={"PBD_DATA_DIR": "data"})
    assert settings.data_dir == tmp_path / "data"
    assert settings.artifacts_dir.is_absolute() and settings.ssh_key_path.is_absolute()
    relative_db = Settings.load(environ={}, database_url="sqlite://db/x.sqlite3?journal_mode=WAL")
    assert relative_db.database_url == f"sqlite://{tmp_path}/db/x.sqlite3?journal_mode=WAL"


def test_flag_beats_environment_beats_file_beats_default(tmp_path):
    config = write(tmp_path / "config.toml", 'port = 9001\nhost = "0.0.0.0"\nworkers = 2\n')
    env = {"PBD_CONFIG": str(config), "PBD_PORT": "9002"}
    settings = Settings.load(environ=env, port=9003)
    assert (settings.port, settings.host, settings.workers) == (9003, "0.0.0.0", 2)
    assert Settings.load(environ=env).port == 9002
    assert Settings.load(environ={"PBD_CONFIG": str(config)}).port == 9001
    assert Settings.load(environ={}, config_file=config).port == 9001


def test_paths_in_the_file_are_relative_to_the_file(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    config = write(tmp_path / "etc" / "config.toml", 'data_dir = "../state"\n')
    monkeypatch.chdir("/")
    assert Settings.load(environ={}, config_file=config).data_dir == tmp_path / "etc/../state"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prot = 1\n", "unknown setting 'prot'"),
        ('port = "80"\n', "port must be an integer"),
        ("port = true\n", "port must be an integer"),
        ("host = 1\n", "host must be a string"),
        ("port = \n", "cannot be read"),
    ],
)
def test_a_bad_file_names_the_problem(tmp_path, text, message):
    config = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError, match=message):
        Settings.load(environ={}, config_file=config)


def test_a_named_file_must_exist_and_bad_numbers_in_the_environment_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(environ={"PBD_CONFIG": str(tmp_path / "missing.toml")})
    with pytest.raises(ConfigError, match="PBD_WORKERS must be an integer"):
        Settings.load(environ={"PBD_WORKERS": "four"})


def test_acme_settings_default_to_lets_encrypt_and_are_checked(tmp_path):
    settings = Settings.load(environ={}, data_dir=tmp_path)
    assert settings.acme_directory == LETS_ENCRYPT
    assert (settings.acme_email, settings.acme_ca_bundle) == ("", Path())
    staged = Settings.load(
        environ={"PBD_ACME_DIRECTORY": LETS_ENCRYPT_STAGING, "PBD_ACME_CA_BUNDLE": "ca.pem",
                 "PBD_ACME_EMAIL": "ops@example.com"},
        data_dir=tmp_path,
    )  # fmt: skip
    assert staged.acme_directory == LETS_ENCRYPT_STAGING
    assert staged.acme_ca_bundle.is_absolute() and staged.acme_email == "ops@example.com"
    with pytest.raises(ConfigError, match="PBD_ACME_DIRECTORY"):
        Settings.load(environ={"PBD_ACME_DIRECTORY": "http://acme.test/dir"}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="PBD_ACME_EMAIL"):
        Settings.load(environ={"PBD_ACME_EMAIL": "not an address"}, data_dir=tmp_path)

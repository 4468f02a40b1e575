"""Finding ansible-playbook: ansible-runner fails with rc 127 unless it is on PATH."""

import os
import shutil
import sys
from importlib import metadata
from pathlib import Path


def ensure_on_path() -> None:
    """Put this interpreter's bin directory (a venv's, say) first on PATH if it is not."""
    bin_dir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in parts:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *parts])


def ansible_playbook_path() -> str | None:
    return shutil.which("ansible-playbook")


def ansible_core_version() -> str | None:
    try:
        return metadata.version("ansible-core")
    except metadata.PackageNotFoundError:
        return None

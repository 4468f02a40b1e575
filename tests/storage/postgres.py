"""A throwaway PostgreSQL server for the tests: initdb in a temp dir, trust auth, loopback."""

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.service_process import free_port

PG_BIN = Path("/usr/lib/postgresql")


def _bin(name: str) -> str:
    found = sorted(PG_BIN.glob(f"*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is missing: apt-get install postgresql")
    return str(found[-1])


def _as_postgres(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, check=True
    )


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start PostgreSQL on 127.0.0.1 and yield a `postgres://` URL of an empty database."""
    root = Path(tempfile.mkdtemp(prefix="pbd-pg-"))
    shutil.chown(root, "postgres")
    data, port = root / "data", free_port()
    _as_postgres(_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off"
    log = str(root / "log")
    _as_postgres(_bin("pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", log, "start")
    try:
        deadline = time.monotonic() + 30
        while True:
            probe = [_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
            ready = subprocess.run(probe, check=False)
            if ready.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start")
            time.sleep(0.2)
        _as_postgres(_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "pbd_test")
        yield f"postgres://postgres:unused@127.0.0.1:{port}/pbd_test"
    finally:
        _as_postgres(_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def another_database(url: str, name: str) -> str:
    """Create database `name` on the server of `url`; its URL."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    _as_postgres(_bin("createdb"), "-h", "127.0.0.1", "-p", port, name)
    return f"{url.rsplit('/', 1)[0]}/{name}"

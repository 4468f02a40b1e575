"""The read-only Debian 12 base root filesystem that every target host overlays.

Built once with debootstrap (about a minute) and cached in the repo as a zstd tarball keyed by
a hash of everything that goes into it, so a changed recipe never reuses a stale base.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .system import CACHE_DIR, PROXY_URL, HostsError, ensure_private_dir, log, run, timed

SUITE = "bookworm"
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-apt",
    "python3-systemd",
    "sudo",
    "iproute2",
    "ca-certificates",
    "procps",
    "unzip",
    "curl",
)
# Known root password, so tests can prove that SSH hardening refuses password logins.
ROOT_PASSWORD = "pbd-test-root"
# Bump when customize() changes: it is part of the cache key.
RECIPE_VERSION = 1

SOURCES_FILES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
APT_PROXY_CONF = f"""\
// Written by the pb-deployer test harness: all package traffic goes through the host's proxy.
Acquire::http::Proxy "{PROXY_URL}";
// Pipelining through apt-cacher-ng hung ~1 in 30 concurrent cold updates.
Acquire::http::Pipeline-Depth "0";
Acquire::http::Timeout "20";
Acquire::Retries "3";
"""
# Device nodes, owners and file capabilities must survive the round trip.
TAR_OPTIONS = (
    "--numeric-owner",
    "--xattrs",
    "--xattrs-include=*",
    "--use-compress-program=zstd -T0 -3",
)


@dataclass(frozen=True)
class Mirror:
    """The Debian archive this machine uses, and its security twin."""

    main: str
    security: str

    @staticmethod
    def host_path(url: str) -> str:
        """`deb.debian.org/debian`: how apt-cacher-ng matches a URL, whatever its scheme."""
        parts = urlsplit(url)
        return f"{parts.netloc}{parts.path}".rstrip("/")


def _source_entries(text: str, deb822: bool) -> list[tuple[str, list[str]]]:
    """(uri, suites) of the enabled `deb` entries of one apt sources file."""
    entries: list[tuple[str, list[str]]] = []
    if deb822:
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if "deb" not in fields.get("types", "").split():
                continue
            if fields.get("enabled", "yes").lower() == "no":
                continue
            suites = fields.get("suites", "").split()
            entries += [(uri, suites) for uri in fields.get("uris", "").split()]
        return entries
    for line in text.splitlines():
        line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] == "deb":
            entries.append((line[1], [line[2]]))
    return entries


def detect_mirror() -> Mirror:
    """Read this machine's apt sources (one-line or deb822): the only archive reachable here."""
    entries: list[tuple[str, list[str]]] = []
    for place in SOURCES_FILES:
        files = sorted(place.iterdir()) if place.is_dir() else [place]
        for path in files:
            if path.is_file() and path.suffix in (".list", ".sources"):
                entries += _source_entries(
                    path.read_text(errors="replace"), path.suffix == ".sources"
                )
    http = [
        (uri.rstrip("/"), suites)
        for uri, suites in entries
        if uri.startswith(("http://", "https://"))
    ]
    main = next((u for u, s in http if SUITE in s), None) or next(
        (u for u, s in http if u.endswith("/debian")), None
    )
    if main is None:
        raise HostsError(f"no http(s) Debian mirror found in {', '.join(map(str, SOURCES_FILES))}")
    security = next((u for u, s in http if f"{SUITE}-security" in s), f"{main}-security")
    return Mirror(main=main, security=security)


def cache_key(mirror: Mirror) -> str:
    """Hash of every input of the base, so that any change builds a new one."""
    inputs = {
        "suite": SUITE,
        "packages": sorted(PACKAGES),
        "mirror": asdict(mirror),
        "password": ROOT_PASSWORD,
        "apt": APT_PROXY_CONF,
        "recipe": RECIPE_VERSION,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def _customize(root: Path, mirror: Mirror) -> None:
    """Turn a debootstrap tree into a fresh-VPS-like base that per-host setup finishes."""
    ssh = root / "etc/ssh"
    # Per-host ed25519/ecdsa keys are made per target; RSA is slow to generate, so it stays shared.
    for kind in ("ed25519", "ecdsa"):
        for suffix in ("", ".pub"):
            (ssh / f"ssh_host_{kind}_key{suffix}").unlink(missing_ok=True)
    sshd_config = ssh / "sshd_config"
    text, hits = re.subn(
        r"^#?PermitRootLogin .*$", "PermitRootLogin yes", sshd_config.read_text(), flags=re.M
    )
    if hits != 1:
        raise HostsError(f"expected one PermitRootLogin line in {sshd_config}, found {hits}")
    # In the main file, not a drop-in: a drop-in would win over what a hardening role writes.
    sshd_config.write_text(text)
    run(["chroot", root, "chpasswd"], input=f"root:{ROOT_PASSWORD}\n")

    apt = root / "etc/apt"
    (apt / "sources.list").unlink(missing_ok=True)
    (apt / "sources.list.d/debian.sources").write_text(
        f"Types: deb\nURIs: http://{Mirror.host_path(mirror.main)}\n"
        f"Suites: {SUITE} {SUITE}-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"Types: deb\nURIs: http://{Mirror.host_path(mirror.security)}\n"
        f"Suites: {SUITE}-security\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    (apt / "apt.conf.d/80pbd-proxy").write_text(APT_PROXY_CONF)
    # Ship without package lists or downloaded .debs, as a fresh VPS image does.
    for cache in (
        root / "var/lib/apt/lists",
        root / "var/cache/apt/archives",
        root / "var/cache/apt",
    ):
        for entry in cache.iterdir():
            if entry.is_file() and entry.name != "lock":
                entry.unlink()

    resolv = root / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    # Targets have no DNS; pointing at nothing makes lookups fail fast instead of hanging.
    resolv.write_text("nameserver 127.0.0.1\n")
    (root / "etc/machine-id").write_text("")
    (root / "etc/hostname").write_text("localhost\n")


def _debootstrap(build: Path, mirror: Mirror, logfile: Path) -> None:
    """Run debootstrap, keeping its long output in a log file rather than in memory."""
    argv = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        build,
        mirror.main,
    ]
    proc = run(argv, check=False)
    logfile.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        raise HostsError(f"debootstrap failed (rc {proc.returncode}, log {logfile}):\n{tail}")


def ensure_base(mirror: Mirror) -> Path:
    """Return the unpacked base rootfs directory, building or unpacking it if needed."""
    ensure_private_dir(CACHE_DIR)
    key = cache_key(mirror)
    rootfs = CACHE_DIR / f"rootfs-{key}"
    done = CACHE_DIR / f"rootfs-{key}.ok"
    tarball = CACHE_DIR / f"base-{key}.tar.zst"
    if done.exists() and rootfs.is_dir():
        log.info("base rootfs %s: cached", key)
        return rootfs
    _prune(keep=key)
    build = CACHE_DIR / f"build-{key}"
    shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(rootfs, ignore_errors=True)
    build.mkdir()
    if tarball.exists():
        with timed(f"unpacking base {tarball.name}"):
            run(["tar", "--extract", *TAR_OPTIONS, "-C", build, "-f", tarball])
    else:
        with timed(f"building base rootfs {key} from {mirror.main} (debootstrap)"):
            _debootstrap(build, mirror, CACHE_DIR / f"build-{key}.log")
            _customize(build, mirror)
        with timed(f"packing {tarball.name}"):
            partial = tarball.with_suffix(".partial")
            run(["tar", "--create", *TAR_OPTIONS, "-C", build, "-f", partial, "."])
            partial.rename(tarball)
    build.rename(rootfs)
    done.touch()
    return rootfs


def _prune(keep: str) -> None:
    """Drop bases of other recipes and half-built trees: each one is hundreds of MB."""
    for entry in CACHE_DIR.iterdir():
        if (
            re.fullmatch(r"(rootfs|base|build)-[0-9a-f]{16}.*", entry.name)
            and keep not in entry.name
        ):
            log.info("removing old base %s", entry.name)
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()

"""HTTPS for an app's domain on a real host, with a real ACME server on the test network.

Debian's pebble runs on the controller, listening on the lab bridge's address, so the
target's certbot reaches it; its resolver is pebble-challtestsrv, whose A record for the
app's domain is the target's address, so pebble's HTTP-01 validation really fetches the
challenge from the target's nginx. pebble's own HTTPS listener gets a certificate from a CA
made here (the hosts trust it through the service's `acme_ca_bundle` setting).
"""

import asyncio
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service.app import create_app
from service.config import Settings
from service.domain import tokens
from tests.conftest import Api
from tests.deploy.test_deploy_api_on_hosts import upload
from tests.hosts.system import BRIDGE_IP
from tests.tasks.helpers import create_server, wait_for_task

pytestmark = pytest.mark.hosts
DOMAIN = "shop.example.com"
CERTBOT_TASK = "APP_DEPLOY | Obtain or renew the certificate"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def listener_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and, signed by it, a certificate for pebble's HTTPS on the bridge address."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("pb-deployer test ACME listener CA"))
        .issuer_name(_name("pb-deployer test ACME listener CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(BRIDGE_IP))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(BRIDGE_IP))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "listener.pem", directory / "listener.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def wait_for_port(host: str, port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {host}:{port}"
            time.sleep(0.1)


@dataclass
class Pebble:
    ca_file: Path
    """The CA of pebble's own HTTPS listener (directory and management)."""
    directory: str
    dns_management: str

    def point(self, domain: str, ip: str) -> None:
        """The mock DNS answers `domain` with `ip` (pebble's validation goes there)."""
        request = urllib.request.Request(
            f"{self.dns_management}/add-a",
            data=json.dumps({"host": domain, "addresses": [ip]}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    def issuing_root(self) -> str:
        """The root that pebble's issued certificates chain to (`/roots/0`)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        url = f"https://{BRIDGE_IP}:15000/roots/0"
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            return response.read().decode()


@pytest.fixture(scope="module")
def pebble(target_hosts, tmp_path_factory) -> Iterator[Pebble]:
    """pebble and pebble-challtestsrv on the lab bridge, stopped after the module."""
    directory = tmp_path_factory.mktemp("pebble")
    ca_file, cert_file, key_file = listener_certificate(directory)
    config = directory / "pebble-config.json"
    config.write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"{BRIDGE_IP}:14000",
                    "managementListenAddress": f"{BRIDGE_IP}:15000",
                    "certificate": str(cert_file),
                    "privateKey": str(key_file),
                    "httpPort": 80,
                    "tlsPort": 443,
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            }
        )
    )
    dns = subprocess.Popen(
        ["pebble-challtestsrv", "-dns01", f"{BRIDGE_IP}:8053", "-management",
         f"{BRIDGE_IP}:8055", "-http01", "", "-https01", "", "-tlsalpn01", "",
         "-defaultIPv4", "", "-defaultIPv6", ""],
        stdout=(directory / "challtestsrv.log").open("w"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    # Validation for real (no sleep before it); no nonces refused at random, no authorization
    # reused, so that the forced renewal is validated again through the target's nginx.
    environment = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0",
                   "PEBBLE_AUTHZREUSE": "0"}  # fmt: skip
    server = subprocess.Popen(
        ["pebble", "-config", str(config), "-dnsserver", f"{BRIDGE_IP}:8053"],
        stdout=(directory / "pebble.log").open("w"),
        stderr=subprocess.STDOUT,
        env=environment,
    )
    try:
        wait_for_port(BRIDGE_IP, 8055)
        wait_for_port(BRIDGE_IP, 14000)
        yield Pebble(ca_file, f"https://{BRIDGE_IP}:14000/dir", f"http://{BRIDGE_IP}:8055")
    finally:
        for process in (server, dns):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
async def api(aiohttp_client, tmp_path, pebble, running_hosts):
    settings = Settings(
        data_dir=tmp_path / "data",
        workers=2,
        acme_directory=pebble.directory,
        acme_email="ops@example.com",
        acme_ca_bundle=pebble.ca_file,
    )
    client = await aiohttp_client(create_app(settings))
    return Api(client, (await tokens.issue_token("t")).secret)


@pytest.fixture
def app_host(target_hosts, running_hosts):
    host = running_hosts[1]
    yield host
    target_hosts.reset_host(host)


def fetch_https(ip: str, root: str) -> tuple[dict, str, str]:
    """GET / of the domain at `ip` over HTTPS, verified against pebble's root: the peer
    certificate, its serial, and the whole answer (headers and body)."""
    context = ssl.create_default_context(cadata=root)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((ip, 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=DOMAIN) as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
            peer = tls.getpeercert()
    return peer, peer["serialNumber"], answer.decode()


def http_answer(ip: str) -> str:
    """The raw answer to a plain HTTP request for the domain (redirects not followed)."""
    with socket.create_connection((ip, 80), timeout=10) as raw:
        raw.sendall(f"GET /x?y=1 HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    return answer.decode()


def tls_handshake_fails(ip: str, version: ssl.TLSVersion) -> bool:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # a refusal is the server's, not this client's
    context.minimum_version = context.maximum_version = version
    try:
        with socket.create_connection((ip, 443), timeout=10) as raw:
            context.wrap_socket(raw, server_hostname=DOMAIN).close()
    except ssl.SSLError:
        return True
    return False


@dataclass
class Timed:
    status: dict
    seconds: float
    """The deploy's wall time, request to finished task."""
    certbot: dict
    """The event of the certbot task ({} when it did not run)."""
    certificate_step: float
    """Seconds from entering the certificate step to entering the next one."""


def step_entered(events: list[dict], step: str) -> datetime:
    name = f"APP_DEPLOY | Enter step {step}"
    created = next(e["created"] for e in events if e.get("task") == name)
    return datetime.fromisoformat(created)


async def timed_deploy(api, app_id: int, version_id: int, **options) -> Timed:
    """Deploy, and time it and its certificate step."""
    started = time.monotonic()
    reply = await api.post(
        f"/api/v1/apps/{app_id}/deploy", json={"version_id": version_id, **options}
    )
    assert reply.status == 202, reply.body
    task_id = reply.body["task"]["id"]
    task = await wait_for_task(api, task_id, timeout=600)
    elapsed = time.monotonic() - started
    status = (await api.get(f"/api/v1/deployments/{reply.body['deployment']['id']}/status")).body
    if task["status"] != "successful":
        pytest.fail(f"{status['deployment']['error']}\n" + "\n".join(status["logs"][-60:]))
    reply = await api.get(f"/api/v1/tasks/{task_id}/events?limit=5000")
    events = [item["event"] for item in reply.body["items"]]
    certbot = next(
        (e for e in events if e.get("task") == CERTBOT_TASK and e["event"] == "runner_on_ok"), {}
    )
    step = step_entered(events, "post_hooks") - step_entered(events, "certificate")
    return Timed(status, elapsed, certbot, step.total_seconds())


def not_after(peer: dict) -> datetime:
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(peer["notAfter"]), UTC)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
async def test_https_over_acme_with_pebble_then_a_forced_renewal(
    api, pebble, target_hosts, app_host, tmp_path
):
    server = await create_server(api, app_host, target_hosts.private_key, name="app-host")
    setup = await api.post(f"/api/v1/servers/{server['id']}/setup")
    assert (await wait_for_task(api, setup.body["task"]["id"], timeout=600))["status"] == (
        "successful"
    )
    pebble.point(DOMAIN, app_host.ip)
    app = {"name": "shop", "server_id": server["id"], "remote_path": "/srv/apps/shop",
           "service_name": "shop", "domain": DOMAIN}  # fmt: skip
    shop = (await api.post("/api/v1/apps", json=app)).body
    assert (shop["tls"], shop["tls_redirect"], shop["certificate"]) == (False, True, None)

    # The same run deploys without TLS, then with it: the difference is the TLS steps.
    versions = [await upload(api, shop["id"], f"{n}.0.0", tmp_path) for n in range(1, 5)]
    first_plain = await timed_deploy(api, shop["id"], versions[0]["id"])
    plain = await timed_deploy(api, shop["id"], versions[1]["id"])
    changed = await api.patch(f"/api/v1/apps/{shop['id']}", json={"tls": True, "tls_hsts": True})
    assert changed.status == 200, changed.body
    issued = await timed_deploy(api, shop["id"], versions[2]["id"])
    assert issued.certbot.get("changed") is True, issued.certbot
    report = issued.status["deployment"]["host_results"]["app-host"]["tls"]
    assert report["error"] is None and report["source"] == "acme", report

    # The app over HTTPS, verified against pebble's issuing root, for the domain.
    root = pebble.issuing_root()
    peer, serial, answer = await asyncio.to_thread(fetch_https, app_host.ip, root)
    assert "version 3.0.0" in answer, answer
    assert "strict-transport-security: max-age=31536000" in answer.lower()
    assert peer["subjectAltName"] == (("DNS", DOMAIN),)
    now = datetime.now(UTC)
    assert (
        now - timedelta(days=1)
        < datetime.fromtimestamp(ssl.cert_time_to_seconds(peer["notBefore"]), UTC)
        <= now + timedelta(minutes=5)
    )
    assert not_after(peer) > now + timedelta(days=14)
    assert not await asyncio.to_thread(tls_handshake_fails, app_host.ip, ssl.TLSVersion.TLSv1_2)
    assert await asyncio.to_thread(tls_handshake_fails, app_host.ip, ssl.TLSVersion.TLSv1_1)
    redirect = await asyncio.to_thread(http_answer, app_host.ip)
    assert redirect.startswith("HTTP/1.1 301"), redirect
    assert f"Location: https://{DOMAIN}/x?y=1" in redirect

    # The app's API says what the host serves.
    state = (await api.get(f"/api/v1/apps/{shop['id']}")).body["certificate"]
    assert state["names"] == [DOMAIN]
    assert "Pebble Intermediate" in state["issuer"]
    assert int(state["serial"], 16) == int(serial, 16)
    assert datetime.fromisoformat(state["not_after"]) == not_after(peer)
    assert state["expires_soon"] is False and state["error"] is None

    # A deploy with the certificate in place (not due: certbot keeps it).
    steady = await timed_deploy(api, shop["id"], versions[3]["id"])
    assert steady.certbot.get("changed") is False, steady.certbot
    assert (await api.get(f"/api/v1/apps/{shop['id']}")).body["certificate"]["serial"] == (
        state["serial"]
    )

    # A forced renewal through the service: a new certificate, validated again, served.
    renewal = await timed_deploy(api, shop["id"], versions[3]["id"], renew_certificate=True)
    assert renewal.certbot.get("changed") is True, renewal.certbot
    after = (await api.get(f"/api/v1/apps/{shop['id']}")).body["certificate"]
    assert after["serial"] != state["serial"]
    assert after["renewed_at"] > state["renewed_at"]
    assert datetime.fromisoformat(after["not_after"]) >= datetime.fromisoformat(state["not_after"])
    peer, new_serial, answer = await asyncio.to_thread(fetch_https, app_host.ip, root)
    assert int(new_serial, 16) == int(after["serial"], 16) != int(serial, 16)
    assert "version 4.0.0" in answer

    print(
        f"\nTLS figures (pebble, one host): deploys without TLS {first_plain.seconds:.1f} s, "
        f"{plain.seconds:.1f} s (certificate step {plain.certificate_step:.1f} s); with TLS: "
        f"first {issued.seconds:.1f} s (certificate step {issued.certificate_step:.1f} s, "
        f"certbot issuance {issued.certbot['duration']:.1f} s), certificate kept "
        f"{steady.seconds:.1f} s (step {steady.certificate_step:.1f} s, certbot "
        f"{steady.certbot['duration']:.1f} s), forced renewal {renewal.seconds:.1f} s (step "
        f"{renewal.certificate_step:.1f} s, certbot {renewal.certbot['duration']:.1f} s)"
    )

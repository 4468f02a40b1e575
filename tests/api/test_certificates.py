"""TLS for an app: its settings, a certificate the user uploads (key never shown, stored
encrypted, rotated with the other secrets) and the state the deploys report."""

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service.domain import certificates, secrets_at_rest
from service.models import App, AppCertificate
from service.storage.secrets import SecretBox
from service.tasks import deploy

DOMAIN = "shop.example.com"


def certificate(names: list[str], *, days: int = 90, key=None) -> tuple[str, str]:
    """A self-signed PEM certificate for `names` and its PEM key."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=100))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem_key.decode()


@pytest.fixture
async def tls_app(api, app_record):
    reply = await api.patch(f"/api/v1/apps/{app_record['id']}", json={"domain": DOMAIN})
    assert reply.status == 200, reply.body
    return reply.body


async def test_tls_settings_default_off_and_need_a_domain(api, app_record):
    assert (app_record["tls"], app_record["tls_redirect"], app_record["tls_hsts"]) == (
        False, True, False
    )  # fmt: skip
    assert app_record["certificate"] is None
    path = f"/api/v1/apps/{app_record['id']}"
    refused = await api.patch(path, json={"tls": True})
    assert refused.status == 422 and "tls" in refused.body["error"]["details"]
    assert (await api.patch(path, json={"tls": "yes"})).status == 422
    turned_on = await api.patch(path, json={"tls": True, "domain": DOMAIN, "tls_hsts": True})
    assert turned_on.status == 200, turned_on.body
    assert (turned_on.body["tls"], turned_on.body["tls_hsts"]) == (True, True)
    # The domain cannot go while TLS is on.
    assert (await api.patch(path, json={"domain": None})).status == 422


async def test_an_uploaded_certificate_is_checked_and_its_key_never_shown(api, tls_app, settings):
    path = f"/api/v1/apps/{tls_app['id']}/certificate"
    assert (await api.get(path)).status == 404
    chain, key = certificate([DOMAIN, "www.example.com"])
    reply = await api.put(path, json={"certificate": chain, "key": key})
    assert reply.status == 200, reply.body
    assert reply.body["names"] == [DOMAIN, "www.example.com"]
    assert len(reply.body["key_fingerprint"]) == 16
    shown = json.dumps((await api.get(path)).body) + json.dumps(reply.body)
    assert "PRIVATE KEY" not in shown
    stored = await AppCertificate.get(app_id=tls_app["id"])
    body = key.splitlines()[1]
    assert body not in stored.key_ciphertext and body not in json.dumps(
        (await api.get(f"/api/v1/apps/{tls_app['id']}")).body
    )
    files = await certificates.files_for_deploy(tls_app["id"], SecretBox(settings.secrets_key_file))
    assert files == {
        "app_deploy_tls_certificate_file": chain.strip() + "\n",
        "app_deploy_tls_key_file": key.strip() + "\n",
    }
    assert (await api.delete(path)).status == 204
    assert (await api.get(path)).status == 404
    assert (
        await certificates.files_for_deploy(tls_app["id"], SecretBox(settings.secrets_key_file))
        == {}
    )


async def test_a_wildcard_certificate_covers_one_label(api, tls_app):
    chain, key = certificate(["*.example.com"])
    path = f"/api/v1/apps/{tls_app['id']}/certificate"
    assert (await api.put(path, json={"certificate": chain, "key": key})).status == 200
    assert not certificates._covers(["*.example.com"], "a.shop.example.com")


@pytest.mark.parametrize(
    "problem",
    ["not pem", "other key", "other name", "expired", "encrypted key"],
)
async def test_an_unusable_certificate_is_refused(api, tls_app, problem):
    chain, key = certificate([DOMAIN])
    if problem == "not pem":
        chain = "hello"
    elif problem == "other key":
        key = certificate([DOMAIN])[1]
    elif problem == "other name":
        chain, key = certificate(["other.example.org"])
    elif problem == "expired":
        chain, key = certificate([DOMAIN], days=-1)
    else:
        loaded = serialization.load_pem_private_key(key.encode(), password=None)
        key = loaded.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        ).decode()
    reply = await api.put(
        f"/api/v1/apps/{tls_app['id']}/certificate", json={"certificate": chain, "key": key}
    )
    assert reply.status == 422, reply.body
    assert reply.body["error"]["code"] == "validation_failed"
    assert "PRIVATE KEY" not in json.dumps(reply.body)


async def test_an_app_without_a_domain_gets_no_certificate(api, app_record):
    chain, key = certificate([DOMAIN])
    reply = await api.put(
        f"/api/v1/apps/{app_record['id']}/certificate", json={"certificate": chain, "key": key}
    )
    assert reply.status == 422


async def test_key_rotation_reencrypts_uploaded_keys(api, tls_app, settings):
    chain, key = certificate([DOMAIN])
    await api.put(
        f"/api/v1/apps/{tls_app['id']}/certificate", json={"certificate": chain, "key": key}
    )
    before = (await AppCertificate.get(app_id=tls_app["id"])).key_ciphertext
    box = SecretBox(settings.secrets_key_file)
    assert await secrets_at_rest.rotate_key(box) == 1
    after = await AppCertificate.get(app_id=tls_app["id"])
    assert after.key_ciphertext != before and box.opens_with_newest(after.key_ciphertext)
    assert box.decrypt(after.key_ciphertext) == key.strip() + "\n"


def test_reported_state_and_the_expiry_flag():
    report = {"tls": {"source": "acme", "issuer": "CN=Pebble Intermediate CA 1",
                      "names": [DOMAIN], "serial": "0A", "not_after": "2030-01-20 10:00:00Z",
                      "renewed_at": "1893456000.5", "error": None, "extra": "dropped"}}  # fmt: skip
    state = certificates.reported_state(report)
    assert state == {"source": "acme", "issuer": "CN=Pebble Intermediate CA 1",
                     "names": [DOMAIN], "serial": "0A",
                     "not_after": "2030-01-20T10:00:00+00:00",
                     "renewed_at": "2030-01-01T00:00:00.500000+00:00", "error": None}  # fmt: skip
    assert certificates.reported_state({"tls": None}) is None
    assert certificates.reported_state("nonsense") is None
    soon = datetime(2030, 1, 7, 10, 0, 1, tzinfo=UTC)
    assert certificates.state_view(state, soon)["expires_soon"] is True
    later = datetime(2030, 1, 6, 10, 0, 0, tzinfo=UTC)
    assert certificates.state_view(state, later)["expires_soon"] is False
    failed = certificates.reported_state({"tls": {"error": "certbot exited 1: ..."}})
    assert certificates.state_view(failed, soon) == {**failed, "expires_soon": False}


async def test_a_deploy_report_updates_the_app_and_announces_it(api, tls_app):
    expiry = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    report = {"web-1": {"step": "cleanup", "tls": {
        "source": "acme", "names": [DOMAIN], "serial": "0B", "not_after": expiry}}}  # fmt: skip
    task = SimpleNamespace(app_id=tls_app["id"], result=None)
    summary: dict = {}
    await deploy._record_certificate(task, [SimpleNamespace(name="web-1")], report, summary)
    stored = (await App.get(id=tls_app["id"])).certificate
    assert stored["serial"] == "0B" and summary["certificate"] == stored
    task.result = summary
    [(event, payload)] = deploy.certificate_notices(task)
    assert event == "app.certificate"
    assert payload["app_id"] == tls_app["id"]
    assert payload["certificate"]["expires_soon"] is True
    shown = (await api.get(f"/api/v1/apps/{tls_app['id']}")).body["certificate"]
    assert shown["expires_soon"] is True and shown["serial"] == "0B"

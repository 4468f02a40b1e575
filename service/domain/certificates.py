"""An app's HTTPS certificate: the one a user uploads, and the state the deploys report.

By default the deploy obtains the certificate over ACME on the host itself (certbot, renewed
by its own timer there). A user may upload one instead: the chain is public, the key is held
only encrypted (`SecretBox`) and decrypted for one reason, to be written on the hosts by a
deploy. What the hosts really have (issuer, names, serial, dates, the last error) comes back
in each deploy's report and is kept on the app; it is flagged when it expires within
`EXPIRY_WARNING`.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

from service.domain.records import get_or_404
from service.errors import ValidationFailed
from service.models import App, AppCertificate
from service.storage.secrets import SecretBox

EXPIRY_WARNING = timedelta(days=14)
REPORTED = ("source", "issuer", "names", "serial", "not_after", "renewed_at", "error")


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("The request is not valid.", details={field: [message]})


def _names(certificate: x509.Certificate) -> list[str]:
    try:
        extension = certificate.extensions.get_extension_for_oid(
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME
        )
    except x509.ExtensionNotFound:
        return []
    return extension.value.get_values_for_type(x509.DNSName)


def _covers(names: list[str], domain: str) -> bool:
    """A name or wildcard (one label deep, as TLS clients match it) covers the domain."""
    domain = domain.lower()
    for name in (name.lower() for name in names):
        if name == domain:
            return True
        if name.startswith("*.") and domain.partition(".")[2] == name[2:]:
            return True
    return False


def check_upload(chain: str, key: str, domain: str, now: datetime) -> x509.Certificate:
    """The leaf of a PEM chain that a server can really use for `domain` with `key`."""
    try:
        certificates = x509.load_pem_x509_certificates(chain.encode())
    except ValueError:
        raise _invalid("certificate", "Not a PEM certificate chain.") from None
    leaf = certificates[0]
    try:
        private_key = serialization.load_pem_private_key(key.encode(), password=None)
    except (ValueError, TypeError):
        raise _invalid("key", "Not an unencrypted PEM private key.") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if private_key.public_key().public_bytes(encoding, public) != leaf.public_key().public_bytes(
        encoding, public
    ):
        raise _invalid("key", "The key does not belong to the first certificate of the chain.")
    if not _covers(_names(leaf), domain):
        raise _invalid("certificate", f"The certificate does not name {domain}.")
    if leaf.not_valid_after_utc <= now:
        raise _invalid("certificate", "The certificate has expired.")
    return leaf


async def upload(app_id: int, chain: str, key: str, box: SecretBox) -> AppCertificate:
    """Store the user's certificate (the next deploy installs it instead of ACME's)."""
    app = await get_or_404(App, app_id)
    if app.domain is None:
        raise _invalid("certificate", "The app has no domain to serve it for.")
    check_upload(chain, key, app.domain, datetime.now(UTC))
    record = await AppCertificate.get_or_none(app_id=app_id) or AppCertificate(app_id=app_id)
    record.chain = chain.strip() + "\n"
    record.key_ciphertext = box.encrypt(key.strip() + "\n")
    record.key_fingerprint = box.fingerprint(key.strip() + "\n")
    await record.save()
    return record


async def uploaded(app_id: int) -> AppCertificate | None:
    await get_or_404(App, app_id)
    return await AppCertificate.get_or_none(app_id=app_id)


async def remove_upload(app_id: int) -> None:
    """Back to ACME at the next deploy."""
    await get_or_404(App, app_id)
    await AppCertificate.filter(app_id=app_id).delete()


def upload_view(record: AppCertificate) -> dict[str, Any]:
    """What the API shows of an upload: the leaf's facts and the key's fingerprint only."""
    leaf = x509.load_pem_x509_certificates(record.chain.encode())[0]
    return {
        "issuer": leaf.issuer.rfc4514_string(),
        "names": _names(leaf),
        "serial": format(leaf.serial_number, "X"),
        "not_after": leaf.not_valid_after_utc,
        "key_fingerprint": record.key_fingerprint,
        "uploaded": record.uploaded,
    }


def state_view(state: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    """The reported state, with `expires_soon` when it ends within EXPIRY_WARNING."""
    if not state:
        return None
    view = dict(state)
    not_after = state.get("not_after")
    view["expires_soon"] = bool(
        not_after and datetime.fromisoformat(not_after) - now < EXPIRY_WARNING
    )
    return view


def reported_state(report: Any) -> dict[str, Any] | None:
    """The certificate part of one host's deploy report, in the app's stored shape."""
    if not isinstance(report, dict) or not isinstance(report.get("tls"), dict):
        return None
    state = {name: report["tls"].get(name) for name in REPORTED}
    for name in ("not_after", "renewed_at"):
        state[name] = _iso(state[name])
    return state


def _iso(value: Any) -> str | None:
    """A time the host gave (ISO 8601, or seconds since the epoch) as ISO 8601 in UTC."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    except (TypeError, ValueError, OverflowError):
        pass
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC).isoformat()
    except ValueError:
        return None


async def files_for_deploy(app_id: int, box: SecretBox) -> dict[str, str]:
    """The uploaded chain and key (decrypted) as the deploy's secret files; none with ACME."""
    record = await AppCertificate.get_or_none(app_id=app_id)
    if record is None:
        return {}
    return {
        "app_deploy_tls_certificate_file": record.chain,
        "app_deploy_tls_key_file": box.decrypt(record.key_ciphertext),
    }

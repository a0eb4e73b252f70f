"""Certificate URLs: which ones tfdash will call, and the id and type each one names."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

# Hosts that issue certificates outside production. Refused unless explicitly allowed, with a reason
# that names them (docs/trustedform.md §1, §11.8).
STAGING_HOSTS = frozenset(
    {
        "cert.staging.trustedform.com",
        "cert.trustedform-staging.com",
        "cert.trustedform-dev.com",
        "cert.trustedform.localhost",
    }
)


PING_HOST = "ping.trustedform.com"


MAX_URL_LENGTH = 512


MAX_CERT_ID_LENGTH = 255  # docs/trustedform.md §4


WEB_ID = re.compile(r"[0-9a-f]{40}")


MOBILE_ID = re.compile(r"[-_A-Za-z0-9]{40}|[-_A-Za-z0-9]{80}")


META_ID = re.compile(r"0\.[-_A-Za-z0-9=]+(\.[-_A-Za-z0-9=]+)+")


class InvalidCertificateUrl(ValueError):
    """A certificate URL that tfdash refuses to call, with the reason in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CertificateRef:
    """A validated certificate: its id, its type as the id shows it, and its canonical URL."""

    cert_id: str
    cert_type: str  # web | mobile | meta (a masked certificate looks like a web one)
    host: str

    @property
    def url(self) -> str:
        return f"https://{self.host}/{self.cert_id}"


def parse_certificate_url(raw: str, allowed_hosts: Iterable[str]) -> CertificateRef:
    """Validate a certificate URL as a lead vendor sent it.

    Trims whitespace and a trailing slash and lower-cases web ids; everything else that is not exactly
    `https://<allowed host>/<id>` is refused. Raises InvalidCertificateUrl with the reason.
    """
    allowed = {h.lower() for h in allowed_hosts}
    text = (raw or "").strip()
    if not text:
        raise InvalidCertificateUrl("The certificate URL is empty.")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidCertificateUrl(f"The certificate URL is too long ({len(text)} characters).")
    if "," in text or re.search(r"\s", text):
        raise InvalidCertificateUrl("This holds more than one URL (comma- or space-separated); send one.")
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidCertificateUrl("This is not a valid URL.") from None
    if parts.scheme.lower() != "https":
        if parts.scheme.lower() == "http":
            raise InvalidCertificateUrl("Certificate URLs must use https://, not http://.")
        raise InvalidCertificateUrl(
            "This is not a TrustedForm certificate URL (it must start with https://)."
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidCertificateUrl("The URL contains a user name or password; certificate URLs never do.")
    if port is not None or parts.netloc.endswith(":"):
        raise InvalidCertificateUrl("The URL names a port; certificate URLs never do.")
    host = (parts.hostname or "").lower()
    if host not in allowed:
        if host in STAGING_HOSTS:
            raise InvalidCertificateUrl(f"This is a staging certificate ({host}), not a production one.")
        if host == PING_HOST:
            raise InvalidCertificateUrl("This is a ping URL, not a certificate URL.")
        raise InvalidCertificateUrl(f"The host {host or '(none)'} is not a TrustedForm certificate host.")
    if parts.query or parts.fragment:
        raise InvalidCertificateUrl("The URL has a query string or fragment; send the plain certificate URL.")
    cert_id = parts.path.strip("/")
    if not cert_id or "/" in cert_id:
        raise InvalidCertificateUrl("The URL must name exactly one certificate id.")
    return CertificateRef(cert_id=_normalise_cert_id(cert_id), cert_type=cert_type_of(cert_id), host=host)


def cert_type_of(cert_id: str) -> str:
    """The certificate type its id shows (docs/trustedform.md §4); raises InvalidCertificateUrl if none."""
    if len(cert_id) > MAX_CERT_ID_LENGTH:
        raise InvalidCertificateUrl("The certificate id is longer than 255 characters.")
    if WEB_ID.fullmatch(cert_id.lower()):
        return "web"
    if META_ID.fullmatch(cert_id):
        return "meta"
    if MOBILE_ID.fullmatch(cert_id):
        return "mobile"
    raise InvalidCertificateUrl("The certificate id has an unknown shape (expected 40 hex characters).")


def _normalise_cert_id(cert_id: str) -> str:
    return cert_id.lower() if WEB_ID.fullmatch(cert_id.lower()) else cert_id

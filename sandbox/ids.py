"""Certificate ids and URLs shaped like production's (§4)."""

import re
import secrets

from sandbox import readings

CERT_HOST = "https://cert.trustedform.com"
PING_HOST = "https://ping.trustedform.com"

_WEB = re.compile(r"[0-9a-fA-F]{40}")
_MOBILE = re.compile(r"[-_A-Za-z0-9]{40}|[-_A-Za-z0-9]{80}")
_META = re.compile(r"0(\.[-_A-Za-z0-9]+){2,}")


def new_id(kind: str) -> str:
    """A fresh id for a certificate kind: web/masked 40 hex, mobile 80 base64url, Meta `0.<b64>.<b64>.<b64>`."""
    if kind == "mobile":
        return secrets.token_urlsafe(60)  # 60 bytes encode to exactly 80 characters
    if kind == "meta":
        return ".".join(
            ["0", secrets.token_urlsafe(60), secrets.token_urlsafe(16), secrets.token_urlsafe(16)]
        )
    return secrets.token_hex(20)


def new_ping_id() -> str:
    return ".".join(["0", secrets.token_urlsafe(48), secrets.token_urlsafe(16), secrets.token_urlsafe(16)])


def cert_url(cert_id: str) -> str:
    return f"{CERT_HOST}/{cert_id}"


def canonical(raw_id: str) -> str | None:
    """The id as stored, or None when it is malformed. 40-hex ids are lower-cased (§4)."""
    if not raw_id or len(raw_id) > readings.MAX_CERT_ID_LENGTH:
        return None
    if _WEB.fullmatch(raw_id):
        return raw_id.lower()
    if _MOBILE.fullmatch(raw_id) or _META.fullmatch(raw_id):
        return raw_id
    return None

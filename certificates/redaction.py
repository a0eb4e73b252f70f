"""Remove the TrustedForm API key from anything about to be stored, shown or exported.

tfdash never sends the key back, but an upstream or proxy may echo the request (its Authorization header
included) into a response body or error that the API-call log keeps. So every spelling the stored text
can carry is removed: the key as is, in lower and upper case, percent-encoded, and the base64 of the
Basic credential (`API:<key>`, and `:<key>`, which is what a decoder shows without the user name).
"""

from __future__ import annotations

import base64
import urllib.parse
from functools import cache

from django.conf import settings

REDACTED = "[redacted]"


@cache
def _spellings(key: str) -> tuple[str, ...]:
    forms = {key, key.lower(), key.upper(), urllib.parse.quote(key, safe=""), urllib.parse.quote_plus(key)}
    for credential in (f"API:{key}", f":{key}"):
        encoded = base64.b64encode(credential.encode()).decode()
        forms.add(encoded)
        forms.add(encoded.rstrip("="))
    # Longest first, so a spelling that contains another is removed whole.
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def redact(text: str, key: str | None = None) -> str:
    """`text` without the API key in any of its spellings."""
    key = settings.TRUSTEDFORM_API_KEY if key is None else key
    if not key or not text:
        return text
    for spelling in _spellings(key):
        text = text.replace(spelling, REDACTED)
    return text


def contains_key(text: str, key: str | None = None) -> bool:
    key = settings.TRUSTEDFORM_API_KEY if key is None else key
    return bool(key and text) and any(spelling in text for spelling in _spellings(key))

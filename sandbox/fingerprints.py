"""Lead fingerprints: SHA-1 hex of a normalised email or phone, as TrustedForm computes them (§5)."""

import hashlib
import re

from sandbox import readings

_SHA1_HEX = re.compile(r"[0-9a-fA-F]{40}")
_PHONE_STRIP = re.compile(r"[\s" + re.escape(readings.PHONE_STRIPPED_CHARACTERS) + r"]+")


def normalize_email(value: str) -> str:
    return value.strip().lower()


def normalize_phone(value: str) -> str:
    return _PHONE_STRIP.sub("", value)


def sha1_hex(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8"), usedforsecurity=False).hexdigest()


def is_prehashed(value: str) -> bool:
    return bool(_SHA1_HEX.fullmatch(value.strip()))


def email_fingerprint(value: str) -> str:
    """The fingerprint of an email, or the value itself (lower-cased) when it already is a SHA-1 hex."""
    if is_prehashed(value):
        return value.strip().lower()
    return sha1_hex(normalize_email(value))


def phone_fingerprint(value: str) -> str:
    if is_prehashed(value):
        return value.strip().lower()
    return sha1_hex(normalize_phone(value))


def fingerprint(value: str) -> str:
    """A value of unknown kind (v3 `fingerprint` is pre-hashed; anything else is treated as an email)."""
    if is_prehashed(value):
        return value.strip().lower()
    return phone_fingerprint(value) if "@" not in value else email_fingerprint(value)

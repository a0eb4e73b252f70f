"""Lead fingerprints: SHA-1 hex of a normalised email or phone, as TrustedForm computes them (§5)."""

import hashlib
import re

from sandbox import readings

_SHA1_HEX = re.compile(r"[0-9a-fA-F]{40}")
_NOT_DIGIT = re.compile(r"\D")
_LETTER = re.compile(r"[^\W\d_]")
_NANP = re.compile(r"[2-9]\d\d[2-9]\d{6}")
_DIGIT_RUN = re.compile(rf"\d{{{readings.PHONE_MIN_CONSECUTIVE_DIGITS}}}")


def normalize_email(value: str) -> str:
    return value.strip().lower()


def normalize_phone(value: str) -> str:
    """The 10-digit national number: non-digits removed, an 11-digit number's leading 1 dropped."""
    digits = _NOT_DIGIT.sub("", value)
    if len(digits) == readings.PHONE_NATIONAL_DIGITS + 1 and digits.startswith(readings.PHONE_COUNTRY_CODE):
        digits = digits[1:]
    return digits


def is_qualifying_phone(value: str) -> bool:
    """Whether Certify fingerprints what a consumer typed as a phone (readings.py, §5)."""
    return (
        not _LETTER.search(value)
        and _DIGIT_RUN.search(value) is not None
        and _NANP.fullmatch(normalize_phone(value)) is not None
    )


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
    """The fingerprint of a lead's phone as a claim sends it: normalised, never qualified."""
    if is_prehashed(value):
        return value.strip().lower()
    return sha1_hex(normalize_phone(value))


def recorded_phone_fingerprints(values: list[str]) -> list[str]:
    """What a certificate holds for the phones its consumer typed: only those that qualify."""
    return [phone_fingerprint(v) for v in values if is_prehashed(v) or is_qualifying_phone(v)]


def fingerprint(value: str) -> str:
    """A value of unknown kind (v3 `fingerprint`): pre-hashed as is, else an email if it has an @, else a phone."""
    if is_prehashed(value):
        return value.strip().lower()
    return phone_fingerprint(value) if "@" not in value else email_fingerprint(value)

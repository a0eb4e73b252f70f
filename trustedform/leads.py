"""What a claim sends: the lead (normalised as TrustedForm fingerprints it), scan terms, Verify criteria."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trustedform.versions import V4


def normalise_email(email: str) -> str:
    """Lower-cased and trimmed, as TrustedForm hashes it (docs/trustedform.md §5)."""
    return (email or "").strip().lower()


def normalise_phone(phone: str) -> str:
    """Digits only, 10-digit NANP (a leading 1 of an 11-digit number dropped), per §5's recommendation.

    TrustedForm fingerprints a phone the consumer typed the same way, so `+1 (614) 555-0142`, `1-614-555-0142`
    and `614.555.0142` are one fingerprint (the reading in sandbox/readings.py). Every non-digit is junk
    (`tel:`, `+`, dots, letters); digits never are, so an extension's digits leave a number that is not
    10 digits, which the claim form and the importer reject rather than guess at.
    """
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def fingerprint(value: str) -> str:
    """Lower-case hex SHA-1 of an already normalised value: what TrustedForm lists in `fingerprints`."""
    return hashlib.sha1(value.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Lead:
    """The lead data sent with a claim: matched against the consumer's fingerprints."""

    email: str = ""
    phone: str = ""
    reference: str = ""
    vendor: str = ""
    fingerprints: tuple[str, ...] = ()  # pre-hashed SHA-1 values

    @property
    def email_normalised(self) -> str:
        return normalise_email(self.email)

    @property
    def phone_normalised(self) -> str:
        return normalise_phone(self.phone)


MISSING_MATCH_LEAD = (
    "A v4 claim needs the lead's email or phone (match_lead); add one and claim again. "
    "Nothing was sent to TrustedForm."
)


def missing_match_lead(email: str, phone: str, api_version: str) -> str:
    """Why a claim of this lead could only be answered with an error, known before sending; or "".

    v4 `retain` requires `match_lead` with an email or a phone (TrustedForm answers 400 "match_lead must
    contain either phone or email keys"); v3 claims without either.
    """
    return MISSING_MATCH_LEAD if api_version == V4 and not (email.strip() or phone.strip()) else ""


@dataclass(frozen=True)
class ScanTerms:
    """Page-scan terms in wire form: strings, or v3 template objects `{"template", "variables"}`."""

    required: tuple[str | Mapping[str, Any], ...] = ()
    forbidden: tuple[str | Mapping[str, Any], ...] = ()
    delimiter: str = ""
    # v4 has no templates: the caller passes the expanded strings here (scanning.engine.expand_for_v4).
    required_v4: tuple[str, ...] | None = None
    forbidden_v4: tuple[str, ...] | None = None

    def __bool__(self) -> bool:
        return bool(self.required or self.forbidden)


@dataclass(frozen=True)
class VerifyCriteria:
    """v4 Verify parameters; all optional (docs/trustedform.md §2.2)."""

    advertiser_name: str = ""
    min_font_size_px_required: int | None = None
    min_contrast_ratio_required: float | None = None
    opt_in_types_allowed: tuple[str, ...] = ()

    def as_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.advertiser_name:
            body["advertiser_name"] = self.advertiser_name
        if self.min_font_size_px_required is not None:
            body["min_font_size_px_required"] = self.min_font_size_px_required
        if self.min_contrast_ratio_required is not None:
            body["min_contrast_ratio_required"] = self.min_contrast_ratio_required
        if self.opt_in_types_allowed:
            body["opt_in_types_allowed"] = list(self.opt_in_types_allowed)
        return body

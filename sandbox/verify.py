"""Verify: the consent language recorded in a certificate, checked against the buyer's criteria (§2.2, §3.3)."""

import re
from dataclasses import dataclass
from typing import Any

from sandbox import readings
from sandbox.models import Certificate

# A sentence ends at . ! ? before a capital (so "Acme Inc. and" stays whole), or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])|\n+")
_CONSENT_WORDS = ("consent", "agree", "authorize")
_NOT_ALNUM = re.compile(r"[^0-9a-z ]+")

NOT_DETECTED = "Consent language not detected in the certificate."
NOT_APPROVED = "Consent languages found were not approved in the account's consent language manager."
NOT_SET_UP = "This form has not been setup to allow use of One to One Consent Check."
NOT_SUBMITTED = "Submission of the form is required for one-to-one consent verification."

# What a minter may set under `verify` (all optional).
OVERRIDE_KEYS = {
    "languages",  # consent texts the certificate holds; default: sentences of the page text that ask consent
    "language_approved",  # default True
    "tagged_consent",  # the form uses TrustedForm's 1:1 consent tags; default False
    "advertisers",  # legal names granted 1:1 consent; default []
    "opt_in_type",  # "manual", "pre-selected" or "non-interactive"; default "manual"
    "font_size_px",  # default 16
    "contrast_ratio",  # default 7.5
}


@dataclass
class VerifyOutcome:
    body: dict[str, Any]
    failure_reason: str | None


def normalize_advertiser(name: str) -> str:
    """Case-insensitive, extra spaces ignored, non-alphanumerics dropped ("Acme Inc." = "acme inc")."""
    return " ".join(_NOT_ALNUM.sub("", name.lower()).split())


def consent_languages(page_text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(page_text) if any(w in s.lower() for w in _CONSENT_WORDS)]


def recorded(cert: Certificate) -> dict[str, Any]:
    data: dict[str, Any] = {
        "languages": consent_languages(cert.page_text),
        "language_approved": True,
        "tagged_consent": False,
        "advertisers": [],
        "opt_in_type": "manual",
        "font_size_px": 16,
        "contrast_ratio": 7.5,
    }
    data.update(cert.verify_overrides)
    return data


def run(cert: Certificate, params: dict[str, Any]) -> VerifyOutcome:
    """The `verify` section of a v4 answer and the first reason it failed, if it did."""
    data = recorded(cert)
    languages = list(data["languages"])
    approved = bool(languages) and bool(data["language_approved"])
    result: dict[str, Any] = {"language_approved": approved, "form_submitted": cert.form_submitted}
    reasons = []
    if not languages:
        reasons.append(NOT_DETECTED)
    elif not approved:
        reasons.append(NOT_APPROVED)

    criteria = [
        ("min_font_size_px_required", "min_font_size_px_satisfied", lambda v: data["font_size_px"] >= v),
        (
            "min_contrast_ratio_required",
            "min_contrast_ratio_satisfied",
            lambda v: data["contrast_ratio"] >= v,
        ),
        ("opt_in_types_allowed", "opt_in_types_satisfied", lambda v: data["opt_in_type"] in v),
    ]
    for param, key, check in criteria:
        if param not in params:
            continue  # a criterion not asked is left out (readings, Verify)
        result[key] = check(params[param])
        if result[key] is False and readings.VERIFY_CRITERIA_REASON not in reasons:
            reasons.append(readings.VERIFY_CRITERIA_REASON)

    advertiser = params.get("advertiser_name")
    result["one_to_one"] = None
    if advertiser:
        if not data["tagged_consent"]:
            reasons.append(NOT_SET_UP)
        elif not cert.form_submitted:
            result["one_to_one"] = False
            reasons.append(NOT_SUBMITTED)
        elif normalize_advertiser(advertiser) not in {normalize_advertiser(a) for a in data["advertisers"]}:
            result["one_to_one"] = False
            reasons.append(f"{advertiser} was not granted consent in a one-to-one manner.")
        else:
            result["one_to_one"] = True
    result["success"] = not reasons

    body: dict[str, Any] = {"languages": [{"text": text} for text in languages], "result": result}
    for param in ("advertiser_name", "min_font_size_px_required", "min_contrast_ratio_required",
                  "opt_in_types_allowed"):  # fmt: skip
        if param in params:
            body[param] = params[param]
    return VerifyOutcome(body=body, failure_reason=reasons[0] if reasons else None)

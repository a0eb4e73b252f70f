"""Issuing, finding, extending and claiming certificates in the sandbox's store."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from sandbox import fingerprints, ids, insights, readings, verify
from sandbox.clock import isoformat
from sandbox.models import Certificate, Claim

DEFAULT_PAGE_TEXT = (
    "Compare rates from top providers in minutes\nFirst name\nLast name\nEmail address\nPhone number\n"
    "By clicking Get My Quote, I agree that Acme Insurance Inc. and its partners may contact me at the "
    "telephone number provided, including by autodialed and prerecorded calls and text messages. "
    "Consent is not a condition of purchase.\nGet My Quote"
)
KINDS = {kind for kind, _ in Certificate.KINDS}
MAX_MINT = 100_000


@dataclass
class MintRequest:
    """What a certificate should look like; every field optional (see `POST /_sandbox/certificates`)."""

    kind: str = Certificate.WEB
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    page_text: str = DEFAULT_PAGE_TEXT
    age_hours: float = 0.0
    is_sandbox: bool = False
    form_submitted: bool = False
    bot: bool = False
    insights: dict[str, Any] = field(default_factory=dict)
    verify: dict[str, Any] = field(default_factory=dict)
    cert_id: str | None = None
    count: int = 1

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MintRequest":
        """Validate the mint fields; raises ValueError naming the bad one."""
        known = {"type", "email", "phone", "page_text", "age_hours", "sandbox", "form_submitted", "bot",
                 "insights", "verify", "cert_id", "count"}  # fmt: skip
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown field(s): {sorted(unknown)}")
        kind = data.get("type") or Certificate.WEB
        if kind not in KINDS:
            raise ValueError(f"type must be one of {sorted(KINDS)}")
        overrides = data.get("insights") or {}
        if not isinstance(overrides, dict) or not set(overrides) <= set(insights.PROPERTY_NAMES) | set(
            insights.EXTRA_OVERRIDES
        ):
            raise ValueError(
                f"insights may set only {sorted(insights.PROPERTY_NAMES + insights.EXTRA_OVERRIDES)}"
            )
        verify_data = data.get("verify") or {}
        if not isinstance(verify_data, dict) or not set(verify_data) <= verify.OVERRIDE_KEYS:
            raise ValueError(f"verify may set only {sorted(verify.OVERRIDE_KEYS)}")
        count = int(data.get("count") or 1)
        if not 1 <= count <= MAX_MINT:
            raise ValueError(f"count must be between 1 and {MAX_MINT}")
        cert_id = data.get("cert_id")
        if cert_id is not None:
            cert_id = ids.canonical(str(cert_id))
            if cert_id is None or count != 1:
                raise ValueError("cert_id must be a well-formed id, and count 1")
        page_text = data.get("page_text")
        return cls(
            kind=kind,
            emails=_strings(data.get("email"), "email"),
            phones=_strings(data.get("phone"), "phone"),
            page_text=DEFAULT_PAGE_TEXT if page_text is None else str(page_text),
            age_hours=float(data.get("age_hours") or 0),
            is_sandbox=bool(data.get("sandbox", False)),
            form_submitted=bool(data.get("form_submitted", False)),
            bot=bool(data.get("bot", False)),
            insights=overrides,
            verify=verify_data,
            cert_id=cert_id,
            count=count,
        )


def _strings(value: object, name: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ValueError(f"{name} must be a string or a list of strings")


def claim_window_end(kind: str, created_at: datetime, form_submitted: bool) -> datetime:
    """When an unclaimed certificate stops answering (§4)."""
    if kind == Certificate.MASKED:
        return created_at + readings.MASKED_CLAIM_WINDOW
    if kind in (Certificate.MOBILE, Certificate.META) or form_submitted:
        return created_at + readings.EXTENDED_CLAIM_WINDOW
    return created_at + readings.WEB_CLAIM_WINDOW


def _build(request: MintRequest, n: int, now: datetime) -> Certificate:
    # "{n}" in an email or phone numbers the leads of a bulk mint: lead{n}@example.com.
    emails = [e.replace("{n}", str(n)) for e in request.emails]
    phones = [p.replace("{n}", str(n)) for p in request.phones]
    overrides = dict(request.insights)
    if request.bot:
        overrides["bot_detected"] = True
    created_at = now - timedelta(hours=request.age_hours)
    kind = request.kind
    return Certificate(
        cert_id=request.cert_id or ids.new_id(kind),
        kind=kind,
        is_sandbox=request.is_sandbox,
        form_submitted=request.form_submitted,
        created_at=created_at,
        expires_at=claim_window_end(kind, created_at, request.form_submitted),
        email_fingerprints=[fingerprints.email_fingerprint(e) for e in emails],
        phone_fingerprints=fingerprints.recorded_phone_fingerprints(phones),
        page_text=request.page_text,
        insights_overrides=overrides,
        verify_overrides=dict(request.verify),
        masked_id="" if kind in (Certificate.MASKED, Certificate.META) else ids.new_id(Certificate.MASKED),
    )


def mint(request: MintRequest, now: datetime) -> list[Certificate]:
    certs = [_build(request, n, now) for n in range(1, request.count + 1)]
    if request.cert_id:
        Certificate.objects.filter(cert_id=request.cert_id).delete()
        Claim.objects.filter(cert_id=request.cert_id).delete()
    Certificate.objects.bulk_create(certs, batch_size=500)
    return certs


def minted_view(cert: Certificate) -> dict[str, Any]:
    return {
        "cert_id": cert.cert_id,
        "cert_url": ids.cert_url(cert.cert_id),
        "expires_at": isoformat(cert.expires_at),
        "type": cert.kind,
        "created_at": isoformat(cert.created_at),
    }


def masked_twin(cert: Certificate) -> Certificate:
    """The masked certificate TrustedForm issues beside a web or mobile one (§4): same visit and lead,
    its own 40-hex id, a 72-hour window, no source shown. Built on the fly, never stored."""
    overrides = {
        k: v for k, v in cert.insights_overrides.items() if k not in ("domain", "page_url", "parent_page_url")
    }
    return Certificate(
        cert_id=cert.masked_id,
        kind=Certificate.MASKED,
        is_sandbox=cert.is_sandbox,
        created_at=cert.created_at,
        expires_at=claim_window_end(Certificate.MASKED, cert.created_at, False),
        email_fingerprints=cert.email_fingerprints,
        phone_fingerprints=cert.phone_fingerprints,
        page_text=cert.page_text,
        insights_overrides=overrides,
        verify_overrides=cert.verify_overrides,
    )


def find(cert_id: str) -> Certificate | None:
    """An issued certificate, or the masked twin of one."""
    cert = Certificate.objects.filter(pk=cert_id).first()
    if cert is not None:
        return cert
    parent = Certificate.objects.filter(masked_id=cert_id).first() if len(cert_id) == 40 else None
    return masked_twin(parent) if parent is not None else None


def find_live(cert_id: str, now: datetime) -> Certificate | None:
    """The certificate if it was issued and its claim window is still open; expired ones answer 404."""
    cert = find(cert_id)
    if cert is None or cert.expires_at <= now:
        return None
    return cert


def check_in(cert: Certificate, now: datetime) -> datetime:
    """Extend the claim window to 90 days from now (never shortening it); returns the new end."""
    new_end = max(cert.expires_at, now + readings.EXTENDED_CLAIM_WINDOW)
    Certificate.objects.filter(cert_id=cert.cert_id).update(expires_at=new_end)
    cert.expires_at = new_end
    return new_end


def masked_cert_url(cert: Certificate) -> str | None:
    """`masked_cert_url` of a retain: the twin's URL, a masked certificate's own, none for Meta (§4)."""
    if cert.kind == Certificate.MASKED:
        return ids.cert_url(cert.cert_id)
    return ids.cert_url(cert.masked_id) if cert.masked_id else None


@dataclass
class RetainContext:
    """What the answer of a claim needs to know about the claim being recorded."""

    claim_id: str
    created_at: datetime
    retained_until: datetime
    previously_retained: bool
    masked_cert_url: str | None


def record_claim(
    cert: Certificate,
    *,
    now: datetime,
    claim_limit: int,
    api_version: str,
    reference: str | None,
    vendor: str | None,
    build_body: Callable[[RetainContext], dict[str, Any]],
) -> dict[str, Any] | None:
    """Record one claim and return its answer body, or None when the claim limit is reached.

    The count and the insert share one IMMEDIATE transaction, so concurrent claims of one certificate
    cannot both slip under the limit.
    """
    with transaction.atomic():
        previous = Claim.objects.filter(cert_id=cert.cert_id).count()
        if previous >= claim_limit:
            return None
        context = RetainContext(
            claim_id=secrets.token_hex(12),
            created_at=now,
            retained_until=now + readings.RETAINED_COPY_LIFETIME,
            previously_retained=previous > 0,
            masked_cert_url=masked_cert_url(cert),
        )
        body = build_body(context)
        Claim.objects.create(
            cert_id=cert.cert_id,
            claim_id=context.claim_id,
            api_version=api_version,
            reference=reference or "",
            vendor=vendor or "",
            created_at=now,
            retained_until=context.retained_until,
            response_body=body,
        )
    return body


def latest_retained_claim(cert_id: str, now: datetime) -> Claim | None:
    """Your last claim of a certificate whose retained copy is still kept."""
    return (
        Claim.objects.filter(cert_id=cert_id, retained_until__gt=now).order_by("-created_at", "-id").first()
    )

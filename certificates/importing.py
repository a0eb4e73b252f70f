"""Intake: turn a lead as it arrives (form, CSV, JSON API) into a pending certificate.

Every value is validated here, in one place, so that each intake path reports the same reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from certificates.models import Certificate, Vendor
from certificates.trustedform import CertificateRef, normalise_email, normalise_phone, parse_certificate_url


@dataclass(frozen=True)
class Intake:
    certificate: Certificate
    created: bool
    reused: bool


def parse_url(raw: str) -> CertificateRef:
    """Validate a certificate URL against the configured host allow-list (raises InvalidCertificateUrl)."""
    return parse_certificate_url(raw, settings.TRUSTEDFORM_ALLOWED_HOSTS)


def vendor_named(name: str) -> Vendor:
    """The vendor with this name (case-insensitive), created on first sight."""
    name = " ".join(name.split())
    vendor = Vendor.objects.filter(name__iexact=name).first()
    if vendor is None:
        try:
            with transaction.atomic():
                vendor = Vendor.objects.create(name=name)
        except IntegrityError:  # created meanwhile by another request
            vendor = Vendor.objects.get(name__iexact=name)
    return vendor


@transaction.atomic
def intake_lead(
    ref: CertificateRef,
    *,
    vendor: Vendor,
    email: str = "",
    phone: str = "",
    reference: str = "",
    lead_created_at: datetime | None = None,
) -> Intake:
    """Save a lead's certificate as pending, or find it if it already arrived.

    The same certificate sent twice stays one certificate; sent by a second vendor it is flagged reused.
    """
    existing = Certificate.objects.select_for_update().filter(cert_id=ref.cert_id).first()
    if existing is not None:
        reused = existing.vendor_id != vendor.pk
        if reused and not existing.reused:
            existing.reused = True
            existing.save(update_fields=["reused"])
        return Intake(existing, created=False, reused=reused)
    certificate = Certificate.objects.create(
        cert_id=ref.cert_id,
        cert_url=ref.url,
        cert_type=ref.cert_type,
        vendor=vendor,
        reference=reference,
        lead_email=email,
        lead_phone=phone,
        email_normalised=normalise_email(email),
        phone_normalised=normalise_phone(phone),
        received_at=timezone.now(),
        lead_created_at=lead_created_at,
    )
    return Intake(certificate, created=True, reused=False)

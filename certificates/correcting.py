"""Correcting a lead that is not final yet: a person fixes the email, phone, reference or vendor, and the
certificate goes back in the queue. Each correction is kept (who, when, old and new values)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from certificates import leasing
from certificates.evidence.holds import join_open_holds
from certificates.models import Actor, Certificate, LeadCorrection, Vendor, signed_in
from certificates.worker import wake_claimer
from trustedform import missing_match_lead, normalise_email, normalise_phone

CORRECTABLE = ("lead_email", "lead_phone", "reference", "vendor")


class NotCorrectable(Exception):
    """The certificate has a final answer (or a request is out for it): its lead is evidence now."""


def correct_lead(
    certificate: Certificate,
    *,
    user: Actor,
    lead_email: str,
    lead_phone: str,
    reference: str,
    vendor: Vendor,
) -> LeadCorrection | None:
    """Apply a person's correction and requeue the certificate for claiming now; None if nothing changed.

    Refused once the certificate is final (what was claimed is evidence), and while a sender holds its
    lease (the request in flight carries the old lead).
    """
    by = signed_in(user)
    if by is None:
        raise NotCorrectable("Only a signed-in person can correct a lead: the correction is audited.")
    wanted = {"lead_email": lead_email, "lead_phone": lead_phone, "reference": reference, "vendor": vendor}
    with transaction.atomic():
        current = leasing.lock_open(certificate)
        if current is None:
            raise NotCorrectable(
                f"This certificate is {certificate.get_state_display().lower()}: what was claimed is evidence "
                "and is not changed."
            )
        if current.lease_owner and current.lease_expires_at and current.lease_expires_at > timezone.now():
            raise NotCorrectable(
                f"{leasing.describe_owner(current.lease_owner)} is sending this certificate's request now; "
                "correct the lead when its answer is in."
            )
        changes = {
            name: [str(getattr(current, name)), str(value)]
            for name, value in wanted.items()
            if getattr(current, name) != value
        }
        if not changes:
            return None
        for name, value in wanted.items():
            setattr(current, name, value)
        current.email_normalised = normalise_email(lead_email)
        current.phone_normalised = normalise_phone(lead_phone)
        missing = missing_match_lead(lead_email, lead_phone, settings.TRUSTEDFORM_API_VERSION)
        current.state = Certificate.State.HELD if missing else Certificate.State.PENDING
        current.state_reason = missing
        current.next_attempt_at = timezone.now()
        current.last_error = ""
        current.save()
        correction = LeadCorrection.objects.create(
            certificate=current, changed_by=by, changes=changes, requeued=not missing
        )
        join_open_holds(Certificate.objects.filter(pk=current.pk))
        if not missing:
            transaction.on_commit(wake_claimer)
    for name in (*CORRECTABLE, "email_normalised", "phone_normalised", "state", "state_reason"):
        setattr(certificate, name, getattr(current, name))
    return correction

"""Checking in a certificate: extending its claim window to 90 days without claiming it (no bill).

It goes through the same door as a claim (`certificates.leasing`: lease, fence, write-ahead log row),
and its answer is written down like a claim's (`certificates.claiming`).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from certificates import claiming, leasing, pausing
from certificates.models import CHECK_IN_WINDOW, Actor, Certificate, CheckIn, signed_in
from certificates.redaction import redact
from trustedform import TrustedFormError


def check_in_certificate(certificate: Certificate, *, user: Actor = None, trigger: str = "web") -> CheckIn:
    """Extend the claim window to 90 days without claiming, through the certificate's lease.

    Raises AlreadyFinal, LeaseHeld, Fenced, or TrustedFormError (after recording it).
    """
    lease = leasing.take(certificate, owner=claiming.owner_for(trigger, user))
    try:
        before_send = leasing.guard(lease, certificate_id=certificate.pk, user=user, trigger=trigger)
        try:
            result = claiming.get_client().check_in(certificate.cert_url, before_send=before_send)
        except TrustedFormError as error:
            with transaction.atomic():
                if error.call:
                    claiming.record_call(error.call, certificate=certificate, user=user, trigger=trigger)
                current = leasing.holds(lease)
                if current is None:
                    pass
                elif error.pauses_account:
                    pausing.pause_claiming(redact(error.message))
                elif error.status in (404, 410):
                    certificate.state = Certificate.State.EXPIRED
                    certificate.state_reason = f"TrustedForm: {redact(error.reason)}"[:500]
                    certificate.save(update_fields=["state", "state_reason"])
            raise
        assert result.call is not None, "the client records every call it makes"
        now = timezone.now()
        with transaction.atomic():
            check_in = CheckIn.objects.create(
                certificate=certificate,
                api_call=claiming.logged_request(
                    result.call, certificate=certificate, user=user, trigger=trigger
                ),
                checked_in_by=signed_in(user),
                extended_until=now + CHECK_IN_WINDOW,
            )
            claiming.record_call(
                result.call, certificate=certificate, user=user, trigger=trigger, result=check_in
            )
            if leasing.holds(lease) is not None:
                certificate.checked_in_at = now
                certificate.claim_deadline = max(certificate.claim_deadline, check_in.extended_until)
                certificate.save(update_fields=["checked_in_at", "claim_deadline"])
    finally:
        leasing.release(lease)
    return check_in

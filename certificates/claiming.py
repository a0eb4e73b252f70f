"""Claiming and checking in certificates, and writing down every answer.

The client (`certificates.trustedform`) does HTTP only; this module turns its results and errors into
rows: an ApiCall for every attempt, a Claim or CheckIn for every answer, and the certificate's state.
"""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from certificates.models import CHECK_IN_WINDOW, AccountStatus, ApiCall, Certificate, CheckIn, Claim
from certificates.trustedform import (
    CallRecord,
    ClaimResult,
    Lead,
    ScanTerms,
    TrustedFormClient,
    TrustedFormError,
)

# Retries live in the row (design.md §2): capped exponential backoff with jitter.
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(minutes=30)
REDACTED = "[redacted]"


class ClaimingPaused(Exception):
    """Claiming is paused for the whole account (after a 401/402/403) until an admin resumes it."""


class AlreadyFinal(Exception):
    """The certificate already has a final answer: claims are billable, so it is not claimed again."""


@cache
def get_client() -> TrustedFormClient:
    """The process-wide client, built once from settings (its session and pool are shared by threads)."""
    return TrustedFormClient(
        api_key=settings.TRUSTEDFORM_API_KEY,
        api_base=settings.TRUSTEDFORM_API_BASE,
        allowed_hosts=settings.TRUSTEDFORM_ALLOWED_HOSTS,
        api_version=settings.TRUSTEDFORM_API_VERSION,
        connect_timeout=settings.TRUSTEDFORM_CONNECT_TIMEOUT,
        read_timeout=settings.TRUSTEDFORM_READ_TIMEOUT,
        pool_size=settings.CLAIM_THREADS,
    )


def redact(text: str) -> str:
    """Remove the API key from anything about to be stored or shown (belt and braces: it is never sent back)."""
    key = settings.TRUSTEDFORM_API_KEY
    return text.replace(key, REDACTED) if key and text else text


def record_call(call: CallRecord, *, certificate: Certificate | None, user=None, trigger: str) -> ApiCall:
    """Append one attempt to the API-call log."""
    return ApiCall.objects.create(
        created_at=datetime.fromtimestamp(call.started_at, tz=UTC),
        triggered_by=user if user is not None and user.is_authenticated else None,
        trigger=trigger,
        certificate=certificate,
        operation=call.operation,
        method=call.method,
        url=redact(call.url),
        api_version=call.api_version,
        request_body=redact(call.request_body),
        status=call.status,
        response_body=redact(call.response_body),
        duration_ms=call.duration_ms,
        outcome=call.outcome or ApiCall.Outcome.ERROR,
        error=redact(call.error)[:500],
    )


def lead_for(certificate: Certificate) -> Lead:
    return Lead(
        email=certificate.lead_email,
        phone=certificate.lead_phone,
        reference=certificate.reference,
        vendor=certificate.vendor.name,
    )


def scan_terms_for(certificate: Certificate) -> ScanTerms:
    """The vendor's scan profile in wire form (empty until the vendor has one)."""
    profile_terms = getattr(certificate.vendor, "scan_terms_for_claim", None)
    return profile_terms() if callable(profile_terms) else ScanTerms()


def claim_certificate(certificate: Certificate, *, user=None, trigger: str = "web") -> Claim:
    """Claim one certificate now and record the answer.

    Raises AlreadyFinal if it already has a final answer, ClaimingPaused if the account is paused, and
    TrustedFormError (after recording it) when TrustedForm gave no usable answer.
    """
    if certificate.is_final:
        raise AlreadyFinal(f"This certificate is already {certificate.get_state_display().lower()}.")
    if AccountStatus.current().claiming_paused:
        raise ClaimingPaused(AccountStatus.current().paused_reason)
    client = get_client()
    try:
        result = client.claim(
            certificate.cert_url,
            lead_for(certificate),
            scans=scan_terms_for(certificate),
            insights_properties=settings.TRUSTEDFORM_INSIGHTS_PROPERTIES
            if client.api_version == "4.0"
            else (),
        )
    except TrustedFormError as error:
        apply_claim_error(certificate, error, user=user, trigger=trigger)
        raise
    return apply_claim_result(certificate, result, user=user, trigger=trigger)


@transaction.atomic
def apply_claim_result(certificate: Certificate, result: ClaimResult, *, user=None, trigger: str) -> Claim:
    """Store an answered claim and move the certificate to its new state."""
    api_call = (
        record_call(result.call, certificate=certificate, user=user, trigger=trigger) if result.call else None
    )
    claim = Claim.objects.create(
        certificate=certificate,
        api_call=api_call,
        claimed_by=user if user is not None and user.is_authenticated else None,
        api_version=result.api_version,
        outcome=result.outcome,
        reason=result.reason[:500],
        email_matched=result.email_matched,
        phone_matched=result.phone_matched,
        fingerprint_result=result.fingerprint_summary,
        fingerprints={
            "matching": result.fingerprints_matching,
            "non_matching": result.fingerprints_non_matching,
        },
        scans=result.scans.as_dict(),
        scan_success=result.scans.success,
        warnings=result.warnings,
        masked_cert_url=result.masked_cert_url,
        expires_at=result.expires_at,
        previously_retained=result.previously_retained,
        is_masked=result.is_masked,
        insights=_insights_json(result),
        verify=result.verify,
        raw_response=result.raw,
    )
    now = timezone.now()
    certificate.attempts += 1
    certificate.lease_owner, certificate.lease_expires_at = "", None
    if result.retained:
        certificate.state = Certificate.State.CLAIMED
        certificate.state_reason = ""
        certificate.claimed_at = certificate.claimed_at or now
        certificate.outcome = result.outcome
        certificate.outcome_reason = result.reason[:500]
        certificate.fingerprint_result = result.fingerprint_summary
        certificate.scan_success = result.scans.success
        certificate.is_masked = result.is_masked
        certificate.bot_detected = result.insights.bot_detected if result.insights else None
        certificate.retained_until = result.expires_at
        certificate.last_error = ""
        if needs_review(certificate):
            certificate.review_status = Certificate.ReviewStatus.OPEN
    else:
        # outcome "error" on a 2xx: nothing was retained; try again later (trustedform-api.md §3.7).
        certificate.outcome = result.outcome
        certificate.outcome_reason = result.reason[:500]
        certificate.last_error = f"TrustedForm answered error: {result.reason or 'no reason given'}"[:500]
        certificate.next_attempt_at = now + backoff(certificate.attempts)
    certificate.save()
    return claim


def needs_review(certificate: Certificate) -> bool:
    return bool(
        certificate.outcome == Certificate.Outcome.FAILURE
        or certificate.bot_detected
        or certificate.is_masked
        or certificate.reused
    )


@transaction.atomic
def apply_claim_error(certificate: Certificate, error: TrustedFormError, *, user=None, trigger: str) -> None:
    """Store a failed attempt: retry later, pause the account, or give the certificate its final state."""
    if error.call:
        record_call(error.call, certificate=certificate, user=user, trigger=trigger)
    now = timezone.now()
    certificate.lease_owner, certificate.lease_expires_at = "", None
    certificate.last_error = redact(error.message)[:500]
    if error.pauses_account:
        # Not the certificate's fault: it stays pending and is not charged an attempt.
        pause_claiming(redact(error.message))
    elif error.retryable or error.status is None:
        certificate.attempts += 1
        delay = backoff(certificate.attempts)
        if error.retry_after is not None:
            delay = max(delay, timedelta(seconds=error.retry_after))
        certificate.next_attempt_at = now + delay
    elif error.status in (404, 410):
        certificate.attempts += 1
        certificate.state = Certificate.State.EXPIRED
        certificate.state_reason = f"TrustedForm: {redact(error.reason)}"[:500]
    else:
        certificate.attempts += 1
        certificate.state = Certificate.State.ERROR
        certificate.state_reason = f"TrustedForm: {redact(error.reason)}"[:500]
    certificate.save()


def backoff(attempts: int) -> timedelta:
    """Capped exponential backoff with full jitter on the upper half, so retries spread out."""
    ceiling = min(RETRY_CAP, RETRY_BASE * (2 ** max(attempts - 1, 0)))
    return ceiling / 2 + ceiling / 2 * random.random()


def pause_claiming(reason: str) -> None:
    status = AccountStatus.current()
    if not status.claiming_paused:
        status.claiming_paused = True
        status.paused_reason = reason[:500]
        status.paused_at = timezone.now()
        status.save()


def resume_claiming(*, user) -> None:
    status = AccountStatus.current()
    status.claiming_paused = False
    status.resumed_at = timezone.now()
    status.resumed_by = user
    status.save()


def check_in_certificate(certificate: Certificate, *, user=None, trigger: str = "web") -> CheckIn:
    """Extend the claim window to 90 days without claiming. Raises TrustedFormError after recording it."""
    if certificate.is_final:
        raise AlreadyFinal(f"This certificate is already {certificate.get_state_display().lower()}.")
    try:
        result = get_client().check_in(certificate.cert_url)
    except TrustedFormError as error:
        with transaction.atomic():
            if error.call:
                record_call(error.call, certificate=certificate, user=user, trigger=trigger)
            if error.pauses_account:
                pause_claiming(redact(error.message))
            elif error.status in (404, 410):
                certificate.state = Certificate.State.EXPIRED
                certificate.state_reason = f"TrustedForm: {redact(error.reason)}"[:500]
                certificate.save(update_fields=["state", "state_reason"])
        raise
    now = timezone.now()
    with transaction.atomic():
        api_call = record_call(result.call, certificate=certificate, user=user, trigger=trigger)
        check_in = CheckIn.objects.create(
            certificate=certificate,
            api_call=api_call,
            checked_in_by=user if user is not None and user.is_authenticated else None,
            extended_until=now + CHECK_IN_WINDOW,
        )
        certificate.checked_in_at = now
        certificate.claim_deadline = max(certificate.claim_deadline, check_in.extended_until)
        certificate.save(update_fields=["checked_in_at", "claim_deadline"])
    return check_in


def view_claim_again(certificate: Certificate, *, user=None, trigger: str = "web") -> Claim:
    """Fetch the claim answer again from TrustedForm (`GET /<id>`) and store it as a claim row."""
    try:
        result = get_client().view(certificate.cert_url, lead_for(certificate))
    except TrustedFormError as error:
        if error.call:
            record_call(error.call, certificate=certificate, user=user, trigger=trigger)
        raise
    return apply_claim_result(certificate, result, user=user, trigger=trigger)


def _insights_json(result: ClaimResult) -> dict:
    if result.insights is None:
        return {}
    data = asdict(result.insights)
    data.pop("raw", None)
    for key in ("created_at", "expires_at"):
        if data.get(key):
            data[key] = data[key].isoformat()
    data["raw"] = result.insights.raw
    return data

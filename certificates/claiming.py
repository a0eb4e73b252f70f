"""Claiming certificates, and writing down every answer (check-ins: `certificates.checking_in`).

The client (`trustedform`) does HTTP only; this module sends through the one door
(`certificates.leasing`: lease, fence, write-ahead log row) and turns the client's results and errors
into rows: the API call's answer, a Claim or CheckIn for every answer, and the certificate's state.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from certificates import leasing, pausing
from certificates.apilog import models as api_log
from certificates.leasing import AlreadyFinal, Fenced, Lease, LeaseHeld
from certificates.models import (
    AccountStatus,
    Actor,
    ApiCall,
    Certificate,
    CheckIn,
    Claim,
    signed_in,
)
from certificates.redaction import redact
from scanning.profiles import scan_terms_for_vendor
from trustedform import (
    V4,
    CallRecord,
    ClaimResult,
    Lead,
    LeadIncomplete,
    ScanTerms,
    TrustedFormClient,
    TrustedFormError,
)

__all__ = ["AlreadyFinal", "ClaimingPaused", "Fenced", "LeaseHeld", "redact"]

# Retries live in the row: capped exponential backoff with jitter.
RETRY_CAP = timedelta(minutes=30)


class ClaimingPaused(Exception):
    """Claiming is paused for the whole account (after a 401/402/403) until an admin resumes it."""


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


def record_call(
    call: CallRecord,
    *,
    certificate: Certificate | None,
    user: Actor = None,
    trigger: str,
    result: Claim | CheckIn | None = None,
) -> ApiCall:
    """Record one attempt's answer in the API-call log (hash-chained, append-only: certificates.apilog).

    The request was logged before it was sent (`leasing.guard`); its answer completes that row. A call
    made without the door (none should be) is logged whole.
    """
    return api_log.complete_call(
        logged_request(call, certificate=certificate, user=user, trigger=trigger),
        result=result,
        status=call.status,
        response_body=redact(call.response_body),
        duration_ms=call.duration_ms,
        outcome=call.outcome or ApiCall.Outcome.ERROR,
        error=redact(call.error)[:500],
    )


def logged_request(
    call: CallRecord, *, certificate: Certificate | None, user: Actor = None, trigger: str
) -> ApiCall:
    """The log row written for this request before it was sent; written now if the request went out
    without the door (none should)."""
    if not isinstance(call.log_ref, ApiCall):
        call.log_ref = api_log.open_call(
            created_at=datetime.fromtimestamp(call.started_at, tz=UTC),
            triggered_by=signed_in(user),
            trigger=trigger[:64],
            certificate=certificate,
            operation=call.operation,
            method=call.method,
            url=redact(call.url),
            api_version=call.api_version,
            request_body=redact(call.request_body),
        )
    return call.log_ref


def lead_for(certificate: Certificate) -> Lead:
    return Lead(
        email=certificate.lead_email,
        phone=certificate.lead_phone,
        reference=certificate.reference,
        vendor=certificate.vendor.name,
    )


def scan_terms_for(certificate: Certificate, *, profile_id: int | None = None) -> ScanTerms:
    """The vendor's scan profile (or the one chosen for this claim) in wire form."""
    return scan_terms_for_vendor(certificate.vendor, profile_id=profile_id)


@dataclass(frozen=True)
class ClaimJob:
    """Everything a thread needs to claim one certificate, read from the database beforehand."""

    certificate_id: int
    cert_url: str
    lead: Lead
    scans: ScanTerms
    look_first: bool  # the last attempt may have landed: view before claiming again
    lease: Lease | None
    trigger: str
    user: Actor = None
    api_version: str | None = None

    def guard(self) -> leasing.BeforeSend:
        return leasing.guard(
            self.lease, certificate_id=self.certificate_id, user=self.user, trigger=self.trigger
        )

    def send(self, call: CallRecord) -> leasing.Send:
        return leasing.Send(self.lease, self.certificate_id, call, self.user, self.trigger)


@dataclass
class Attempt:
    """What one claim attempt produced: an answer, an error, or nothing sent; plus earlier calls it made."""

    job: ClaimJob
    result: ClaimResult | None = None
    error: TrustedFormError | None = None
    fenced: Fenced | None = None
    calls_before: list[CallRecord | None] = field(default_factory=list)


def job_for(
    certificate: Certificate,
    lease: Lease | None,
    *,
    trigger: str,
    user: Actor = None,
    api_version: str | None = None,
    lead: Lead | None = None,
) -> ClaimJob:
    job = jobs_for([(certificate, lease)], trigger=trigger, user=user, api_version=api_version)[0]
    return job if lead is None else replace(job, lead=lead)


def jobs_for(
    leased: Sequence[tuple[Certificate, Lease | None]],
    *,
    trigger: str,
    user: Actor = None,
    api_version: str | None = None,
) -> list[ClaimJob]:
    """The jobs for leased certificates (their vendors selected), read with one query for the unanswered
    requests and one per vendor's scan profile, not two per certificate (the worker leases dozens)."""
    unanswered = set(
        ApiCall.objects.filter(
            certificate__in=[certificate.pk for certificate, _ in leased], outcome=ApiCall.Outcome.SENT
        ).values_list("certificate_id", flat=True)
    )
    scans: dict[int, ScanTerms] = {}
    jobs = []
    for certificate, lease in leased:
        if certificate.vendor_id not in scans:
            scans[certificate.vendor_id] = scan_terms_for(certificate)
        jobs.append(
            ClaimJob(
                certificate_id=certificate.pk,
                cert_url=certificate.cert_url,
                lead=lead_for(certificate),
                scans=scans[certificate.vendor_id],
                # An orphaned lease or an unanswered request means a sender died, perhaps mid-request.
                look_first=certificate.last_attempt_unknown
                or certificate.pk in unanswered
                or bool(lease and lease.orphaned),
                lease=lease,
                trigger=trigger[:64],
                user=user,
                api_version=api_version,
            )
        )
    return jobs


def attempt_claim(
    client: TrustedFormClient, job: ClaimJob, before_send: leasing.BeforeSend | None = None
) -> Attempt:
    """Claim one certificate over HTTP, through the door: `before_send` (by default the job's guard, in
    this thread) fences and logs each request before it leaves. The worker's threads do HTTP only and
    pass a `before_send` that runs the guard on the writing thread (see `_Gate`).

    After an ambiguous attempt (timeout, reset, a dead sender) it first asks for the claim again
    (`GET /<id>`): a claim is billed, and the earlier one may have landed.
    """
    attempt = Attempt(job)
    before_send = before_send or job.guard()
    version = job.api_version or client.api_version
    try:
        if job.look_first:
            try:
                attempt.result = client.view(job.cert_url, job.lead, before_send=before_send)
                return attempt
            except TrustedFormError as error:
                if error.status != 404:
                    attempt.error = error
                    return attempt
                attempt.calls_before.append(error.call)
        attempt.result = client.claim(
            job.cert_url,
            job.lead,
            scans=job.scans,
            api_version=version,
            insights_properties=settings.TRUSTEDFORM_INSIGHTS_PROPERTIES if version == V4 else (),
            before_send=before_send,
        )
    except TrustedFormError as error:
        attempt.error = error
    except Fenced as fenced:
        attempt.fenced = fenced
    return attempt


def record_attempt(certificate: Certificate, attempt: Attempt, *, current: bool = True) -> Claim | None:
    """Write one attempt's answers and, if its sender still holds the lease (`current`), its effect on
    the certificate. One thread writes (the worker's main thread, or the request's)."""
    job = attempt.job
    for call in attempt.calls_before:
        if call is not None:
            record_call(call, certificate=certificate, user=job.user, trigger=job.trigger)
    if not current:
        # A late answer to a stale sender: logged as TrustedForm gave it, the certificate left alone.
        for call in [
            attempt.result.call if attempt.result else None,
            attempt.error.call if attempt.error else None,
        ]:
            if call is not None:
                record_call(call, certificate=certificate, user=job.user, trigger=job.trigger)
        return None
    if attempt.calls_before:
        certificate.last_attempt_unknown = False  # TrustedForm said it holds no claim of ours
    if attempt.result is not None:
        return apply_claim_result(certificate, attempt.result, user=job.user, trigger=job.trigger)
    if attempt.error is not None:
        apply_claim_error(certificate, attempt.error, user=job.user, trigger=job.trigger)
    return None


def claim_certificate(
    certificate: Certificate,
    *,
    user: Actor = None,
    trigger: str = "web",
    api_version: str | None = None,
    lead: Lead | None = None,
) -> Claim:
    """Claim one certificate now, through its lease, and record the answer.

    Raises AlreadyFinal if it already has a final answer, LeaseHeld if another sender holds it now (a
    second submit, the worker), ClaimingPaused if the account is paused, and TrustedFormError (after
    recording it) when TrustedForm gave no usable answer.
    """
    if certificate.is_final:
        raise AlreadyFinal(f"This certificate is already {certificate.get_state_display().lower()}.")
    status = AccountStatus.current()
    if status.claiming_paused:
        raise ClaimingPaused(status.paused_reason)
    lease = leasing.take(certificate, owner=owner_for(trigger, user))
    try:
        job = job_for(certificate, lease, trigger=trigger, user=user, api_version=api_version, lead=lead)
        attempt = attempt_claim(get_client(), job)
        claim = record_under_lease(certificate, attempt)
    finally:
        leasing.release(lease)
    if attempt.fenced is not None:
        raise attempt.fenced
    if attempt.error is not None:
        raise attempt.error
    assert claim is not None
    return claim


def owner_for(trigger: str, user: Actor) -> str:
    """A lease owner for a manual door: who asked, and a random part so two submits differ."""
    who = getattr(user, "pk", None) or "-"
    return f"{trigger}:{who}:{uuid.uuid4().hex[:8]}"


def record_under_lease(certificate: Certificate, attempt: Attempt) -> Claim | None:
    """Write an attempt in one transaction, re-reading the row under its lock to see if it is still ours."""
    lease = attempt.job.lease
    with transaction.atomic():
        current = leasing.holds(lease) if lease is not None else None
        if current is not None:
            refresh_from(certificate, current)
        return record_attempt(certificate, attempt, current=lease is None or current is not None)


# What a sender re-reads from the locked row before it records an answer.
REFRESHED_FIELDS = [
    "state",
    "claim_deadline",
    "checked_in_at",
    "review_status",
    "reused",
    "attempts",
    "last_attempt_unknown",
]


# What an answer (or an error) may change in the certificate's row: only these are written, so an
# answer neither writes the forty other columns nor puts back a stale copy of one changed meanwhile.
ANSWERED_FIELDS = [
    "attempts",
    "last_attempt_unknown",
    "state",
    "state_reason",
    "claimed_at",
    "outcome",
    "outcome_reason",
    "fingerprint_result",
    "scan_success",
    "is_masked",
    "bot_detected",
    "retained_until",
    "last_error",
    "review_status",
    "next_attempt_at",
]


def refresh_from(certificate: Certificate, current: Certificate) -> None:
    for name in REFRESHED_FIELDS:
        setattr(certificate, name, getattr(current, name))


# No savepoint (two statements a claim): an error here is never caught and carried on from; the
# enclosing transaction, the worker's batch or the door's, is what rolls back.
@transaction.atomic(savepoint=False)
def apply_claim_result(
    certificate: Certificate, result: ClaimResult, *, user: Actor = None, trigger: str
) -> Claim:
    """Store an answered claim and move the certificate to its new state."""
    request = (
        logged_request(result.call, certificate=certificate, user=user, trigger=trigger)
        if result.call
        else None
    )
    claim = Claim.objects.create(
        certificate=certificate,
        api_call=request,
        claimed_by=signed_in(user),
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
    if result.call:
        record_call(result.call, certificate=certificate, user=user, trigger=trigger, result=claim)
    now = timezone.now()
    certificate.attempts += 1
    certificate.last_attempt_unknown = False
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
        if certificate.failed_checks():
            certificate.review_status = Certificate.ReviewStatus.OPEN
    else:
        # outcome "error" on a 2xx: nothing was retained; try again later (API doc §3.7).
        certificate.outcome = result.outcome
        certificate.outcome_reason = result.reason[:500]
        certificate.last_error = f"TrustedForm answered error: {result.reason or 'no reason given'}"[:500]
        certificate.next_attempt_at = now + backoff(certificate.attempts)
    certificate.save(update_fields=ANSWERED_FIELDS)
    return claim


@transaction.atomic(savepoint=False)  # as apply_claim_result
def apply_claim_error(
    certificate: Certificate, error: TrustedFormError, *, user: Actor = None, trigger: str
) -> None:
    """Store a failed attempt: retry later, pause the account, or give the certificate its final state."""
    if error.call:
        record_call(error.call, certificate=certificate, user=user, trigger=trigger)
    now = timezone.now()
    certificate.last_error = redact(error.message)[:500]
    certificate.last_attempt_unknown = certificate.last_attempt_unknown or error.unknown
    if isinstance(error, LeadIncomplete):
        # Nothing was sent: not an attempt, and not final. A person completes the lead (the certificate
        # page says how); the sweep checks it in meanwhile so its window does not close.
        certificate.state = Certificate.State.HELD
        certificate.state_reason = error.message[:500]
    elif error.pauses_account:
        # Not the certificate's fault: it stays pending and is not charged an attempt.
        pausing.pause_claiming(redact(error.message))
    elif error.not_sent:
        # Held back before its first byte (the sender stalled past its send-by time, see leasing):
        # nothing reached TrustedForm, so it is not an attempt; it goes again at once.
        certificate.next_attempt_at = now
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
    elif error.status == 400:
        # The request as sent was refused (a schema, delimiter or lead problem), not the certificate:
        # nothing was retained, and a corrected request can still claim it. Held for a person.
        certificate.attempts += 1
        certificate.state = Certificate.State.HELD
        certificate.state_reason = (
            f"TrustedForm refused the request as sent (HTTP 400): {redact(error.reason)}. "
            "Nothing was retained. Correct the lead or the vendor's scan profile, then claim again."
        )[:500]
    else:
        certificate.attempts += 1
        certificate.state = Certificate.State.ERROR
        certificate.state_reason = f"TrustedForm: {redact(error.reason)}"[:500]
    certificate.save(update_fields=ANSWERED_FIELDS)


def backoff(attempts: int) -> timedelta:
    """Capped exponential backoff with full jitter on the upper half, so retries spread out."""
    base = settings.CLAIM_RETRY_BASE_SECONDS
    # Capped before building the timedelta: 2**attempts overflows one after a few dozen attempts.
    ceiling = min(RETRY_CAP.total_seconds(), base * 2 ** min(max(attempts - 1, 0), 32))
    return timedelta(seconds=ceiling / 2 + ceiling / 2 * random.random())


def claim_by_url(cert_url: str, lead: Lead, *, api_version: str | None = None, trigger: str) -> ClaimResult:
    """Claim a certificate that need not be in tfdash (scripts and support); the call is still logged.

    A certificate tfdash holds goes through its lease like any other door (and a final one is not
    claimed again). Raises InvalidCertificateUrl before any request, AlreadyFinal, LeaseHeld, and
    TrustedFormError after recording it.
    """
    client = get_client()
    certificate = (
        Certificate.objects.select_related("vendor")
        .filter(cert_id=client.certificate(cert_url).cert_id)
        .first()
    )
    if certificate is not None:
        claim = claim_certificate(certificate, trigger=trigger, api_version=api_version, lead=lead)
        result = _result_of(claim)
        return result
    before_send = leasing.guard(None, certificate_id=None, trigger=trigger)
    version = api_version or client.api_version
    try:
        result = client.claim(
            cert_url,
            lead,
            api_version=version,
            insights_properties=settings.TRUSTEDFORM_INSIGHTS_PROPERTIES if version == V4 else (),
            before_send=before_send,
        )
    except TrustedFormError as error:
        if error.call:
            record_call(error.call, certificate=None, trigger=trigger)
        raise
    assert result.call is not None, "the client records every call it makes"
    record_call(result.call, certificate=None, trigger=trigger)
    return result


def _result_of(claim: Claim) -> ClaimResult:
    """The typed result a claim row was made from (re-parsed from TrustedForm's answer as stored)."""
    from trustedform import parse_claim_response

    lead = lead_for(claim.certificate)
    return parse_claim_response(
        claim.raw_response, status=200, api_version=claim.api_version, lead=lead, scans=None
    )


def view_claim_again(certificate: Certificate, *, user: Actor = None, trigger: str = "web") -> Claim:
    """Fetch the claim answer again from TrustedForm (`GET /<id>`) and store it as a claim row."""
    lease = leasing.take(certificate, owner=owner_for(trigger, user), require_pending=False)
    try:
        before_send = leasing.guard(lease, certificate_id=certificate.pk, user=user, trigger=trigger)
        try:
            result = get_client().view(certificate.cert_url, lead_for(certificate), before_send=before_send)
        except TrustedFormError as error:
            if error.call:
                record_call(error.call, certificate=certificate, user=user, trigger=trigger)
            raise
        return apply_claim_result(certificate, result, user=user, trigger=trigger)
    finally:
        leasing.release(lease)


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

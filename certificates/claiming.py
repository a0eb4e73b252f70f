"""Claiming and checking in certificates, and writing down every answer.

The client (`certificates.trustedform`) does HTTP only; this module turns its results and errors into
rows: an ApiCall for every attempt, a Claim or CheckIn for every answer, and the certificate's state.
"""

from __future__ import annotations

import random
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from certificates.apilog import append_api_call
from certificates.models import CHECK_IN_WINDOW, AccountStatus, ApiCall, Certificate, CheckIn, Claim
from certificates.trustedform import (
    CallRecord,
    ClaimResult,
    Lead,
    ScanTerms,
    TrustedFormClient,
    TrustedFormError,
)
from scanning.profiles import scan_terms_for_vendor

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
    """Append one attempt to the API-call log (hash-chained, append-only: certificates.apilog)."""
    return append_api_call(
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


@dataclass
class Attempt:
    """What one claim attempt produced: an answer or an error, plus any earlier calls it made."""

    job: ClaimJob
    result: ClaimResult | None = None
    error: TrustedFormError | None = None
    calls_before: list[CallRecord] = field(default_factory=list)


def job_for(certificate: Certificate, *, orphaned_lease: bool = False) -> ClaimJob:
    return ClaimJob(
        certificate_id=certificate.pk,
        cert_url=certificate.cert_url,
        lead=lead_for(certificate),
        scans=scan_terms_for(certificate),
        # An expired lease that was never released means its worker died, perhaps mid-request.
        look_first=certificate.last_attempt_unknown or orphaned_lease,
    )


def attempt_claim(client: TrustedFormClient, job: ClaimJob) -> Attempt:
    """Claim one certificate over HTTP; touches no database, so it can run in any thread.

    After an ambiguous attempt (timeout, reset) it first asks for the claim again (`GET /<id>`): a claim
    is billed, and the earlier one may have landed (design.md §2).
    """
    attempt = Attempt(job)
    if job.look_first:
        try:
            attempt.result = client.view(job.cert_url, job.lead)
            return attempt
        except TrustedFormError as error:
            if error.status != 404:
                attempt.error = error
                return attempt
            attempt.calls_before.append(error.call)
    try:
        attempt.result = client.claim(
            job.cert_url,
            job.lead,
            scans=job.scans,
            insights_properties=settings.TRUSTEDFORM_INSIGHTS_PROPERTIES
            if client.api_version == "4.0"
            else (),
        )
    except TrustedFormError as error:
        attempt.error = error
    return attempt


def record_attempt(certificate: Certificate, attempt: Attempt, *, user=None, trigger: str) -> Claim | None:
    """Write one attempt's calls and its effect on the certificate (one thread writes; design.md §2)."""
    for call in attempt.calls_before:
        if call is not None:
            record_call(call, certificate=certificate, user=user, trigger=trigger)
    if attempt.calls_before:
        certificate.last_attempt_unknown = False  # TrustedForm said it holds no claim of ours
    if attempt.result is not None:
        return apply_claim_result(certificate, attempt.result, user=user, trigger=trigger)
    apply_claim_error(certificate, attempt.error, user=user, trigger=trigger)
    return None


def claim_certificate(certificate: Certificate, *, user=None, trigger: str = "web") -> Claim:
    """Claim one certificate now and record the answer.

    Raises AlreadyFinal if it already has a final answer, ClaimingPaused if the account is paused, and
    TrustedFormError (after recording it) when TrustedForm gave no usable answer.
    """
    if certificate.is_final:
        raise AlreadyFinal(f"This certificate is already {certificate.get_state_display().lower()}.")
    status = AccountStatus.current()
    if status.claiming_paused:
        raise ClaimingPaused(status.paused_reason)
    attempt = attempt_claim(get_client(), job_for(certificate))
    claim = record_attempt(certificate, attempt, user=user, trigger=trigger)
    if attempt.error is not None:
        raise attempt.error
    return claim


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
    certificate.last_attempt_unknown = certificate.last_attempt_unknown or error.unknown
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
    base = getattr(settings, "CLAIM_RETRY_BASE_SECONDS", RETRY_BASE.total_seconds())
    # Capped before building the timedelta: 2**attempts overflows one after a few dozen attempts.
    ceiling = min(RETRY_CAP.total_seconds(), base * 2 ** min(max(attempts - 1, 0), 32))
    return timedelta(seconds=ceiling / 2 + ceiling / 2 * random.random())


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


def claim_by_url(cert_url: str, lead: Lead, *, api_version: str | None = None, trigger: str) -> ClaimResult:
    """Claim a certificate that need not be in tfdash (scripts and support); the call is still logged.

    Raises InvalidCertificateUrl before any request, and TrustedFormError after recording it.
    """
    client = get_client()
    certificate = Certificate.objects.filter(cert_id=client.certificate(cert_url).cert_id).first()
    try:
        result = client.claim(
            cert_url,
            lead,
            api_version=api_version,
            insights_properties=settings.TRUSTEDFORM_INSIGHTS_PROPERTIES
            if (api_version or client.api_version) == "4.0"
            else (),
        )
    except TrustedFormError as error:
        if certificate is not None and not certificate.is_final:
            apply_claim_error(certificate, error, trigger=trigger)
        elif error.call:
            record_call(error.call, certificate=certificate, trigger=trigger)
        raise
    if certificate is not None and not certificate.is_final:
        apply_claim_result(certificate, result, trigger=trigger)
    else:
        record_call(result.call, certificate=certificate, trigger=trigger)
    return result


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


# --- Background claiming (design.md §2) -------------------------------------------------------------

LEASE = timedelta(seconds=120)
REFRESHED_FIELDS = ["state", "claim_deadline", "checked_in_at", "review_status", "reused", "attempts"]


@dataclass
class WorkStats:
    claimed: int = 0
    retried: int = 0
    final_errors: int = 0
    paused: bool = False

    def add(self, certificate: Certificate, attempt: Attempt) -> None:
        if certificate.state == Certificate.State.CLAIMED:
            self.claimed += 1
        elif certificate.state == Certificate.State.PENDING:
            self.retried += 1
        else:
            self.final_errors += 1


def lease_due(limit: int, *, owner: str, lease: timedelta | None = None) -> list[tuple[Certificate, bool]]:
    """Take up to `limit` due certificates, earliest deadline first, for `owner` for a while.

    The lease is taken in a short transaction and committed before any HTTP call: SKIP LOCKED on
    PostgreSQL lets many workers share the table; on SQLite the IMMEDIATE transaction serialises them.
    A worker that dies leaves leases that simply expire. Returns each certificate with whether its
    previous lease was orphaned (never released), so that the next attempt looks before claiming.
    """
    if limit <= 0:
        return []
    now = timezone.now()
    with transaction.atomic():
        due = Certificate.objects.due(now).order_by("claim_deadline", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        previous_owner = dict(due.values_list("id", "lease_owner")[:limit])
        if previous_owner:
            Certificate.objects.filter(id__in=previous_owner).update(
                lease_owner=owner, lease_expires_at=now + (lease or lease_duration())
            )
    leased = Certificate.objects.filter(id__in=previous_owner).select_related("vendor")
    return [(c, bool(previous_owner[c.pk])) for c in leased.order_by("claim_deadline", "id")]


def lease_duration() -> timedelta:
    return timedelta(seconds=getattr(settings, "CLAIM_LEASE_SECONDS", LEASE.total_seconds()))


def claim_due(*, owner: str, threads: int | None = None, max_seconds: float | None = None) -> WorkStats:
    """Claim due certificates until none is due (or time runs out), keeping the thread pool busy.

    Threads do HTTP only; this thread leases rows and writes every result. At most `threads` requests
    are out at once, so a 401/402/403 stops the rest: the account is paused, nothing more is leased,
    and what was leased but not sent is released untouched.
    """
    threads = threads or settings.CLAIM_THREADS
    client = get_client()
    stats = WorkStats()
    deadline = time.monotonic() + max_seconds if max_seconds else None
    leased: deque[tuple[Certificate, bool]] = deque()
    in_flight: dict[Future, Certificate] = {}
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="claim") as pool:

        def top_up() -> None:
            while not stats.paused and leased and len(in_flight) < threads:
                certificate, orphaned = leased.popleft()
                job = job_for(certificate, orphaned_lease=orphaned)
                in_flight[pool.submit(attempt_claim, client, job)] = certificate

        while True:
            accepting = not stats.paused and (deadline is None or time.monotonic() < deadline)
            if accepting and len(leased) < threads:
                if AccountStatus.current().claiming_paused:
                    stats.paused = True
                else:
                    # Lease a pool's worth ahead, so a thread never waits for the database.
                    leased.extend(lease_due(threads * 2 - len(leased) - len(in_flight), owner=owner))
            if accepting:
                top_up()
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            finished = [(in_flight.pop(future), future.result()) for future in done]
            if any(a.error is not None and a.error.pauses_account for _, a in finished):
                stats.paused = True
            if accepting:
                top_up()  # refill the threads first, then write: the writes overlap the next calls
            # One transaction for the answers that came back together: one commit, not one per claim.
            with transaction.atomic():
                for certificate, attempt in finished:
                    # Re-read the row: a user may have cancelled or checked it in while the call was out.
                    certificate.refresh_from_db(fields=REFRESHED_FIELDS)
                    record_attempt(certificate, attempt, trigger=f"worker {owner}"[:64])
                    stats.add(certificate, attempt)
                if attempt.error is not None and attempt.error.pauses_account:
                    stats.paused = True
    for certificate, _ in leased:
        release(certificate)
    return stats


def release(certificate: Certificate) -> None:
    Certificate.objects.filter(pk=certificate.pk).update(lease_owner="", lease_expires_at=None)


# --- The sweep: what no claim will fix in time -----------------------------------------------------

# Normal claims happen within seconds of intake; one still pending this close to its deadline is stuck
# (retries, a paused account, an outage), so it is checked in to extend it to 90 days.
CHECK_IN_LEAD = timedelta(hours=2)
# The deadline is an estimate (from the lead's time or our receipt); keep trying a little past it,
# since TrustedForm's own 404 is the real verdict.
EXPIRY_GRACE = timedelta(hours=1)


@dataclass
class SweepStats:
    checked_in: int = 0
    check_in_errors: int = 0
    expired: int = 0
    due: int = 0


def sweep(*, now: datetime | None = None) -> SweepStats:
    """Expire what is past saving, check in what is about to expire, and count what is due."""
    now = now or timezone.now()
    stats = SweepStats()
    pending = Certificate.objects.filter(state=Certificate.State.PENDING)
    stats.expired = pending.filter(claim_deadline__lt=now - EXPIRY_GRACE).update(
        state=Certificate.State.EXPIRED,
        state_reason="The claim window closed before tfdash could claim or check it in.",
        lease_owner="",
        lease_expires_at=None,
    )
    if not AccountStatus.current().claiming_paused:
        stuck = pending.filter(checked_in_at__isnull=True, claim_deadline__lte=now + CHECK_IN_LEAD).exclude(
            cert_type__in=["mobile", "meta"]
        )
        for certificate in stuck.select_related("vendor").order_by("claim_deadline")[:500]:
            try:
                check_in_certificate(certificate, trigger="sweep")
                stats.checked_in += 1
            except (TrustedFormError, AlreadyFinal):
                stats.check_in_errors += 1
    stats.due = Certificate.objects.due(now).count()
    return stats


def check_in_at_risk(*, user=None, within: timedelta = timedelta(hours=12)) -> SweepStats:
    """Check in every pending certificate whose deadline is within `within` (the home page's button)."""
    stats = SweepStats()
    for certificate in (
        Certificate.objects.at_risk(within).filter(checked_in_at__isnull=True).select_related("vendor")
    ):
        try:
            check_in_certificate(certificate, user=user, trigger="check-in-at-risk")
            stats.checked_in += 1
        except (TrustedFormError, AlreadyFinal):
            stats.check_in_errors += 1
    return stats

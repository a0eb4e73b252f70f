"""Batches: their progress, retrying the failed rows, cancelling and un-cancelling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Min, OuterRef
from django.utils import timezone

from certificates.intake.importer import start_claiming
from certificates.models import (
    OPEN_STATES,
    Actor,
    ApiCall,
    Certificate,
    ImportBatch,
)
from trustedform import (
    missing_match_lead,
)

# --- Batches: progress, retry, cancel ---------------------------------------------------------------

RATE_WINDOW = timedelta(minutes=5)
AT_RISK_WITHIN = timedelta(hours=12)


@dataclass(frozen=True)
class BatchProgress:
    counts: dict[str, int]
    total: int
    percent_done: int
    claims_per_minute: float
    eta_seconds: int | None
    next_deadline: datetime | None
    next_deadline_at_risk: bool
    reading: bool = False  # the file is still being read in the background
    rows_read: int = 0

    @property
    def done(self) -> bool:
        return not self.reading and self.counts.get(Certificate.State.PENDING, 0) == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "total": self.total,
            "percent_done": self.percent_done,
            "claims_per_minute": round(self.claims_per_minute, 1),
            "eta_seconds": self.eta_seconds,
            "next_deadline": self.next_deadline.isoformat() if self.next_deadline else None,
            "next_deadline_at_risk": self.next_deadline_at_risk,
            "reading": self.reading,
            "rows_read": self.rows_read,
            "done": self.done,
        }


def batch_progress(batch: ImportBatch, *, now: datetime | None = None) -> BatchProgress:
    """Where the batch's certificates stand: counts by state, pace, and the next deadline (3 queries)."""
    now = now or timezone.now()
    certificates = Certificate.objects.filter(batch=batch)
    by_state = dict(certificates.values_list("state").annotate(n=Count("id")).order_by())
    counts = {state: by_state.get(state, 0) for state in Certificate.State.values}
    total = sum(counts.values())
    pending = counts[Certificate.State.PENDING]
    recent = certificates.filter(claimed_at__gte=now - RATE_WINDOW).aggregate(
        n=Count("id"), first=Min("claimed_at")
    )
    # The pace over the last few minutes, measured from the first claim in them (at least a minute),
    # so a batch that just started is not reported at a fifth of its speed.
    span = max(now - recent["first"], timedelta(minutes=1)) if recent["n"] else RATE_WINDOW
    per_minute = recent["n"] / (span.total_seconds() / 60)
    eta = round(pending / per_minute * 60) if pending and per_minute else (0 if not pending else None)
    next_deadline = certificates.filter(state=Certificate.State.PENDING).aggregate(d=Min("claim_deadline"))[
        "d"
    ]
    return BatchProgress(
        counts=counts,
        total=total,
        percent_done=100 if not total else int((total - pending) * 100 / total),
        claims_per_minute=per_minute,
        eta_seconds=eta,
        next_deadline=next_deadline,
        next_deadline_at_risk=next_deadline is not None and next_deadline <= now + AT_RISK_WITHIN,
        reading=batch.still_reading,
        rows_read=total,
    )


def retry_failed(batch: ImportBatch) -> int:
    """Put the batch's not-claimable certificates back to pending, attempts reset; returns how many."""
    count = Certificate.objects.filter(
        batch=batch, state__in=[Certificate.State.ERROR, Certificate.State.HELD]
    ).update(
        state=Certificate.State.PENDING,
        state_reason="",
        attempts=0,
        last_error="",
        next_attempt_at=timezone.now(),
        lease_owner="",
        lease_expires_at=None,
    )
    if count:
        start_claiming()
    return count


@dataclass(frozen=True)
class Cancellation:
    """What cancelling a batch will do (`preview`) or did: it cancels what is not final and not out."""

    cancellable: int  # pending or on hold, with no request out: cancelled, and never sent afterwards
    in_flight: int  # a request is out right now: its answer decides (claimed ones are kept)


def _cancellable(batch: ImportBatch) -> tuple[Any, Any]:
    """The batch's open certificates, split by whether a request is out for them right now.

    A request is out when the certificate's current lease logged a request that has no answer yet
    (certificates.leasing writes that row before sending). A lease taken but not sent yet is cancellable:
    the sender's fence check finds the certificate cancelled and sends nothing.
    """
    now = timezone.now()
    open_ = Certificate.objects.filter(batch=batch, state__in=OPEN_STATES)
    out = ApiCall.objects.filter(
        certificate=OuterRef("pk"), outcome=ApiCall.Outcome.SENT, fence=OuterRef("lease_fence")
    )
    in_flight = open_.filter(lease_expires_at__gt=now).exclude(lease_owner="").filter(Exists(out))
    return open_.exclude(pk__in=in_flight.values("pk")), in_flight


def preview_cancel(batch: ImportBatch) -> Cancellation:
    cancellable, in_flight = _cancellable(batch)
    return Cancellation(cancellable.count(), in_flight.count())


def cancel_batch(batch: ImportBatch, *, user: Actor = None) -> Cancellation:
    """Stop claiming the batch: what is not final and has no request out is cancelled (and never sent
    afterwards); what is out is left to its answer; claimed ones are kept. Undone by `uncancel_batch`."""
    now = timezone.now()
    with transaction.atomic():
        cancellable, in_flight = _cancellable(batch)
        count = cancellable.update(
            state=Certificate.State.CANCELLED, state_reason=f"Cancelled with import batch {batch.pk}."
        )
        batch.cancelled_at = now
        batch.cancelled_by = user if user is not None and user.is_authenticated else None
        batch.save(update_fields=["cancelled_at", "cancelled_by"])
        return Cancellation(count, in_flight.count())


def uncancel_batch(batch: ImportBatch) -> int:
    """Put the batch's cancelled certificates whose window is still open back in the queue."""
    now = timezone.now()
    with transaction.atomic():
        cancelled = Certificate.objects.filter(
            batch=batch, state=Certificate.State.CANCELLED, claim_deadline__gt=now
        )
        held = cancelled.filter(lead_email="", lead_phone="")
        count = 0
        if missing := missing_match_lead("", "", settings.TRUSTEDFORM_API_VERSION):
            count += held.update(state=Certificate.State.HELD, state_reason=missing)
        count += cancelled.update(state=Certificate.State.PENDING, state_reason="", next_attempt_at=now)
        batch.cancelled_at, batch.cancelled_by = None, None
        batch.save(update_fields=["cancelled_at", "cancelled_by"])
    if count:
        start_claiming()
    return count


def uncancellable(batch: ImportBatch) -> int:
    """How many of the batch's cancelled certificates are still within their window."""
    return Certificate.objects.filter(
        batch=batch, state=Certificate.State.CANCELLED, claim_deadline__gt=timezone.now()
    ).count()

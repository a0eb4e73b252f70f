"""The sweep: what no claim will fix in time is checked in (extended to 90 days) or marked expired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.tasks import task
from django.utils import timezone

from certificates import claiming
from certificates.leasing import AlreadyFinal, Fenced, LeaseHeld
from certificates.models import (
    OPEN_STATES,
    AccountStatus,
    Actor,
    Certificate,
)
from certificates.reports import rollups
from certificates.worker import wake_claimer
from trustedform import (
    TrustedFormError,
)

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
    pending = Certificate.objects.filter(state__in=OPEN_STATES)
    # A certificate whose request is out right now keeps its lease: its answer decides, not the clock.
    live = Q(lease_expires_at__gt=now) & ~Q(lease_owner="")
    stats.expired = (
        pending.filter(claim_deadline__lt=now - EXPIRY_GRACE)
        .exclude(live)
        .update(
            state=Certificate.State.EXPIRED,
            state_reason="The claim window closed before tfdash could claim or check it in.",
            lease_owner="",
            lease_expires_at=None,
        )
    )
    if not AccountStatus.current().claiming_paused:
        stuck = pending.filter(checked_in_at__isnull=True, claim_deadline__lte=now + CHECK_IN_LEAD).exclude(
            cert_type__in=["mobile", "meta"]
        )
        for certificate in stuck.select_related("vendor").order_by("claim_deadline")[:500]:
            try:
                claiming.check_in_certificate(certificate, trigger="sweep")
                stats.checked_in += 1
            except (TrustedFormError, AlreadyFinal, LeaseHeld, Fenced):
                stats.check_in_errors += 1
    stats.due = Certificate.objects.due(now).count()
    return stats


def check_in_at_risk(*, user: Actor = None, within: timedelta = timedelta(hours=12)) -> SweepStats:
    """Check in every pending certificate whose deadline is within `within` (the home page's button)."""
    stats = SweepStats()
    for certificate in (
        Certificate.objects.at_risk(within).filter(checked_in_at__isnull=True).select_related("vendor")
    ):
        try:
            claiming.check_in_certificate(certificate, user=user, trigger="check-in-at-risk")
            stats.checked_in += 1
        except (TrustedFormError, AlreadyFinal, LeaseHeld, Fenced):
            stats.check_in_errors += 1
    return stats


def sweep_and_wake() -> SweepStats:
    """One sweep, then recount the report buckets it changed and wake the worker for what is due."""
    stats = sweep()
    rollups.refresh_dirty()
    if stats.due:
        wake_claimer()
    return stats


@task()
def check_in_at_risk_task(user_id: int | None = None) -> dict[str, int]:
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    stats = check_in_at_risk(user=user)
    return {"checked_in": stats.checked_in, "errors": stats.check_in_errors}

"""The sweep: what no claim will fix in time is checked in (extended to 90 days) or marked expired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Min, Q
from django.tasks import task
from django.urls import reverse
from django.utils import timezone

from certificates import checking_in
from certificates.alerts.delivery import due, wake_sender
from certificates.alerts.models import Alert, AlertDelivery
from certificates.alerts.raising import OPEN, raise_alert, resolve_alerts
from certificates.leasing import AlreadyFinal, Fenced, LeaseHeld
from certificates.models import (
    OPEN_STATES,
    AccountStatus,
    Actor,
    Certificate,
)
from certificates.reports import scorecards
from certificates.revocations.models import Revocation
from certificates.worker import wake_claimer, worker_state
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
    with transaction.atomic():  # the expiry and its alert together: a crash loses neither
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
        if stats.expired:
            raise_alert(
                Alert.Event.CERTIFICATES_EXPIRED_UNCLAIMED,
                severity=Alert.Severity.CRITICAL,
                summary=f"{stats.expired} certificate{'' if stats.expired == 1 else 's'} expired without a "
                "claim: their consent evidence is gone.",
                details={"expired": stats.expired},
                path=reverse("certificates:list") + "?state=expired",
            )
    if not AccountStatus.current().claiming_paused:
        stuck = pending.filter(checked_in_at__isnull=True, claim_deadline__lte=now + CHECK_IN_LEAD).exclude(
            cert_type__in=["mobile", "meta"]
        )
        for certificate in stuck.select_related("vendor").order_by("claim_deadline")[:500]:
            try:
                checking_in.check_in_certificate(certificate, trigger="sweep")
                stats.checked_in += 1
            except (TrustedFormError, AlreadyFinal, LeaseHeld, Fenced):
                stats.check_in_errors += 1
    stats.due = Certificate.objects.due(now).count()
    raise_sweep_alerts(stats, now)
    return stats


def raise_sweep_alerts(stats: SweepStats, now: datetime) -> None:
    """Tell the team of certificates still waiting within ALERT_AT_RISK_HOURS of their deadline
    (resolved once there are none)."""
    window = timedelta(hours=settings.ALERT_AT_RISK_HOURS)
    at_risk = Certificate.objects.at_risk(window, now=now)
    found = at_risk.aggregate(count=Count("pk"), earliest=Min("claim_deadline"))
    if not found["count"]:
        resolve_alerts(Alert.Event.CERTIFICATES_AT_RISK)
        return
    earliest = found["earliest"]
    raise_alert(
        Alert.Event.CERTIFICATES_AT_RISK,
        severity=Alert.Severity.WARNING,
        summary=f"{found['count']} certificate{'' if found['count'] == 1 else 's'} still unclaimed within "
        f"{settings.ALERT_AT_RISK_HOURS:g} hours of the deadline; the first closes {earliest:%b %-d, %H:%M} UTC.",
        details={"count": found["count"], "earliest_deadline": earliest.isoformat()},
        path=reverse("certificates:list") + "?at_risk=yes",
    )


def check_in_at_risk(*, user: Actor = None, within: timedelta = timedelta(hours=12)) -> SweepStats:
    """Check in every pending certificate whose deadline is within `within` (the home page's button)."""
    stats = SweepStats()
    for certificate in (
        Certificate.objects.at_risk(within).filter(checked_in_at__isnull=True).select_related("vendor")
    ):
        try:
            checking_in.check_in_certificate(certificate, user=user, trigger="check-in-at-risk")
            stats.checked_in += 1
        except (TrustedFormError, AlreadyFinal, LeaseHeld, Fenced):
            stats.check_in_errors += 1
    return stats


def sweep_and_wake() -> SweepStats:
    """One sweep, then wake the worker for what is due, check that a worker is taking tasks, and wake
    the alert sender for any alert not delivered yet (one whose sender died is sent again from its row)."""
    stats = sweep()
    # No rollup refresh here: it would wait on a worker's recount in progress (a stalled worker would
    # stall the sweep). Reports refresh what they read; the worker refreshes after each batch.
    if stats.due:
        wake_claimer()
    state, last_seen = worker_state()
    if state == "stale":
        raise_alert(
            Alert.Event.WORKER_STALE,
            severity=Alert.Severity.CRITICAL,
            summary="No worker has taken a task for "
            f"{settings.HEALTH_WORKER_STALE_SECONDS // 60} minutes: nothing is being claimed. "
            "Start or restart `manage.py db_worker`.",
            details={"last_seen": last_seen},
        )
    elif state == "ok":
        resolve_alerts(Alert.Event.WORKER_STALE)
    raise_vendor_alerts()
    raise_revocation_alerts()
    send_daily_digest(timezone.now())
    if AlertDelivery.objects.filter(due()).exists():
        wake_sender()
    return stats


def raise_vendor_alerts() -> None:
    """A vendor past a red limit over the last 7 days raises an alert per metric; one back under it
    resolves its alert."""
    past = scorecards.vendors_past_red()
    for flag in past:
        raise_alert(
            Alert.Event.VENDOR_PAST_THRESHOLD,
            subject=f"vendor {flag.vendor_id}: {flag.metric}",
            severity=Alert.Severity.WARNING,
            summary=f"{flag.vendor} is past the red limit for {flag.label.lower()}: {flag.value:.1f} % "
            f"over the last 7 days (red at {flag.limit:g} %)"
            + (f", every day with data since {flag.since:%b %-d}." if flag.since else "."),
            details={
                "vendor_id": flag.vendor_id,
                "metric": flag.metric,
                "value": flag.value,
                "red": flag.limit,
                "since": flag.since.isoformat() if flag.since else None,
            },
            path=reverse("reports:vendor", args=[flag.vendor_id]),
        )
    still = {f"vendor {flag.vendor_id}: {flag.metric}" for flag in past}
    for subject in (
        Alert.objects.filter(event=Alert.Event.VENDOR_PAST_THRESHOLD, state__in=OPEN)
        .exclude(subject__in=still)
        .values_list("subject", flat=True)
    ):
        resolve_alerts(Alert.Event.VENDOR_PAST_THRESHOLD, subject=subject)


def raise_revocation_alerts() -> None:
    """Revocations of consent past their honour-by date (10 business days) raise one alert, resolved
    once every one of them is honoured."""
    overdue = Revocation.objects.filter(state=Revocation.State.OPEN, honour_by__lt=timezone.localdate())
    found = overdue.aggregate(count=Count("pk"), earliest=Min("honour_by"))
    if not found["count"]:
        resolve_alerts(Alert.Event.REVOCATIONS_OVERDUE)
        return
    count = found["count"]
    raise_alert(
        Alert.Event.REVOCATIONS_OVERDUE,
        severity=Alert.Severity.CRITICAL,
        summary=f"{count} revocation{'' if count == 1 else 's'} of consent past the honour-by date "
        f"(10 business days); the oldest was due {found['earliest']:%b %-d, %Y}. Suppress the person and mark "
        "it honoured.",
        details={"count": count, "earliest_honour_by": found["earliest"].isoformat()},
        path=reverse("certificates:revocations") + "?state=open",
    )


def send_daily_digest(now: datetime) -> Alert | None:
    """Once a day, from ALERT_DIGEST_HOUR in the team's time zone: what the day before came to."""
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    subject = f"digest {local.date().isoformat()}"
    if (
        local.hour < settings.ALERT_DIGEST_HOUR
        or Alert.objects.filter(event=Alert.Event.DAILY_DIGEST, subject=subject).exists()
    ):
        return None
    day = local.date() - timedelta(days=1)
    digest = scorecards.daily_digest(day)
    failing = ", ".join(f"{name} ({count})" for name, count in digest["top_failing"]) or "none"
    alert = raise_alert(
        Alert.Event.DAILY_DIGEST,
        subject=subject,
        severity=Alert.Severity.INFO,
        summary=f"{day:%b %-d}: {digest['received']} received, {digest['claimed']} claimed, "
        f"{digest['failure']} failed, {digest['expired']} expired; {digest['at_risk']} at risk now. "
        f"Most failures: {failing}.",
        details=digest,
        path=reverse("reports:vendors") + f"?period=day&day={day.isoformat()}",
    )
    resolve_alerts(Alert.Event.DAILY_DIGEST, subject=subject)  # a record, not a problem
    return alert


@task()
def check_in_at_risk_task(user_id: int | None = None) -> dict[str, int]:
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    stats = check_in_at_risk(user=user)
    return {"checked_in": stats.checked_in, "errors": stats.check_in_errors}

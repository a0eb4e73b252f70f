"""Pausing claiming for the whole account (TrustedForm refused it: 401/402/403) and resuming it."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from certificates.alerts.models import Alert
from certificates.alerts.raising import raise_alert, resolve_alerts
from certificates.models import OPEN_STATES, AccountStatus, Actor, Certificate, signed_in
from certificates.redaction import redact


def pause_claiming(reason: str) -> None:
    """TrustedForm refused the account (401/402/403): stop sending for everyone, and tell the team."""
    with transaction.atomic():
        status = AccountStatus.current()
        if status.claiming_paused:
            return
        status.claiming_paused = True
        status.paused_reason = reason[:500]
        status.paused_at = timezone.now()
        status.save()
        waiting = Certificate.objects.filter(state__in=OPEN_STATES).count()
        raise_alert(
            Alert.Event.CLAIMING_PAUSED,
            subject="account",
            severity=Alert.Severity.CRITICAL,
            summary=(
                f"Claiming is paused: TrustedForm refused the account ({redact(reason)[:200]}). "
                f"{waiting} certificate{'' if waiting == 1 else 's'} wait{'s' if waiting == 1 else ''} "
                "for an admin to fix the account and resume claiming."
            ),
            details={"reason": redact(reason)[:500], "waiting": waiting},
            path=reverse("settings"),
        )


def resume_claiming(*, user: Actor) -> None:
    with transaction.atomic():
        status = AccountStatus.current()
        was_paused = status.claiming_paused
        status.claiming_paused = False
        status.resumed_at = timezone.now()
        status.resumed_by = signed_in(user)
        status.save()
        if was_paused:
            resolve_alerts(Alert.Event.CLAIMING_PAUSED, subject="account")
            raise_alert(
                Alert.Event.CLAIMING_RESUMED,
                subject=f"resumed at {status.resumed_at:%Y-%m-%d %H:%M:%S}",
                severity=Alert.Severity.INFO,
                summary=f"Claiming resumed by {status.resumed_by or 'an admin'}.",
            )

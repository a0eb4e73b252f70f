"""Raising alerts: one row per open event and subject, its repeats folded into a count, and a delivery
row for every channel, all in the transaction of the change that caused it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from certificates.alerts.delivery import wake_sender, webhook_host
from certificates.alerts.models import Alert, AlertDelivery, Preferences
from certificates.redaction import redact

OPEN = (Alert.State.OPEN, Alert.State.ACKNOWLEDGED)


def raise_alert(
    event: str,
    *,
    severity: str,
    summary: str,
    subject: str = "",
    details: dict[str, Any] | None = None,
    path: str = "",
) -> Alert:
    """Open an alert and queue its deliveries, or count a repeat on the one already open.

    A repeat is not delivered again (a paused account must not send one message per certificate); it
    updates the count, the last time seen, the summary and the details that the alerts page shows.
    Nothing an alert says may carry the API key or a lead's email or phone: callers pass counts,
    reasons and ids, and the texts are redacted here once more.
    """
    now = timezone.now()
    summary, subject = redact(summary)[:500], subject[:200]  # as stored, so that repeats find it
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update()
            .filter(event=event, subject=subject, state__in=OPEN)
            .order_by("-id")
            .first()
        )
        if alert is not None:
            alert.count += 1
            alert.last_seen = now
            alert.summary = summary
            alert.details = details or {}
            alert.save(update_fields=["count", "last_seen", "summary", "details"])
            return alert
        alert = Alert.objects.create(
            event=event,
            subject=subject,
            severity=severity,
            summary=summary,
            details=details or {},
            path=path[:300],
            first_seen=now,
            last_seen=now,
        )
        AlertDelivery.objects.bulk_create(
            AlertDelivery(alert=alert, channel=channel, target=target, next_attempt_at=now)
            for channel, target in recipients(event)
        )
        if alert.deliveries.exists():
            transaction.on_commit(wake_sender)
        alerts_changed()
    return alert


def resolve_alerts(event: str, *, subject: str = "") -> int:
    """Close the open alerts of an event (the condition is over); a new occurrence opens a new one."""
    resolved = Alert.objects.filter(event=event, subject=subject, state__in=OPEN).update(
        state=Alert.State.RESOLVED, resolved_at=timezone.now()
    )
    if resolved:
        alerts_changed()
    return resolved


def recipients(event: str) -> list[tuple[str, str]]:
    """(channel, target) for every configured channel: each ALERT_EMAILS address and each active person
    who chose this event on their preferences page, once; and the webhook."""
    addresses = list(dict.fromkeys(settings.ALERT_EMAILS))
    for address, events in (
        Preferences.objects.filter(user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", "alert_events")
    ):
        if event in (events or []) and address not in addresses:
            addresses.append(address)
    found = [(str(AlertDelivery.Channel.EMAIL), address) for address in addresses]
    if settings.ALERT_WEBHOOK_URL:
        # Only the host is stored and shown: a Slack or Teams webhook URL is itself a secret.
        found.append((str(AlertDelivery.Channel.WEBHOOK), webhook_host(settings.ALERT_WEBHOOK_URL)))
    return found


OPEN_COUNT_KEY = "tfdash:open-alerts"
OPEN_COUNT_SECONDS = 30  # other processes see a change within this long


def open_alert_count() -> int:
    """How many alerts are open, for the navigation: cached, so that a page costs no query for it."""
    count = cache.get(OPEN_COUNT_KEY)
    if count is None:
        count = Alert.objects.filter(state=Alert.State.OPEN).count()
        cache.set(OPEN_COUNT_KEY, count, OPEN_COUNT_SECONDS)
    return int(count)


def alerts_changed() -> None:
    transaction.on_commit(lambda: cache.delete(OPEN_COUNT_KEY))

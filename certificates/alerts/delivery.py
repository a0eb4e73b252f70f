"""Delivering alerts: email through Django's mail, and a JSON webhook that Slack and Teams accept.

Deliveries are rows; the worker takes the due ones under a short lease, sends, and records the answer.
A 4xx from a webhook is final (shown on the alerts page); a 5xx, a timeout or a refused connection is
tried again later, with backoff. This module is the one place besides `trustedform/` that talks HTTP
(docs/architecture.md, rule 4): it sends only to the configured webhook, never follows a redirect, and
sends no credential but its own signature.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.tasks import task
from django.template.loader import render_to_string
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from certificates.alerts.models import Alert, AlertDelivery
from certificates.redaction import redact

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
RETRY_CAP = timedelta(hours=1)
TIMEOUT = (5, 10)  # seconds to connect, to read
BATCH = 50
SIGNATURE_HEADER = "X-Tfdash-Signature"


class DeliveryError(Exception):
    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status  # the receiver's HTTP status, when it answered


class Undeliverable(DeliveryError):
    """Final: sending again cannot help (a 4xx, a webhook URL tfdash refuses)."""


class TryLater(DeliveryError):
    """A 5xx, a timeout, a refused connection: sent again later."""


@dataclass(frozen=True)
class Sent:
    status: int | None = None


def webhook_host(url: str) -> str:
    return urlsplit(url).hostname or "(no host)"


def webhook_url_problem(url: str) -> str:
    """Why tfdash will not post alerts to `url` ("" when it will): https only, except on loopback."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        return "The alert webhook URL has no host."
    if parts.scheme == "https":
        return ""
    if parts.scheme == "http" and _loopback(host):
        return ""
    return "The alert webhook URL must use https:// (http:// only to this machine)."


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def absolute(path: str) -> str:
    return settings.TFDASH_BASE_URL.rstrip("/") + (path or "/")


def webhook_body(alert: Alert) -> dict[str, Any]:
    """`text` for Slack and Teams incoming webhooks, and the same facts as fields for anything else."""
    url = absolute(alert.path or alert.get_absolute_url())
    count = f" ({alert.count} times)" if alert.count > 1 else ""
    return {
        "text": f"[tfdash] {alert.get_severity_display()}: {alert.summary}{count} <{url}|Open in tfdash>",
        "event": alert.event,
        "severity": alert.severity,
        "subject": alert.subject,
        "summary": alert.summary,
        "count": alert.count,
        "url": url,
        "first_seen": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "details": alert.details,
    }


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(alert: Alert) -> Sent:
    url = settings.ALERT_WEBHOOK_URL
    if problem := webhook_url_problem(url):
        raise Undeliverable(problem)
    body = redact(json.dumps(webhook_body(alert), default=str)).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "tfdash-alerts"}
    if settings.ALERT_WEBHOOK_SECRET:
        headers[SIGNATURE_HEADER] = signature(body, settings.ALERT_WEBHOOK_SECRET)
    try:
        with requests.Session() as session:
            session.trust_env = False  # no proxy or netrc credentials from the environment
            response = session.post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise TryLater(f"{type(exc).__name__}: the webhook did not answer") from exc
    if 200 <= response.status_code < 300:
        return Sent(response.status_code)
    reason = f"The webhook answered {response.status_code}: {redact(response.text)[:200]}"
    if response.status_code >= 500 or response.status_code == 429:
        raise TryLater(reason, response.status_code)
    raise Undeliverable(reason, response.status_code)  # a 3xx (never followed) or a 4xx: refused


def send_email(alert: Alert, address: str) -> Sent:
    context = {
        "alert": alert,
        "url": absolute(alert.path or alert.get_absolute_url()),
        "base": settings.TFDASH_BASE_URL.rstrip("/"),
    }
    subject = f"[tfdash] {alert.get_severity_display()}: {alert.summary}"[:200]
    message = EmailMultiAlternatives(
        subject=redact(subject),
        body=redact(render_to_string("alerts/alert_email.txt", context)),
        to=[address],
    )
    message.attach_alternative(redact(render_to_string("alerts/alert_email.html", context)), "text/html")
    try:
        message.send()
    except OSError as exc:  # smtplib's errors are OSErrors: refused, timed out, rejected
        raise TryLater(f"{type(exc).__name__}: {redact(str(exc))[:200]}") from exc
    return Sent()


def deliver(delivery: AlertDelivery) -> None:
    """Send one delivery and record what happened (it is leased by the caller)."""
    delivery.attempts += 1
    try:
        if delivery.channel == AlertDelivery.Channel.WEBHOOK:
            sent = send_webhook(delivery.alert)
        else:
            sent = send_email(delivery.alert, delivery.target)
    except Undeliverable as exc:
        delivery.state, delivery.last_error = AlertDelivery.State.FAILED, str(exc)[:500]
        delivery.last_status = exc.status
    except TryLater as exc:
        delivery.last_error, delivery.last_status = str(exc)[:500], exc.status
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.state = AlertDelivery.State.FAILED
        else:
            base = timedelta(seconds=settings.ALERT_RETRY_BASE_SECONDS)
            wait = min(base * 2 ** (delivery.attempts - 1), RETRY_CAP)
            delivery.next_attempt_at = timezone.now() + wait
    else:
        delivery.state, delivery.last_status, delivery.last_error = AlertDelivery.State.SENT, sent.status, ""
        delivery.sent_at = timezone.now()
    delivery.lease_expires_at = None
    delivery.save()


def due(now: Any = None) -> Q:
    now = now or timezone.now()
    return Q(state=AlertDelivery.State.PENDING, next_attempt_at__lte=now) & (
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    )


def deliver_due(limit: int = BATCH) -> int:
    """Send every delivery that is due; returns how many were tried."""
    now = timezone.now()
    due_ids = (
        AlertDelivery.objects.filter(due(now)).order_by("next_attempt_at", "pk").values_list("pk", flat=True)
    )
    return sum(deliver_now(pk) is not None for pk in list(due_ids[:limit]))


def deliver_now(pk: int) -> AlertDelivery | None:
    """Lease one due delivery (a conditional UPDATE, so two workers never send it at once), send it and
    record the answer; None when it is not due or another sender holds it."""
    now = timezone.now()
    with transaction.atomic():
        taken = AlertDelivery.objects.filter(due(now), pk=pk).update(lease_expires_at=now + LEASE)
    if not taken:
        return None
    delivery = AlertDelivery.objects.select_related("alert").get(pk=pk)
    deliver(delivery)
    return delivery


@task()
def deliver_alerts() -> dict[str, int]:
    """Send the alerts that are due (ids in the rows, not in the task: a lost task loses nothing)."""
    return {"tried": deliver_due()}


def wake_sender() -> None:
    """Enqueue a delivery task unless one already waits: it sends everything due anyway."""
    backend = deliver_alerts.get_backend()
    if isinstance(backend, DatabaseBackend):
        waiting = DBTaskResult.objects.ready().filter(
            task_path=deliver_alerts.module_path, backend_name=backend.alias
        )
        if waiting.exists():
            return
    deliver_alerts.enqueue()


def undelivered_since(age: timedelta) -> int:
    """Deliveries still waiting after `age` (the health check reports them)."""
    return AlertDelivery.objects.filter(
        state=AlertDelivery.State.PENDING, created_at__lt=timezone.now() - age
    ).count()

"""Alerts: what tfdash tells the team before evidence is lost, kept as rows like everything else.

An alert is written in the same transaction as the change that causes it; its deliveries (one per
channel and recipient) are rows too, sent by the worker with retries. A crash between the cause and the
delivery therefore loses nothing: the next worker finds the undelivered rows (docs/architecture.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Alert(models.Model):
    class Event(models.TextChoices):
        CLAIMING_PAUSED = "claiming_paused", "Claiming paused"
        CLAIMING_RESUMED = "claiming_resumed", "Claiming resumed"
        CERTIFICATES_AT_RISK = "certificates_at_risk", "Certificates close to their deadline"
        CERTIFICATES_EXPIRED_UNCLAIMED = "certificates_expired_unclaimed", "Certificates expired unclaimed"
        VENDOR_PAST_THRESHOLD = "vendor_past_threshold", "A vendor is past a red limit"
        WORKER_STALE = "worker_stale", "The worker has stopped"
        API_LOG_BROKEN = "api_log_broken", "The API-call log does not verify"
        API_LOG_HEAD = "api_log_head", "The API-call log's head, to keep"
        DAILY_DIGEST = "daily_digest", "Daily digest"
        REVOCATIONS_OVERDUE = "revocations_overdue", "Revocations past their honour-by date"
        TEST = "test", "Test alert"

    class Severity(models.TextChoices):
        CRITICAL = "critical", "Critical"
        WARNING = "warning", "Warning"
        INFO = "info", "Info"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    event = models.CharField(max_length=40, choices=Event)
    # What it is about (one certificate window, the account, a vendor): repeats of the same open
    # (event, subject) fold into one alert with a count.
    subject = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=16, choices=Severity)
    state = models.CharField(max_length=16, choices=State, default=State.OPEN)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    path = models.CharField(max_length=300, blank=True, help_text="Where in tfdash to look.")
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        indexes = [models.Index(fields=["event", "subject", "state"], name="alert_fold_idx")]
        permissions = [("manage_alert", "Can acknowledge alerts and send a test alert")]

    def __str__(self) -> str:
        return f"{self.get_event_display()}: {self.summary}"

    def get_absolute_url(self) -> str:
        return reverse("certificates:alerts") + f"#alert-{self.pk}"


class AlertDelivery(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=Channel)
    target = models.CharField(max_length=500, help_text="An email address, or the webhook's host.")
    # The alert's count when this delivery was written: a repeat folded later is a new delivery.
    count = models.PositiveIntegerField(default=1)
    state = models.CharField(max_length=16, choices=State, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="alert_delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.target}: {self.get_state_display()}"


class Preferences(models.Model):
    """One person's choices: the time zone every time is shown in, and the alerts they get by email."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    time_zone = models.CharField(max_length=64, blank=True, help_text="Empty: the team's time zone.")
    alert_events = models.JSONField(
        default=list, blank=True, help_text="Alert events emailed to this person."
    )

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"preferences of {self.user}"

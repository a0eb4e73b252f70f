"""Revocations of consent: a consumer said stop, by any reasonable means, and tfdash keeps the record."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


class Revocation(models.Model):
    """A consumer's revocation of consent, matched to their certificates by normalised phone or email.

    It must be honoured by `honour_by`: 10 business days after it was received, US federal holidays
    excluded (certificates.revocations.deadlines).
    """

    class Channel(models.TextChoices):
        CALL = "call", "Call"
        TEXT_STOP = "text_stop", "Text STOP"
        EMAIL = "email", "Email"
        WEB_FORM = "web_form", "Web form"
        LETTER = "letter", "Letter"
        OTHER = "other", "Other"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        HONOURED = "honoured", "Honoured"

    class Source(models.TextChoices):
        PAGE = "page", "Recorded on the page"
        CSV = "csv", "CSV upload"
        API = "api", "Intake API"

    phone = models.CharField(max_length=40, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone_normalised = models.CharField(max_length=20, blank=True, db_index=True)
    email_normalised = models.CharField(max_length=254, blank=True, db_index=True)
    revoked_at = models.DateTimeField(help_text="When the consumer revoked consent.")
    channel = models.CharField(max_length=16, choices=Channel)
    note = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=Source, default=Source.PAGE)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    honour_by = models.DateField()
    state = models.CharField(max_length=16, choices=State, default=State.OPEN)
    honoured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    honoured_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-revoked_at", "-id"]
        indexes = [models.Index(fields=["state", "honour_by"], name="revocation_due_idx")]
        permissions = [("record_revocation", "Can record and honour revocations of consent")]

    def __str__(self) -> str:
        who = " / ".join(v for v in (self.phone, self.email) if v)
        return f"revocation by {who} on {self.revoked_at:%Y-%m-%d}"

    @property
    def overdue(self) -> bool:
        return self.state == self.State.OPEN and self.honour_by < timezone.localdate()


def revoked() -> models.Exists:
    """A certificate whose lead revoked consent (by phone or email), as a filter on Certificate."""
    return models.Exists(
        Revocation.objects.filter(
            (models.Q(phone_normalised=models.OuterRef("phone_normalised")) & ~models.Q(phone_normalised=""))
            | (
                models.Q(email_normalised=models.OuterRef("email_normalised"))
                & ~models.Q(email_normalised="")
            )
        )
    )

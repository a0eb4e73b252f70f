"""Intake: batches of leads, the rows they rejected, and the tokens of the JSON intake API."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords


class ImportBatch(models.Model):
    """One intake: a CSV upload, a paste, an API request or a command run, with its counts."""

    class Source(models.TextChoices):
        CSV = "csv", "CSV upload"
        PASTE = "paste", "Pasted rows"
        API = "api", "Intake API"
        COMMAND = "command", "import_leads command"
        FORM = "form", "Claim form"

    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    intake_token = models.ForeignKey("IntakeToken", on_delete=models.SET_NULL, null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source)
    filename = models.CharField(max_length=255, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    reused = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # True while a large file is still being read in the background (see intake.uploads.import_upload).
    still_reading = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.filename} ({self.created_at:%Y-%m-%d %H:%M})"

    def get_absolute_url(self) -> str:
        return reverse("intake:batch", args=[self.pk])


class ImportRowError(models.Model):
    """A rejected intake row: which line, which field, and why. Nothing is dropped silently."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField()
    field = models.CharField(max_length=64, blank=True)
    value = models.CharField(max_length=300, blank=True)
    reason = models.CharField(max_length=500)
    # The whole row as read ({field: text}), so rejected rows can be downloaded, fixed and imported again.
    row = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["line", "id"]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class IntakeToken(models.Model):
    """A named credential for the buyer's lead system to push leads. Only its SHA-256 is stored."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise the token.")
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The rate limit's fixed window (minutes since the epoch) and the requests counted in it. In the
    # database, so every web process counts against the same limit.
    rate_window = models.BigIntegerField(default=0)
    rate_count = models.PositiveIntegerField(default=0)

    # These change with use, not with a decision: they stay out of the audit trail.
    history = HistoricalRecords(excluded_fields=["last_used_at", "rate_window", "rate_count"])

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("manage_intake_tokens", "Can create and revoke intake tokens")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

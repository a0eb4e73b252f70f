"""Vendor reports: daily rollups, the buckets waiting to be recounted, and the thresholds."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


class VendorDayRollup(models.Model):
    """What one vendor's certificates received on one UTC day came to: counts, histograms, top values.

    Reports add these up over a period instead of scanning the certificate table. Each counter means
    exactly what the certificate list's filter of the same name selects, so a count can link to its rows.
    """

    vendor = models.ForeignKey("certificates.Vendor", on_delete=models.CASCADE, related_name="day_rollups")
    day = models.DateField()
    received = models.PositiveIntegerField(default=0)
    claimed = models.PositiveIntegerField(default=0)
    success = models.PositiveIntegerField(default=0)
    failure = models.PositiveIntegerField(default=0)
    outcome_error = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)
    not_claimable = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(default=0)
    checked_in = models.PositiveIntegerField(default=0)
    fingerprint_all = models.PositiveIntegerField(default=0)
    fingerprint_some = models.PositiveIntegerField(default=0)
    fingerprint_none = models.PositiveIntegerField(default=0)
    fingerprint_no_data = models.PositiveIntegerField(default=0)
    scan_passed = models.PositiveIntegerField(default=0)
    scan_failed = models.PositiveIntegerField(default=0)
    scan_required_missing = models.PositiveIntegerField(default=0)
    scan_forbidden_found = models.PositiveIntegerField(default=0)
    masked = models.PositiveIntegerField(default=0)
    bot = models.PositiveIntegerField(default=0)
    reused = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # Histograms ({bin's lower edge in seconds: count}) so medians can be taken over any run of days.
    lead_age_histogram = models.JSONField(default=dict)
    time_on_page_histogram = models.JSONField(default=dict)
    domains = models.JSONField(default=dict)  # the day's top domains: {domain: count}
    failure_reasons = models.JSONField(default=dict)  # outcome_reason of failures and errors: {reason: count}
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vendor", "day"], name="rollup_vendor_day_unique")]
        indexes = [models.Index(fields=["day", "vendor"], name="rollup_day_vendor_idx")]

    def __str__(self) -> str:
        return f"{self.vendor_id} on {self.day}: {self.received} received"


class RollupDirty(models.Model):
    """A (vendor, day) whose rollup is out of date. Written only by database triggers (see migration 0007).

    `tx` is the writing transaction's id on PostgreSQL (0 on SQLite): a writer always adds its own mark
    instead of finding another transaction's mark and doing nothing, so a refresh that deletes the marks
    it saw can never swallow a change committed after its recount (rollups.refresh_dirty).
    """

    vendor_id = models.BigIntegerField()  # no foreign key: a mark may outlive its vendor for a moment
    day = models.DateField()
    tx = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vendor_id", "day", "tx"], name="rollup_dirty_unique")]

    def __str__(self) -> str:
        return f"vendor {self.vendor_id} on {self.day}"


class ReportThreshold(models.Model):
    """A manager's amber and red limits for one vendor-report metric (a rate, in percent)."""

    class Metric(models.TextChoices):
        FAILURE_RATE = "failure_rate", "Failure rate"
        EXPIRED_RATE = "expired_rate", "Expired before claim"
        MATCH_RATE = "match_rate", "Fingerprint match rate"
        SCAN_PASS_RATE = "scan_pass_rate", "Scan pass rate"
        MASKED_RATE = "masked_rate", "Masked"
        BOT_RATE = "bot_rate", "Bot detected"
        REUSED_RATE = "reused_rate", "Reused"
        REJECTION_RATE = "rejection_rate", "Review rejections"

    metric = models.CharField(max_length=32, choices=Metric, unique=True)
    amber = models.FloatField(null=True, blank=True, help_text="Percent; empty means no amber limit.")
    red = models.FloatField(null=True, blank=True, help_text="Percent; empty means no red limit.")
    min_received = models.PositiveIntegerField(
        default=20, help_text="Judge a vendor only with at least this many leads in the period."
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["metric"]

    def __str__(self) -> str:
        return f"{self.get_metric_display()}: amber {self.amber}, red {self.red}"

"""Evidence packages built in the background for a filtered set of certificates."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords


class EvidenceExport(models.Model):
    """An evidence package for a filtered set of certificates, built in the background."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Building"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    query = models.TextField(blank=True, help_text="The certificate-list filter, as a query string.")
    state = models.CharField(max_length=16, choices=State, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file_path = models.CharField(max_length=500, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=500, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When its builder last showed progress: a build still for long has lost its worker
    # (certificates.evidence.resuming queues it again).
    progressed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"evidence export {self.pk} ({self.state})"


class LegalHold(models.Model):
    """A legal hold: while open, its certificates and everything about them are kept as they are.

    The scope says which certificates it covers (every field given must match; the certificate-list
    filter `query` too); certificates that arrive later and match an open hold's scope join it
    (certificates.evidence.holds). Nothing in tfdash prunes, anonymises or deletes a held certificate,
    its claims, check-ins, reviews or API calls until every hold on it is released.
    """

    name = models.CharField(max_length=200, help_text="The matter, as the legal team calls it.")
    description = models.TextField(blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    placed_at = models.DateTimeField(default=timezone.now)
    # The scope; an empty field does not narrow it. A hold with no scope holds only what was added to it.
    phone_normalised = models.CharField(max_length=20, blank=True)
    email_normalised = models.CharField(max_length=254, blank=True)
    # PROTECT: a vanished vendor would silently widen the scope to every vendor.
    vendor = models.ForeignKey("certificates.Vendor", on_delete=models.PROTECT, null=True, blank=True)
    reference = models.CharField(max_length=255, blank=True)
    received_from = models.DateTimeField(null=True, blank=True)
    received_until = models.DateTimeField(null=True, blank=True)
    query = models.TextField(
        blank=True, help_text="A saved filter of the certificate list, as a query string."
    )
    joins_later = models.BooleanField(
        default=True, help_text="Certificates that arrive later and match the scope join the hold."
    )
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    release_reason = models.TextField(blank=True)
    certificates = models.ManyToManyField(
        "certificates.Certificate", through="HeldCertificate", related_name="legal_holds"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-placed_at", "-id"]
        permissions = [("manage_legal_hold", "Can place and release legal holds and open discovery requests")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("certificates:hold", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.released_at is None


class HeldCertificate(models.Model):
    """One certificate in one hold, and when it joined (placed with the hold, or arrived later)."""

    hold = models.ForeignKey(LegalHold, on_delete=models.PROTECT, related_name="memberships")
    certificate = models.ForeignKey(
        "certificates.Certificate", on_delete=models.CASCADE, related_name="hold_memberships"
    )
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hold", "certificate"], name="held_once_per_hold")]
        indexes = [models.Index(fields=["certificate", "hold"], name="held_certificate_idx")]

    def __str__(self) -> str:
        return f"{self.certificate_id} in hold {self.hold_id}"


def on_hold() -> models.Exists:
    """A certificate on at least one open hold, as a filter (or annotation) on Certificate."""
    return models.Exists(
        HeldCertificate.objects.filter(certificate=models.OuterRef("pk"), hold__released_at__isnull=True)
    )


class DiscoveryRequest(models.Model):
    """Everything on record about one person (a phone and/or an email), built in the background into
    one package, with a hold on what it found."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Building"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    created_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    phone = models.CharField(max_length=40, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone_normalised = models.CharField(max_length=20, blank=True)
    email_normalised = models.CharField(max_length=254, blank=True)
    vendor = models.ForeignKey("certificates.Vendor", on_delete=models.PROTECT, null=True, blank=True)
    since = models.DateField(null=True, blank=True)
    until = models.DateField(null=True, blank=True)
    hold_name = models.CharField(max_length=200)
    hold = models.ForeignKey(LegalHold, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=16, choices=State, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file_path = models.CharField(max_length=500, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    timestamped = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progressed_at = models.DateTimeField(null=True, blank=True)  # as EvidenceExport's

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"discovery {self.pk} ({self.hold_name})"

    @property
    def asked(self) -> str:
        """What was asked, in words."""
        parts = [p for p in (self.phone and f"phone {self.phone}", self.email and f"email {self.email}") if p]
        if self.vendor_id:
            parts.append(f"vendor {self.vendor}")
        if self.since or self.until:
            parts.append(f"received {self.since or '…'} to {self.until or '…'}")
        return ", ".join(parts)


class RetentionRun(models.Model):
    """One run of the retention rule (certificates.evidence.retention): what it found and did."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    cutoff = models.DateTimeField()
    certificates = models.PositiveIntegerField(default=0)
    held_skipped = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    claims = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"retention run {self.started_at:%Y-%m-%d} ({self.certificates} certificates)"

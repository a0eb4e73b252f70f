"""Vendors, certificates and what happened to them: claims, check-ins, and every API call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

# Who does something: a signed-in user, a request's anonymous user, or nobody (the worker, a command).
type Actor = User | AnonymousUser | None


def signed_in(user: Actor) -> User | None:
    """The user to record as having done something (nobody for the worker, a command or anonymous)."""
    return user if isinstance(user, User) and user.is_authenticated else None


# A web certificate lives 72 hours unless claimed or checked in (docs/trustedform.md §4).
CLAIM_WINDOW = timedelta(hours=72)
CHECK_IN_WINDOW = timedelta(days=90)


class Vendor(models.Model):
    """A lead vendor (a source of leads); TrustedForm reporting groups by it too."""

    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = [Lower("name")]
        constraints = [models.UniqueConstraint(Lower("name"), name="vendor_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class OnHold(Exception):
    """Raised when something would delete a certificate that is on an open legal hold."""


def refuse_deleting_held(certificates: models.QuerySet) -> None:
    """Raise OnHold if any of these certificates is on an open hold. Certificate.delete and the queryset's
    delete call this, so every door that deletes is covered; claims, check-ins and reviews are only
    ever deleted with their certificate, API calls never (certificates.evidence.holds)."""
    memberships = Certificate.legal_holds.through.objects  # HeldCertificate (certificates.evidence)
    held = (
        memberships.filter(certificate__in=certificates.values("pk"), hold__released_at__isnull=True)
        .order_by("certificate_id")
        .values_list("certificate__cert_id", flat=True)
        .distinct()[:5]
    )
    if ids := list(held):
        raise OnHold(
            f"On legal hold: {', '.join(ids)}. Nothing about a held certificate may be deleted until every "
            "hold on it is released."
        )


class CertificateQuerySet(models.QuerySet):
    def delete(self):
        refuse_deleting_held(self)
        return super().delete()

    def due(self, now=None) -> CertificateQuerySet:
        """Pending certificates whose next attempt is due and that no live worker holds."""
        now = now or timezone.now()
        return self.filter(state=Certificate.State.PENDING, next_attempt_at__lte=now).filter(
            models.Q(lease_expires_at__isnull=True) | models.Q(lease_expires_at__lt=now)
        )

    def at_risk(self, within: timedelta = timedelta(hours=12), now=None) -> CertificateQuerySet:
        now = now or timezone.now()
        return self.filter(state__in=OPEN_STATES, claim_deadline__lte=now + within)

    def with_failed_checks(self) -> CertificateQuerySet:
        """Certificates whose claim found something wrong (what `Certificate.failed_checks` lists)."""
        return self.filter(FAILED_CHECKS)

    def needing_review(self) -> CertificateQuerySet:
        """What waits in the review queue: a failed check not decided yet, or an unclaimed certificate
        with no decision at all (REVIEW_QUEUE_HALVES)."""
        return self.filter(NEEDING_REVIEW)


class Certificate(models.Model):
    """One lead's TrustedForm certificate: the single source of truth for its claim state."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        # Cannot be claimed as it stands, for a reason a person can fix: known before sending (a v4 claim
        # needs the lead's email or phone) or TrustedForm refused the request as sent (HTTP 400). Nothing
        # more is sent until a person corrects it; its window is still checked in meanwhile.
        HELD = "held", "On hold"
        CLAIMED = "claimed", "Claimed"
        ERROR = "error", "Not claimable"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        ERROR = "error", "Error"

    class FingerprintResult(models.TextChoices):
        ALL = "all", "All matched"
        SOME = "some", "Some matched"
        NONE = "none", "None matched"
        NO_DATA = "no_data", "No data"

    class ReviewStatus(models.TextChoices):
        NOT_NEEDED = "", "Not needed"
        OPEN = "open", "To review"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    cert_id = models.CharField(max_length=255, unique=True)
    cert_url = models.CharField(max_length=512)
    cert_type = models.CharField(max_length=16, default="web")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="certificates")
    reference = models.CharField(max_length=255, blank=True)
    batch = models.ForeignKey(
        "ImportBatch", on_delete=models.SET_NULL, null=True, blank=True, related_name="certificates"
    )
    lead_email = models.CharField(max_length=254, blank=True)
    lead_phone = models.CharField(max_length=40, blank=True)
    # Normalised copies, for search and fingerprint comparison (docs/trustedform.md §5).
    email_normalised = models.CharField(max_length=254, blank=True, db_index=True)
    phone_normalised = models.CharField(max_length=20, blank=True, db_index=True)

    received_at = models.DateTimeField(default=timezone.now)
    lead_created_at = models.DateTimeField(null=True, blank=True)
    # The certificate was created before we received it: the deadline counts from the lead's own time
    # when the vendor sends it, else from receipt (an upper bound; claim early).
    claim_deadline = models.DateTimeField()

    state = models.CharField(max_length=16, choices=State, default=State.PENDING)
    state_reason = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome, blank=True)
    outcome_reason = models.CharField(max_length=500, blank=True)
    fingerprint_result = models.CharField(max_length=16, choices=FingerprintResult, blank=True)
    scan_success = models.BooleanField(null=True)
    is_masked = models.BooleanField(null=True)
    bot_detected = models.BooleanField(null=True)
    reused = models.BooleanField(default=False)
    review_status = models.CharField(max_length=16, choices=ReviewStatus, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    retained_until = models.DateTimeField(null=True, blank=True)
    # Past the retention period and on no hold: the lead's contact and reference were blanked
    # (certificates.evidence.retention).
    anonymised_at = models.DateTimeField(null=True, blank=True)

    # Background claiming: retries and leases live in the row so they survive a crash (docs/architecture.md, "Leases").
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # The last attempt may have reached TrustedForm (read timeout, reset): look before claiming again.
    last_attempt_unknown = models.BooleanField(default=False)
    # The fencing token: bumped every time a lease is taken, re-checked before each request leaves, so a
    # sender whose lease was taken over never sends (certificates.leasing).
    lease_fence = models.BigIntegerField(default=0)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        permissions = [
            ("claim_certificate", "Can claim and check in certificates"),
            ("review_certificate", "Can review failed certificates"),
            ("export_certificate", "Can export certificates"),
            ("view_lead_contact", "Can see leads' emails and phones unmasked"),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="cert_due_idx"),
            models.Index(fields=["state", "claim_deadline"], name="cert_deadline_idx"),
            models.Index(fields=["vendor", "state", "claim_deadline"], name="cert_vendor_state_idx"),
            models.Index(fields=["-received_at", "-id"], name="cert_received_idx"),
            # The certificates workspace: each common filter paired with the default sort (newest first)
            # or the deadline sort, so a page is an index range scan, not a sort of a million rows.
            models.Index(fields=["vendor", "-received_at", "-id"], name="cert_vendor_received_idx"),
            models.Index(fields=["state", "-received_at", "-id"], name="cert_state_received_idx"),
            models.Index(fields=["outcome", "-received_at", "-id"], name="cert_outcome_received_idx"),
            models.Index(fields=["vendor", "outcome", "-received_at", "-id"], name="cert_vendor_outcome_idx"),
            models.Index(fields=["claim_deadline", "id"], name="cert_deadline_sort_idx"),
            # The review queue: open ones, oldest first.
            models.Index(fields=["review_status", "received_at", "id"], name="cert_review_queue_idx"),
            # Search by the lead system's reference is an exact match.
            models.Index(fields=["reference"], name="cert_reference_idx"),
        ]

    def __str__(self) -> str:
        return self.cert_url

    def save(self, *args, **kwargs) -> None:
        if self.claim_deadline is None:
            self.claim_deadline = (self.lead_created_at or self.received_at) + CLAIM_WINDOW
        if not self._state.adding and kwargs.get("update_fields") is None:
            # Only certificates.leasing writes the lease: a stale copy saved here must never move a
            # fence backwards (that would let a stalled sender through).
            kwargs["update_fields"] = _SAVED_FIELDS
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("certificates:detail", args=[self.pk])

    def delete(self, *args, **kwargs):
        refuse_deleting_held(Certificate.objects.filter(pk=self.pk))
        return super().delete(*args, **kwargs)

    @property
    def is_final(self) -> bool:
        return self.state not in OPEN_STATES

    def failed_checks(self) -> list[FailedCheck]:
        """What the claim found wrong, in the order pages list it. The one rule: the worker opens a
        review when this is not empty, tables show it, reports count it (FAILED_CHECKS is its query)."""
        found = []
        if self.outcome == Certificate.Outcome.FAILURE:
            found.append(
                FailedCheck("failure", "failed", f"claim failed: {self.outcome_reason or 'no reason given'}")
            )
        if self.fingerprint_result in MISMATCHED_FINGERPRINTS:
            found.append(
                FailedCheck(
                    f"fingerprint_{self.fingerprint_result}",
                    f"fingerprints: {self.fingerprint_result}",
                    f"fingerprints matched: {self.get_fingerprint_result_display().lower()}",
                )
            )
        if self.scan_success is False:
            found.append(FailedCheck("scan_failed", "scan failed", "consent-language scan failed"))
        if self.bot_detected:
            found.append(FailedCheck("bot", "bot", "bot detected"))
        if self.is_masked:
            found.append(FailedCheck("masked", "masked", "masked certificate"))
        if self.reused:
            found.append(FailedCheck("reused", "reused", "sent by more than one vendor"))
        return found


@dataclass(frozen=True)
class FailedCheck:
    key: str  # the report counter and list filter of the same meaning (certificates/counters.py)
    flag: str  # short, as the certificate list shows it
    reason: str  # a phrase, as the review queue and the certificate page say it


MISMATCHED_FINGERPRINTS = (Certificate.FingerprintResult.SOME, Certificate.FingerprintResult.NONE)
# `Certificate.failed_checks` as a query: a test checks that the two agree on every combination.
FAILED_CHECKS = (
    models.Q(outcome=Certificate.Outcome.FAILURE)
    | models.Q(fingerprint_result__in=MISMATCHED_FINGERPRINTS)
    | models.Q(scan_success=False)
    | models.Q(bot_detected=True)
    | models.Q(is_masked=True)
    | models.Q(reused=True)
)
# No claim, and none coming as things stand: a person must see these, and decide or act.
UNCLAIMED_STATES = (
    Certificate.State.ERROR,
    Certificate.State.EXPIRED,
    Certificate.State.HELD,
    Certificate.State.CANCELLED,
)
# The review queue's two halves, disjoint. A claim with failed checks sets review_status "open"; an
# unclaimed certificate waits until someone decides. "No decision" is written as not one of the other
# statuses: a negative test cert_review_queue_idx cannot serve (where review_status "" is nearly every
# row), so the database reads the unclaimed states' ranges of cert_state_received_idx instead.
REVIEW_FAILED_CHECKS = models.Q(review_status=Certificate.ReviewStatus.OPEN)
REVIEW_UNCLAIMED_UNDECIDED = models.Q(state__in=UNCLAIMED_STATES) & ~models.Q(
    review_status__in=[
        Certificate.ReviewStatus.OPEN,
        Certificate.ReviewStatus.ACCEPTED,
        Certificate.ReviewStatus.REJECTED,
    ]
)
REVIEW_QUEUE_HALVES = (REVIEW_FAILED_CHECKS, REVIEW_UNCLAIMED_UNDECIDED)
NEEDING_REVIEW = REVIEW_FAILED_CHECKS | REVIEW_UNCLAIMED_UNDECIDED


# Not final: a person or the worker can still act (claim, complete the lead, check in).
OPEN_STATES = (Certificate.State.PENDING, Certificate.State.HELD)
LEASE_FIELDS = ("lease_owner", "lease_expires_at", "lease_fence")
_SAVED_FIELDS = [
    f.name for f in Certificate._meta.concrete_fields if not f.primary_key and f.name not in LEASE_FIELDS
]


class Claim(models.Model):
    """One answered claim: TrustedForm's parsed result, kept as evidence."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="claims")
    api_call = models.OneToOneField("ApiCall", on_delete=models.PROTECT, null=True, related_name="claim")
    # The call this answer came from, as the hash chain knows it: `verify_api_log` checks that the call
    # still exists with this hash and that its recorded result digest matches this row.
    api_call_seq = models.BigIntegerField(null=True, blank=True, editable=False)
    api_call_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    api_version = models.CharField(max_length=8)
    outcome = models.CharField(max_length=16, choices=Certificate.Outcome)
    reason = models.CharField(max_length=500, blank=True)
    email_matched = models.BooleanField(null=True)
    phone_matched = models.BooleanField(null=True)
    fingerprint_result = models.CharField(max_length=16, choices=Certificate.FingerprintResult, blank=True)
    fingerprints = models.JSONField(default=dict)
    scans = models.JSONField(default=dict)
    scan_success = models.BooleanField(null=True)
    warnings = models.JSONField(default=list)
    masked_cert_url = models.CharField(max_length=512, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    previously_retained = models.BooleanField(null=True)
    is_masked = models.BooleanField(null=True)
    insights = models.JSONField(default=dict)
    verify = models.JSONField(default=dict)
    raw_response = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.outcome} claim of {self.certificate.cert_id}"


class CheckIn(models.Model):
    """A check-in: extends the certificate's claim window to 90 days without claiming it."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="check_ins")
    api_call = models.OneToOneField("ApiCall", on_delete=models.PROTECT, null=True, related_name="check_in")
    api_call_seq = models.BigIntegerField(null=True, blank=True, editable=False)
    api_call_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    extended_until = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"check-in of {self.certificate.cert_id} until {self.extended_until:%Y-%m-%d}"


class LeadCorrection(models.Model):
    """A person's correction of a lead that is not final yet (email, phone, reference, vendor): who,
    when, each field from old to new. The certificate page lists them; they are the lead's audit trail."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="corrections")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    changed_at = models.DateTimeField(default=timezone.now)
    changes = models.JSONField(default=dict)  # {field: [old, new]}
    requeued = models.BooleanField(default=False)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{', '.join(self.changes)} of {self.certificate_id} by {self.changed_by_id}"


class AccountStatus(models.Model):
    """The TrustedForm account as tfdash last saw it: one row.

    A 401/402/403 is about the account, not the certificate, so claiming pauses for everyone until an
    admin resumes it (docs/architecture.md, "Leases") instead of failing thousands of certificates.
    """

    claiming_paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=500, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    # Bumped whenever permissions or roles change: each process keeps a user's permissions for one
    # version (tfdash.authcache). Only that module writes it, with an UPDATE; `save()` leaves it alone.
    auth_version = models.BigIntegerField(default=0, editable=False)

    history = HistoricalRecords(excluded_fields=["auth_version"])

    class Meta:
        verbose_name_plural = "account status"
        permissions = [("manage_account", "Can see TrustedForm settings and resume claiming")]

    def __str__(self) -> str:
        return "claiming paused" if self.claiming_paused else "claiming active"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "auth_version"
            ]
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> AccountStatus:
        status, _ = cls.objects.get_or_create(pk=1)
        return status


class Review(models.Model):
    """An analyst's decision on a certificate that failed a check."""

    class Decision(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    decision = models.CharField(max_length=16, choices=Decision)
    note = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.decision} by {self.reviewer} on {self.created_at:%Y-%m-%d}"


# The feature packages keep their own models; Django finds a model through the app's models module.
from certificates.alerts.models import Alert, AlertDelivery, Preferences  # noqa: E402
from certificates.apilog.models import ApiCall, ApiLogHead, AppendOnlyError  # noqa: E402
from certificates.evidence.models import (  # noqa: E402
    DiscoveryRequest,
    EvidenceExport,
    HeldCertificate,
    LegalHold,
    RetentionRun,
)
from certificates.intake.models import ImportBatch, ImportRowError, IntakeToken  # noqa: E402
from certificates.reports.models import ReportThreshold, RollupDirty, VendorDayRollup  # noqa: E402
from certificates.revocations.models import Revocation  # noqa: E402

__all__ = [
    "CHECK_IN_WINDOW",
    "CLAIM_WINDOW",
    "LEASE_FIELDS",
    "OPEN_STATES",
    "OnHold",
    "AccountStatus",
    "Alert",
    "AlertDelivery",
    "ApiCall",
    "ApiLogHead",
    "AppendOnlyError",
    "Certificate",
    "CertificateQuerySet",
    "CheckIn",
    "Claim",
    "DiscoveryRequest",
    "EvidenceExport",
    "HeldCertificate",
    "ImportBatch",
    "ImportRowError",
    "IntakeToken",
    "LeadCorrection",
    "LegalHold",
    "Preferences",
    "ReportThreshold",
    "RetentionRun",
    "Review",
    "Revocation",
    "RollupDirty",
    "Vendor",
    "VendorDayRollup",
]

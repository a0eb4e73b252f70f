"""Vendors, certificates and what happened to them: claims, check-ins, and every API call."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

# A web certificate lives 72 hours unless claimed or checked in (trustedform-api.md §4).
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


class CertificateQuerySet(models.QuerySet):
    def due(self, now=None) -> CertificateQuerySet:
        """Pending certificates whose next attempt is due and that no live worker holds."""
        now = now or timezone.now()
        return self.filter(state=Certificate.State.PENDING, next_attempt_at__lte=now).filter(
            models.Q(lease_expires_at__isnull=True) | models.Q(lease_expires_at__lt=now)
        )

    def at_risk(self, within: timedelta = timedelta(hours=12), now=None) -> CertificateQuerySet:
        now = now or timezone.now()
        return self.filter(state__in=OPEN_STATES, claim_deadline__lte=now + within)


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
    # Normalised copies, for search and fingerprint comparison (trustedform-api.md §5).
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

    # Background claiming: retries and leases live in the row so they survive a crash (design.md §2).
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

    @property
    def is_final(self) -> bool:
        return self.state not in OPEN_STATES

    @property
    def time_left(self) -> timedelta:
        return self.claim_deadline - timezone.now()


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


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete a row of the API-call log."""


class ApiCallQuerySet(models.QuerySet):
    """Bulk writes would bypass the hash chain (certificates.apilog), so they are refused."""

    def update(self, **kwargs):
        raise AppendOnlyError("The API-call log is append-only: rows are never updated.")

    def delete(self):
        raise AppendOnlyError("The API-call log is append-only: rows are never deleted.")

    def bulk_create(self, objs, *args, **kwargs):
        raise AppendOnlyError("Append API calls one at a time with certificates.apilog.append_api_call().")

    def bulk_update(self, objs, *args, **kwargs):
        raise AppendOnlyError("The API-call log is append-only: rows are never updated.")


class ApiCall(models.Model):
    """One HTTP attempt to TrustedForm. Append-only: TrustedForm keeps no log of its own.

    Rows form a hash chain (certificates.apilog): `seq` numbers them without gaps, `row_hash` covers every
    field (the bodies through `body_sha256`) plus the previous row's hash, so `manage.py verify_api_log`
    finds a row that was altered or removed. Bodies may be pruned after the retention period; their
    digest stays, so the chain still verifies.
    """

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent, no answer recorded"
        OK = "ok", "Answered"
        ERROR = "error", "Error"
        UNKNOWN = "unknown", "Unknown (may have been processed)"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # PROTECT, not SET_NULL: clearing the link would alter hashed evidence (deactivate users instead).
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    trigger = models.CharField(max_length=64)  # "web", "worker", "command", ...
    certificate = models.ForeignKey(
        Certificate, on_delete=models.PROTECT, null=True, blank=True, related_name="api_calls"
    )
    operation = models.CharField(max_length=32)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=600)
    api_version = models.CharField(max_length=8, blank=True)
    request_body = models.TextField(blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome)
    error = models.CharField(max_length=500, blank=True)
    # The lease's fencing token the sender held when the row was written (certificates.leasing).
    fence = models.BigIntegerField(null=True, blank=True, editable=False)
    answered_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The hash chain (certificates.apilog). Version 2 rows take two places in it: the request (`seq`,
    # `row_hash`), written before it is sent, and the answer (`answer_seq`, `answer_hash`), written after.
    hash_version = models.PositiveSmallIntegerField(default=2, editable=False)
    seq = models.BigIntegerField(unique=True, editable=False)
    body_sha256 = models.CharField(max_length=64, editable=False)  # version 1: both bodies together
    request_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    response_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    # What the answer produced (the Claim or CheckIn row), so the pages' copy can be checked against it.
    result_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    bodies_pruned_at = models.DateTimeField(null=True, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    row_hash = models.CharField(max_length=64, editable=False)
    answer_seq = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    answer_prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    answer_hash = models.CharField(max_length=64, blank=True, editable=False)

    objects = ApiCallQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("view_api_log", "Can read and export the API-call log")]

    def __str__(self) -> str:
        return f"{self.method} {self.url} → {self.status or self.outcome}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"API call {self.pk} is already logged; the log is append-only.")
        from certificates.apilog import insert_chained  # the chain module imports this one

        insert_chained(self)

    def get_absolute_url(self) -> str:
        return reverse("certificates:api-call", args=[self.pk])

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"API call {self.pk} cannot be deleted; the log is append-only.")

    @property
    def awaiting_answer(self) -> bool:
        """Written before sending, with no answer recorded (the sender stopped, or it is still out)."""
        return self.outcome == self.Outcome.SENT


class ApiLogHead(models.Model):
    """One row: the end of the API-call hash chain. Writers lock it, so concurrent writers keep one chain."""

    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"API-call log head #{self.last_seq}"


class AccountStatus(models.Model):
    """The TrustedForm account as tfdash last saw it: one row.

    A 401/402/403 is about the account, not the certificate, so claiming pauses for everyone until an
    admin resumes it (design.md §2) instead of failing thousands of certificates.
    """

    claiming_paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=500, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "account status"
        permissions = [("manage_account", "Can see TrustedForm settings and resume claiming")]

    def __str__(self) -> str:
        return "claiming paused" if self.claiming_paused else "claiming active"

    @classmethod
    def current(cls) -> AccountStatus:
        status, _ = cls.objects.get_or_create(pk=1)
        return status


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
    # True while a large file is still being read in the background (see importing.import_upload).
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

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"evidence export {self.pk} ({self.state})"


# --- Vendor reports: daily rollups (certificates/rollups.py keeps them; design.md §2 "reports read rollups") --


class VendorDayRollup(models.Model):
    """What one vendor's certificates received on one UTC day came to: counts, histograms, top values.

    Reports add these up over a period instead of scanning the certificate table. Each counter means
    exactly what the certificate list's filter of the same name selects, so a count can link to its rows.
    """

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="day_rollups")
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

"""The sandbox's store: issued certificates, claims, knobs and the log of requests it received.

Managers are declared (`objects`) because the product's type checker runs with the product's settings,
which do not install the sandbox: it would not find them otherwise.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class State(models.Model):
    """The single row holding the emulated account, the clock offset and the global fault knobs.

    One row read per request keeps per-request work small, and storing it in the database lets every
    thread (and every process sharing the file) agree on the clock and the knobs.
    """

    objects: ClassVar[models.Manager[State]] = models.Manager()

    active = models.BooleanField(default=True)
    products = models.JSONField(default=list)
    default_api_version = models.CharField(max_length=8, default="3.0")
    claim_limit = models.PositiveIntegerField(default=5)
    api_key = models.CharField(max_length=200)
    clock_offset_seconds = models.FloatField(default=0)
    faults = models.JSONField(default=dict)
    # Bumped whenever the faults change, so each process reseeds its random source once.
    faults_revision = models.PositiveIntegerField(default=0)
    # Whether any certificate has its own knobs: when not, requests skip looking for them.
    certificate_faults_set = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"sandbox state (account active={self.active}, clock offset {self.clock_offset_seconds}s)"


class Certificate(models.Model):
    objects: ClassVar[models.Manager[Certificate]] = models.Manager()

    WEB = "web"
    MOBILE = "mobile"
    META = "meta"
    MASKED = "masked"
    KINDS = [(WEB, "Web"), (MOBILE, "Mobile"), (META, "Meta Lead Ads"), (MASKED, "Masked")]

    cert_id = models.CharField(max_length=255, primary_key=True)
    kind = models.CharField(max_length=8, choices=KINDS, default=WEB)
    is_sandbox = models.BooleanField(default=False)
    form_submitted = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    # End of the claim window; moved by a check-in.
    expires_at = models.DateTimeField()
    email_fingerprints = models.JSONField(default=list)
    phone_fingerprints = models.JSONField(default=list)
    page_text = models.TextField(blank=True, default="")
    # Only what the minter chose; everything else is derived from the id (see sandbox/insights.py).
    insights_overrides = models.JSONField(default=dict)
    verify_overrides = models.JSONField(default=dict)
    # The 40-hex id of this certificate's masked twin (web and mobile). The twin has no row of its own:
    # a request for this id is answered from this certificate, seen as masked (sandbox.store.find).
    masked_id = models.CharField(max_length=40, blank=True, default="", db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.cert_id}"


class Claim(models.Model):
    """One successful claim (v3) or retain (v4); its response body is what `GET /<id>` shows again."""

    objects: ClassVar[models.Manager[Claim]] = models.Manager()

    cert_id = models.CharField(max_length=255, db_index=True)
    claim_id = models.CharField(max_length=24, unique=True)
    api_version = models.CharField(max_length=8)
    reference = models.TextField(blank=True, default="")
    vendor = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    retained_until = models.DateTimeField()
    response_body = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"claim {self.claim_id} of {self.cert_id}"


class CertificateFault(models.Model):
    """Per-certificate knobs: queued failures, a canned answer, or a redirect."""

    objects: ClassVar[models.Manager[CertificateFault]] = models.Manager()

    cert_id = models.CharField(max_length=255, primary_key=True)
    fail_next = models.JSONField(default=list)
    respond = models.JSONField(null=True, blank=True)
    redirect_to = models.TextField(blank=True, default="")
    # How many more requests get `respond` / `redirect_to`; null means every request until cleared.
    times_left = models.IntegerField(null=True, blank=True)
    hang_seconds = models.FloatField(null=True, blank=True)
    retry_after = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"faults of {self.cert_id}"


class RequestRecord(models.Model):
    """A request an API endpoint (or the redirect trap) received. Never holds the API key."""

    objects: ClassVar[models.Manager[RequestRecord]] = models.Manager()

    at = models.DateTimeField()
    method = models.CharField(max_length=8)
    path = models.TextField()
    endpoint = models.CharField(max_length=16)
    cert_id = models.CharField(max_length=255, blank=True, default="")
    api_version = models.CharField(max_length=8, blank=True, default="")
    auth_ok = models.BooleanField(default=False)
    content_type = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField(blank=True, default="")
    status = models.IntegerField(default=0)
    fault = models.CharField(max_length=32, blank=True, default="")
    duration_ms = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"

"""Retention: past RETENTION_YEARS after its last claim, a certificate on no legal hold is anonymised.

What goes: the lead's email, phone and reference (and their normalised copies and corrections), the
API calls' request and response bodies, and the raw answer each claim kept. What stays: every row, every
outcome, fingerprint result and scan, and the API-call log's hash chain, which still verifies:
- the bodies are blanked as pruning blanks them (their digests stay; a pruning entry covers the rows);
- a claim's raw answer enters its call's result digest, so blanking it changes that digest: the run
  writes a chained *retention entry* naming each claim it blanked with the digest before and after,
  and `verify_api_log` accepts a changed claim only where a retention entry says so, from exactly the
  digest the call recorded. Like a pruning entry, it is itself in the chain, so it cannot be rewritten.
Held certificates are left whole (`on_hold`), and each run is recorded (RetentionRun).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.tasks import task
from django.utils import timezone

from certificates.apilog.chain import RETENTION_OPERATION, canonical, result_digest
from certificates.apilog.models import ApiCall, append_api_call
from certificates.apilog.pruning import blank_bodies, prunable
from certificates.evidence.models import RetentionRun, on_hold
from certificates.models import Certificate, Claim, LeadCorrection

CHUNK = 500
ANONYMISED_FIELDS = {
    "lead_email": "",
    "lead_phone": "",
    "reference": "",
    "email_normalised": "",
    "phone_normalised": "",
}


def retention_cutoff(now: datetime, years: int | None = None) -> datetime:
    """The instant RETENTION_YEARS before `now` (February 29th falls back to the 28th)."""
    years = settings.RETENTION_YEARS if years is None else years
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def past_retention(cutoff: datetime) -> models.QuerySet[Certificate]:
    """Certificates not anonymised yet whose last claim (or, never claimed, receipt) is before `cutoff`,
    held or not."""
    last_claim = (
        Claim.objects.filter(certificate=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    )
    return (
        Certificate.objects.filter(anonymised_at__isnull=True)
        .annotate(last_claim_at=Coalesce(Subquery(last_claim), F("received_at")))
        .filter(last_claim_at__lt=cutoff)
    )


def _ids(queryset: models.QuerySet[Certificate]) -> Iterator[list[int]]:
    chunk: list[int] = []
    for pk in queryset.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=2_000):
        chunk.append(pk)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def apply_retention(*, dry_run: bool = False, now: datetime | None = None) -> RetentionRun:
    """Anonymise every certificate past the period and on no hold, in chunks (flat in memory); with
    `dry_run`, only count. Returns the run, recorded either way."""
    now = now or timezone.now()
    cutoff = retention_cutoff(now)
    past = past_retention(cutoff)
    run = RetentionRun.objects.create(started_at=now, dry_run=dry_run, cutoff=cutoff)
    run.held_skipped = past.filter(on_hold()).count()
    eligible = past.exclude(on_hold())
    if dry_run:
        run.certificates = eligible.count()
        run.api_calls = prunable(ApiCall.objects.filter(certificate__in=eligible.values("pk"))).count()
        run.claims = (
            Claim.objects.filter(certificate__in=eligible.values("pk")).exclude(raw_response={}).count()
        )
    else:
        for ids in _ids(eligible):
            calls, claims = _anonymise(ids, cutoff)
            run.certificates += len(ids)
            run.api_calls += calls
            run.claims += claims
    run.finished_at = timezone.now()
    run.save()
    return run


@transaction.atomic
def _anonymise(ids: list[int], cutoff: datetime) -> tuple[int, int]:
    """One chunk, all or nothing: the leads, their corrections, the calls' bodies, the claims' answers."""
    # Re-read under the transaction: a hold placed since the chunk was listed wins.
    ids = list(
        Certificate.objects.filter(pk__in=ids, anonymised_at__isnull=True)
        .exclude(on_hold())
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0, 0
    now = timezone.now()
    Certificate.objects.filter(pk__in=ids).update(anonymised_at=now, **ANONYMISED_FIELDS)
    for correction in LeadCorrection.objects.filter(certificate_id__in=ids):
        correction.changes = {name: ["", ""] for name in correction.changes}
        correction.save(update_fields=["changes"])

    call_ids = list(prunable(ApiCall.objects.filter(certificate_id__in=ids)).values_list("pk", flat=True))
    if call_ids:
        # Blanked as pruning blanks them: the chained pruning entry covers these rows.
        blank_bodies(call_ids, before=now, trigger="apply_retention", reason="retention")

    rerecorded: dict[str, list[str]] = {}
    for claim in Claim.objects.filter(certificate_id__in=ids).exclude(raw_response={}):
        before = result_digest(claim)
        claim.raw_response = {}
        claim.save(update_fields=["raw_response"])
        claim.refresh_from_db()
        if claim.api_call_seq is not None:
            rerecorded[f"claim:{claim.pk}"] = [before, result_digest(claim)]
    if rerecorded:
        append_api_call(
            trigger="apply_retention",
            operation=RETENTION_OPERATION,
            method="",
            url="",
            request_body=json.dumps(
                {"applied_at": canonical(now), "cutoff": canonical(cutoff), "results": rerecorded},
                sort_keys=True,
            ),
            outcome=ApiCall.Outcome.OK,
        )
    return len(call_ids), len(rerecorded)


def describe(run: RetentionRun) -> str:
    """What a run did (or would do), in one paragraph for the command and the settings page."""
    verb = "Would anonymise" if run.dry_run else "Anonymised"
    return (
        f"{verb} {run.certificates:,} certificate{'s' if run.certificates != 1 else ''} whose last claim "
        f"was before {run.cutoff:%Y-%m-%d} (retention {settings.RETENTION_YEARS} years): "
        f"{run.api_calls:,} API-call bodies and {run.claims:,} claim answers blanked"
        f"{'' if not run.dry_run else ' if run'}; {run.held_skipped:,} past the period left whole "
        "because a legal hold is on them."
    )


def ran_on(day: date) -> bool:
    """Whether the rule was applied (not a dry run) on this UTC day."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return RetentionRun.objects.filter(
        dry_run=False, started_at__gte=start, started_at__lt=start + timedelta(days=1)
    ).exists()


def next_run(now: datetime | None = None) -> datetime:
    """When the scheduler will next apply the rule: its first sweep today if today's run is still to do,
    else its first sweep after midnight UTC."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    if not ran_on(today):
        return now
    return datetime.combine(today + timedelta(days=1), time(0), tzinfo=UTC)


@task()
def apply_retention_task() -> dict[str, int]:
    """The scheduler's daily run (a restarted scheduler may queue a second one: it does nothing)."""
    if ran_on(timezone.now().astimezone(UTC).date()):
        return {"certificates": 0, "skipped": 1}
    run = apply_retention()
    return {"certificates": run.certificates, "held_skipped": run.held_skipped}

"""Pruning the API-call log's bodies after the retention period: the digests stay, so the chain verifies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from certificates.apilog.chain import PRUNE_OPERATION, RETENTION_OPERATION, canonical
from certificates.apilog.models import ApiCall, append_api_call
from certificates.evidence.models import HeldCertificate

# --- Pruning ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pruning:
    rows: int
    before: datetime


def prunable(calls: models.QuerySet[ApiCall]) -> models.QuerySet[ApiCall]:
    """Answered calls whose bodies are still there, pruning and retention records themselves aside."""
    return (
        calls.filter(bodies_pruned_at__isnull=True, answer_seq__isnull=False)
        .exclude(request_body="", response_body="")
        .exclude(operation__in=(PRUNE_OPERATION, RETENTION_OPERATION))
    )


def blank_bodies(ids: list[int], *, before: datetime, trigger: str, **record: str) -> int:
    """Blank these calls' bodies and chain the pruning entry that covers them (inside the caller's
    transaction); `record` adds to what the entry says (retention names itself)."""
    now = timezone.now()
    count = models.QuerySet.update(
        ApiCall.objects.filter(pk__in=ids), request_body="", response_body="", bodies_pruned_at=now
    )
    append_api_call(
        trigger=trigger,
        operation=PRUNE_OPERATION,
        method="",
        url="",
        request_body=json.dumps(
            {"pruned_at": canonical(now), "before": canonical(before), "rows": count, **record},
            sort_keys=True,
        ),
        outcome=ApiCall.Outcome.OK,
    )
    return count


def prune_bodies(*, before: datetime, dry_run: bool = False, batch: int = 5000) -> Pruning:
    """Blank the request/response bodies of answered rows older than `before`; their digests, hashes and
    a chained pruning entry per batch (when, up to which date, how many rows) remain. The calls of a
    certificate on a legal hold are left whole."""
    held = HeldCertificate.objects.filter(
        certificate_id=OuterRef("certificate_id"), hold__released_at__isnull=True
    )
    due = prunable(ApiCall.objects.filter(created_at__lt=before)).exclude(Exists(held))
    if dry_run:
        return Pruning(due.count(), before)
    pruned = 0
    while ids := list(due.order_by("seq").values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            pruned += blank_bodies(ids, before=before, trigger="prune_api_log")
    return Pruning(pruned, before)

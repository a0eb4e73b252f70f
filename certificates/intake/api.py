"""The JSON intake API's work: the batch each token writes into, and importing the leads it pushes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from certificates.intake.importer import LeadImporter, RowOutcome, start_claiming
from certificates.intake.leads import FIELDS, FieldError
from certificates.models import (
    ImportBatch,
    IntakeToken,
)

# --- The JSON intake API ---------------------------------------------------------------------------

API_FIELDS = FIELDS


def api_batch_for(token: IntakeToken) -> ImportBatch:
    """Today's batch for this token: a lead system that posts one lead at a time fills one batch a day."""
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    batch = ImportBatch.objects.filter(
        source=ImportBatch.Source.API, intake_token=token, created_at__gte=today
    ).first()
    if batch is None:
        batch = ImportBatch.objects.create(
            source=ImportBatch.Source.API, intake_token=token, filename=f"{token.name} (API)"[:255]
        )
    return batch


def import_api_leads(
    leads: list[Mapping[str, Any]], *, token: IntakeToken
) -> tuple[ImportBatch, list[RowOutcome]]:
    """Import leads posted to the API into today's batch; returns one outcome per lead, in order."""
    with transaction.atomic():
        batch = api_batch_for(token)
        # Lines continue the day's batch so that row errors of different requests do not collide.
        first_line = ImportBatch.objects.select_for_update().get(pk=batch.pk).total_rows + 1
        importer = LeadImporter(batch=batch, keep_outcomes=None, keep_rejected=None)
        for index, lead in enumerate(leads):
            if isinstance(lead, Mapping):
                importer.add(first_line + index, {name: lead.get(name) for name in API_FIELDS})
            else:
                importer.reject(first_line + index, [FieldError("", "Each lead must be a JSON object.")])
        importer.finish()
        if importer.counts.new:
            start_claiming()
    return batch, importer.outcomes

"""Importing many leads: rows are validated, then saved in chunks (one query for the known certificate ids
of a chunk, one bulk insert), so 100,000 rows cost little more than a bare bulk_create.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from certificates.evidence.holds import join_open_holds
from certificates.exporting import neutralise
from certificates.intake.leads import (
    FIELDS,
    MAX_STORED_VALUE,
    FieldError,
    ValidLead,
    as_text,
    validate_lead,
    vendor_named,
)
from certificates.models import (
    CLAIM_WINDOW,
    Certificate,
    ImportBatch,
    ImportRowError,
    Vendor,
)
from certificates.worker import wake_claimer
from trustedform import (
    missing_match_lead,
    normalise_email,
    normalise_phone,
)

# --- Importing many leads --------------------------------------------------------------------------

CHUNK_SIZE = 2000
PREVIEW_ROWS = 100  # rows whose outcome a dry run shows one by one
SHOWN_REJECTIONS = 500  # rejected rows kept in memory for the page; all are counted and saved

NEW, DUPLICATE, REUSED, REJECTED = "new", "duplicate", "reused", "rejected"
MAX_LISTED_VENDORS = 200  # new vendor names a dry run lists (a file naming more is surely mis-mapped)


MAX_KEPT_CELL = 2000  # a rejected row's cells are kept this long, to be fixed and imported again


def _kept_row(values: Mapping[str, Any]) -> dict[str, str]:
    """The row as read, storable in any database: PostgreSQL's JSON refuses NUL and lone surrogates."""
    return {name: truncate(str(values[name]), MAX_KEPT_CELL) for name in FIELDS if values.get(name)}


def rejected_rows_csv(batch: ImportBatch) -> Iterator[str]:
    """A batch's rejected rows as a CSV to fix and import again: the columns tfdash reads, then why."""
    buffer = _LineBuffer()
    writer = csv.writer(buffer)
    writer.writerow([*FIELDS, "line", "why rejected"])
    yield buffer.take()
    errors = batch.row_errors.order_by("line", "id").iterator(chunk_size=2000)
    # One line per rejected row (a row may have several errors), streamed in line order.
    for line, same_line in itertools.groupby(errors, key=lambda error: error.line):
        found = list(same_line)
        row, why = found[0].row, "; ".join(error.reason for error in found)
        writer.writerow([neutralise(row.get(name, "")) for name in FIELDS] + [line, neutralise(why)])
        yield buffer.take()


class _LineBuffer:
    """What csv.writer writes, handed out line by line for a streaming response."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def take(self) -> str:
        text, self.text = self.text, ""
        return text


def _unconfirmed_vendor(name: str) -> FieldError:
    return FieldError(
        "vendor",
        f"“{name}” is not a vendor yet, and the dry run did not list it for confirmation. Add it on the "
        "Vendors page, or upload the file again and confirm the new vendors.",
        name,
    )


@dataclass
class RowOutcome:
    """What happened (or, in a dry run, will happen) to one row."""

    line: int
    status: str
    values: dict[str, str] = field(default_factory=dict)
    cert_id: str = ""
    vendor: str = ""
    errors: list[FieldError] = field(default_factory=list)
    note: str = ""  # why a new row will not be claimed yet (it is kept all the same)


@dataclass
class ImportCounts:
    total: int = 0
    new: int = 0
    duplicates: int = 0
    reused: int = 0
    rejected: int = 0
    held: int = (
        0  # of the new ones: kept and checked in, but not claimed until a person adds an email or phone
    )

    @property
    def good(self) -> int:
        return self.new + self.duplicates + self.reused

    def add(self, status: str) -> None:
        self.total += 1
        if status == NEW:
            self.new += 1
        elif status == DUPLICATE:
            self.duplicates += 1
        elif status == REUSED:
            self.reused += 1
        else:
            self.rejected += 1


class LeadImporter:
    """Validates leads and saves the good ones in chunks; with no batch it is a dry run.

    Feed rows with `add(line, values)` (or `reject(line, errors)` for a row that could not be read), then
    call `finish()`. Outcomes are kept only for the first `keep_outcomes` rows and the first
    `keep_rejected` rejected rows, so memory stays flat however long the file is.
    """

    def __init__(
        self,
        *,
        batch: ImportBatch | None = None,
        default_vendor: str = "",
        keep_outcomes: int | None = PREVIEW_ROWS,
        keep_rejected: int | None = SHOWN_REJECTIONS,
        on_rejected: Callable[[RowOutcome], None] | None = None,
        chunk_size: int = CHUNK_SIZE,
        new_vendors: Iterable[str] | None = None,
    ) -> None:
        self.batch = batch
        # Vendors a file may create: those its dry run listed and the person confirmed (lower-cased).
        # None: any (the claim form, the intake API and the command name their vendor on purpose).
        # The vendor a person chose for the file's rows on the upload form is confirmed by that choice.
        self.allowed_new_vendors = (
            None
            if new_vendors is None
            else {v.lower() for v in [*new_vendors, " ".join(default_vendor.split())]}
        )
        self.new_vendor_names: dict[str, str] = {}  # key -> the first spelling seen, for the dry run
        self._vendor_exists: dict[str, bool] = {}
        self.default_vendor = default_vendor
        self.keep_outcomes = keep_outcomes
        self.keep_rejected = keep_rejected
        self.on_rejected = on_rejected
        self.chunk_size = chunk_size
        self.counts = ImportCounts()
        self.outcomes: list[RowOutcome] = []
        self.rejected: list[RowOutcome] = []
        self._buffer: list[tuple[int, dict[str, Any], ValidLead | None, list[FieldError]]] = []
        # cert_id -> vendor key of its first row. A dry run keeps the whole file's; a real import keeps
        # one chunk's, since the database remembers the chunks before.
        self._seen: dict[str, str] = {}
        self._vendor_ids: dict[str, int] = {}

    def add(self, line: int, values: Mapping[str, Any]) -> None:
        lead, errors = validate_lead(values, default_vendor=self.default_vendor)
        self._buffer.append((line, dict(values), lead, errors))
        if len(self._buffer) >= self.chunk_size:
            self.flush()

    def reject(self, line: int, errors: list[FieldError], values: Mapping[str, Any] | None = None) -> None:
        self._buffer.append((line, dict(values or {}), None, errors))

    def finish(self) -> ImportCounts:
        self.flush()
        return self.counts

    def flush(self) -> None:
        rows, self._buffer = self._buffer, []
        if not rows:
            return
        for attempt in range(3):
            try:
                self._flush(rows)
                return
            except IntegrityError:
                # Another intake saved one of these certificates meanwhile: look again and classify anew.
                self._vendor_ids.clear()
                if attempt == 2:
                    raise

    def _flush(self, rows: list[tuple[int, dict[str, Any], ValidLead | None, list[FieldError]]]) -> None:
        ids = {lead.ref.cert_id for _, _, lead, _ in rows if lead is not None}
        known = self._known_vendors(ids - self._seen.keys())
        seen = dict(self._seen)
        outcomes: list[tuple[RowOutcome, ValidLead | None]] = []
        for line, values, lead, errors in rows:
            if lead is None:
                outcome = RowOutcome(line, REJECTED, values, errors=errors)
            else:
                cert_id, key = lead.ref.cert_id, lead.vendor_key
                first = seen.get(cert_id) or known.get(cert_id)
                if first is None:
                    status = NEW
                    seen[cert_id] = key
                else:
                    status = DUPLICATE if first == key else REUSED
                outcome = RowOutcome(line, status, values, cert_id, lead.vendor)
                if not self._vendor_may_be_used(lead):
                    outcome = RowOutcome(line, REJECTED, values, errors=[_unconfirmed_vendor(lead.vendor)])
                    if status == NEW:
                        del seen[cert_id]  # not saved: a later row of it may still be new
                elif status == NEW:
                    outcome.note = missing_match_lead(
                        lead.email, lead.phone, settings.TRUSTEDFORM_API_VERSION
                    )
            outcomes.append((outcome, lead))
        if self.batch is not None:
            with transaction.atomic():
                self._save(outcomes)
            seen.clear()
        self._seen = seen
        for outcome, _ in outcomes:
            self._record(outcome)

    def _vendor_may_be_used(self, lead: ValidLead) -> bool:
        key = lead.vendor_key
        if key not in self._vendor_exists:
            self._vendor_exists[key] = Vendor.objects.filter(name__iexact=lead.vendor).exists()
        if self._vendor_exists[key] or key == " ".join(self.default_vendor.split()).lower():
            return True
        if len(self.new_vendor_names) < MAX_LISTED_VENDORS:
            self.new_vendor_names.setdefault(key, lead.vendor)
        return self.allowed_new_vendors is None or key in self.allowed_new_vendors

    def _known_vendors(self, ids: set[str]) -> dict[str, str]:
        if not ids:
            return {}
        rows = Certificate.objects.filter(cert_id__in=ids).values_list("cert_id", "vendor__name")
        return {cert_id: name.lower() for cert_id, name in rows}

    def _save(self, outcomes: list[tuple[RowOutcome, ValidLead | None]]) -> None:
        batch = self.batch
        assert batch is not None  # finish() saves only with a batch
        now = timezone.now()
        certificates, reused, errors = [], set(), []
        for outcome, lead in outcomes:
            if outcome.status == NEW:
                assert lead is not None  # a new row is a valid lead
                certificates.append(self._certificate(lead, now))
            elif outcome.status == REUSED:
                reused.add(outcome.cert_id)
            elif outcome.status == REJECTED:
                errors += [
                    ImportRowError(
                        batch=batch,
                        line=outcome.line,
                        field=e.field[:64],
                        value=truncate(e.value),
                        reason=e.reason[:500],
                        row=_kept_row(outcome.values),
                    )
                    for e in outcome.errors
                ]
        Certificate.objects.bulk_create(certificates, batch_size=1000)
        if certificates:
            join_open_holds(Certificate.objects.filter(cert_id__in=[c.cert_id for c in certificates]))
        if reused:
            Certificate.objects.filter(cert_id__in=reused, reused=False).update(reused=True)
        ImportRowError.objects.bulk_create(errors, batch_size=1000)
        chunk = ImportCounts()
        for outcome, _ in outcomes:
            chunk.add(outcome.status)
        ImportBatch.objects.filter(pk=batch.pk).update(
            total_rows=F("total_rows") + chunk.total,
            accepted=F("accepted") + chunk.new,
            duplicates=F("duplicates") + chunk.duplicates,
            reused=F("reused") + chunk.reused,
            rejected=F("rejected") + chunk.rejected,
        )

    def _certificate(self, lead: ValidLead, now: datetime) -> Certificate:
        # bulk_create skips Certificate.save(), which is where the deadline is usually filled in.
        missing = missing_match_lead(lead.email, lead.phone, settings.TRUSTEDFORM_API_VERSION)
        return Certificate(
            state=Certificate.State.HELD if missing else Certificate.State.PENDING,
            state_reason=missing,
            cert_id=lead.ref.cert_id,
            cert_url=lead.ref.url,
            cert_type=lead.ref.cert_type,
            vendor_id=self._vendor_id(lead.vendor),
            batch_id=self.batch.pk if self.batch is not None else None,
            reference=lead.reference,
            lead_email=lead.email,
            lead_phone=lead.phone,
            email_normalised=normalise_email(lead.email),
            phone_normalised=normalise_phone(lead.phone),
            received_at=now,
            lead_created_at=lead.lead_created_at,
            claim_deadline=(lead.lead_created_at or now) + CLAIM_WINDOW,
            next_attempt_at=now,
        )

    def _vendor_id(self, name: str) -> int:
        key = name.lower()
        if key not in self._vendor_ids:
            self._vendor_ids[key] = vendor_named(name).pk
        return self._vendor_ids[key]

    def _record(self, outcome: RowOutcome) -> None:
        self.counts.add(outcome.status)
        self.counts.held += bool(outcome.note)
        kept = False
        if self.keep_outcomes is None or len(self.outcomes) < self.keep_outcomes:
            self.outcomes.append(outcome)
            kept = True
        if outcome.status == REJECTED:
            if self.keep_rejected is None or len(self.rejected) < self.keep_rejected:
                self.rejected.append(outcome)
                kept = True
            if self.on_rejected is not None:
                self.on_rejected(outcome)
        if kept:  # only rows that are shown pay for their display copy
            outcome.values = _display(outcome.values)


def _display(values: Mapping[str, Any]) -> dict[str, str]:
    """Values as the page shows them: text, and never a whole 10,000-character cell."""
    shown = dict.fromkeys(FIELDS, "")
    for name, value in values.items():
        try:
            text = as_text(value)
        except TypeError:
            text = repr(value)
        shown[name] = truncate(text, 120)
    return shown


def truncate(value: str, limit: int = MAX_STORED_VALUE) -> str:
    value = value.replace("\x00", "\ufffd")
    if not value.isascii():  # a lone surrogate from JSON cannot be stored or shown
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def start_claiming() -> None:
    """Wake the worker once the new rows are committed (the rows are the truth; the task only wakes)."""
    # wake_claimer enqueues claim_due_certificates unless one already waits: an API pushing one lead
    # at a time must not pile up thousands of identical tasks.
    transaction.on_commit(wake_claimer)

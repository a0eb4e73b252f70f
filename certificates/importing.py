"""Intake: turn leads as they arrive (form, CSV, paste, JSON API, command) into pending certificates.

Every value is validated here, in one place, so that each intake path reports the same reasons. Bulk
intake streams: a file is read row by row and saved in chunks (one query for the known certificate ids
of a chunk, one bulk insert), so 100,000 rows cost little more than a bare bulk_create.
"""

from __future__ import annotations

import codecs
import csv
import email.utils
import hashlib
import itertools
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, Min, OuterRef
from django.utils import timezone

from certificates.exporting import FORMULA_LIKE_NAME, formula_like, neutralise
from certificates.models import (
    CLAIM_WINDOW,
    OPEN_STATES,
    ApiCall,
    Certificate,
    ImportBatch,
    ImportRowError,
    IntakeToken,
    Vendor,
)
from certificates.tasks import import_stored_upload, wake_claimer
from certificates.trustedform import (
    CertificateRef,
    InvalidCertificateUrl,
    missing_match_lead,
    normalise_email,
    normalise_phone,
    parse_certificate_url,
)


@dataclass(frozen=True)
class Intake:
    certificate: Certificate
    created: bool
    reused: bool


def parse_url(raw: str) -> CertificateRef:
    """Validate a certificate URL against the configured host allow-list (raises InvalidCertificateUrl)."""
    return parse_certificate_url(raw, settings.TRUSTEDFORM_ALLOWED_HOSTS)


def vendor_named(name: str) -> Vendor:
    """The vendor with this name (case-insensitive), created on first sight."""
    name = " ".join(name.split())
    vendor = Vendor.objects.filter(name__iexact=name).first()
    if vendor is None:
        try:
            with transaction.atomic():
                vendor = Vendor.objects.create(name=name)
        except IntegrityError:  # created meanwhile by another request
            vendor = Vendor.objects.get(name__iexact=name)
    return vendor


@transaction.atomic
def intake_lead(
    ref: CertificateRef,
    *,
    vendor: Vendor,
    email: str = "",
    phone: str = "",
    reference: str = "",
    lead_created_at: datetime | None = None,
) -> Intake:
    """Save a lead's certificate as pending, or find it if it already arrived.

    The same certificate sent twice stays one certificate; sent by a second vendor it is flagged reused.
    """
    existing = Certificate.objects.select_for_update().filter(cert_id=ref.cert_id).first()
    if existing is not None:
        reused = existing.vendor_id != vendor.pk
        if reused and not existing.reused:
            existing.reused = True
            existing.save(update_fields=["reused"])
        return Intake(existing, created=False, reused=reused)
    missing = missing_match_lead(email, phone, settings.TRUSTEDFORM_API_VERSION)
    try:
        # A savepoint: the same lead submitted twice at once makes one certificate, not a 500.
        with transaction.atomic():
            certificate = Certificate.objects.create(
                state=Certificate.State.HELD if missing else Certificate.State.PENDING,
                state_reason=missing,
                cert_id=ref.cert_id,
                cert_url=ref.url,
                cert_type=ref.cert_type,
                vendor=vendor,
                reference=reference,
                lead_email=email,
                lead_phone=phone,
                email_normalised=normalise_email(email),
                phone_normalised=normalise_phone(phone),
                received_at=timezone.now(),
                lead_created_at=lead_created_at,
            )
    except IntegrityError:
        existing = Certificate.objects.get(cert_id=ref.cert_id)
        return Intake(existing, created=False, reused=existing.vendor_id != vendor.pk)
    return Intake(certificate, created=True, reused=False)


# --- Columns ---------------------------------------------------------------------------------------

FIELDS = ("cert_url", "email", "phone", "reference", "vendor", "lead_time")
FIELD_LABELS = {
    "cert_url": "Certificate URL",
    "email": "Email",
    "phone": "Phone",
    "reference": "Reference",
    "vendor": "Vendor",
    "lead_time": "Lead time",
}
# Header spellings seen in vendors' files, compared without case, spaces, underscores or hyphens.
HEADER_ALIASES = {
    "cert_url": ("trustedformcerturl", "xxtrustedformcerturl", "certurl", "certificateurl", "trustedformurl"),
    "email": ("email", "emailaddress"),
    "phone": ("phone", "phone1", "phonenumber"),
    "reference": ("reference", "leadid"),
    "vendor": ("vendor", "source", "vendorname"),
    "lead_time": ("leadtime", "createdat", "timestamp", "date"),
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}
# A file without a header: a list of certificate URLs, optionally followed by these columns.
HEADERLESS_FIELDS = ("cert_url", "email", "phone", "reference")

MAX_LENGTHS = {"email": 254, "phone": 40, "reference": 255, "vendor": 200}
MAX_STORED_VALUE = 300  # ImportRowError.value
LEAD_TIME_FUTURE_SLACK = timedelta(hours=1)  # vendors' clocks drift a little; more is a wrong date


def header_key(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.strip().strip('"').lower())


@dataclass(frozen=True)
class ColumnMap:
    """Which column of the file holds which field, and the columns that are not used."""

    headers: tuple[str, ...]
    indexes: dict[str, int]  # field -> column index
    has_header: bool = True

    @classmethod
    def from_header(cls, cells: list[str]) -> ColumnMap:
        indexes: dict[str, int] = {}
        for index, cell in enumerate(cells):
            name = _ALIAS_TO_FIELD.get(header_key(cell))
            if name and name not in indexes:  # the first of two same-meaning columns wins
                indexes[name] = index
        return cls(headers=tuple(c.strip() for c in cells), indexes=indexes)

    @classmethod
    def headerless(cls, width: int) -> ColumnMap:
        names = HEADERLESS_FIELDS[:width]
        return cls(
            headers=tuple(f"column {i + 1}" for i in range(width)),
            indexes={name: i for i, name in enumerate(names)},
            has_header=False,
        )

    @property
    def mapping(self) -> list[tuple[str, str | None]]:
        """(column as in the file, field it is read as, or None when unused), in file order."""
        fields_at = {index: name for name, index in self.indexes.items()}
        return [(header, fields_at.get(i)) for i, header in enumerate(self.headers)]

    @property
    def unmapped(self) -> list[str]:
        return [header for header, name in self.mapping if name is None]

    @property
    def missing(self) -> list[str]:
        return [name for name in FIELDS if name not in self.indexes]

    def values(self, cells: list[str]) -> dict[str, str]:
        # A short row has empty cells; a field with no column at all stays absent (a different reason).
        return {name: cells[i] if i < len(cells) else "" for name, i in self.indexes.items()}


def looks_like_header(cells: list[str]) -> bool:
    return any(header_key(cell) in _ALIAS_TO_FIELD for cell in cells)


# --- Validating one lead ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str
    value: str = ""

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class ValidLead:
    ref: CertificateRef
    vendor: str  # whitespace-normalised name
    email: str
    phone: str
    reference: str
    lead_created_at: datetime | None

    @property
    def vendor_key(self) -> str:
        return self.vendor.lower()


def as_text(value: Any) -> str:
    """A cell or JSON value as text; numbers are fine (phone numbers often arrive as numbers)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(type(value).__name__)
    return str(value).strip()


def _storable(text: str) -> bool:
    # PostgreSQL refuses NUL in text, and a lone surrogate (from JSON "\ud800") cannot be encoded.
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_lead(
    values: Mapping[str, Any], *, default_vendor: str = ""
) -> tuple[ValidLead | None, list[FieldError]]:
    """Check one lead's values; returns the lead, or None and every field that is wrong and why."""
    errors: list[FieldError] = []
    text: dict[str, str] = {}
    for name in FIELDS:
        try:
            text[name] = as_text(values.get(name))
        except TypeError as exc:
            errors.append(FieldError(name, f"Must be text, not {exc}.", repr(values.get(name))))
            text[name] = ""
            continue
        if not _storable(text[name]):
            errors.append(FieldError(name, "Contains a NUL or an invalid character.", text[name]))
            text[name] = ""
        elif len(text[name]) > MAX_LENGTHS.get(name, 10**9):
            limit = MAX_LENGTHS[name]
            errors.append(
                FieldError(name, f"Longer than {limit} characters ({len(text[name])}).", text[name])
            )
            text[name] = ""

    ref = None
    if "cert_url" not in values:
        errors.append(FieldError("cert_url", "The file has no certificate URL column."))
    elif not any(e.field == "cert_url" for e in errors):
        try:
            ref = parse_url(text["cert_url"])
        except InvalidCertificateUrl as exc:
            errors.append(FieldError("cert_url", exc.reason, text["cert_url"]))

    vendor = " ".join((text["vendor"] or default_vendor).split())
    if not vendor and not any(e.field == "vendor" for e in errors):
        errors.append(FieldError("vendor", "No vendor: add a vendor column or choose a vendor for the file."))
    elif len(vendor) > MAX_LENGTHS["vendor"]:
        errors.append(FieldError("vendor", "The vendor name is longer than 200 characters.", vendor))
    elif formula_like(vendor):
        errors.append(FieldError("vendor", FORMULA_LIKE_NAME, vendor))

    if text["email"]:
        try:
            validate_email(text["email"])
        except ValidationError:
            errors.append(FieldError("email", "Not a valid email address.", text["email"]))
    if text["phone"] and len(normalise_phone(text["phone"])) != 10:
        errors.append(FieldError("phone", "Not a 10-digit US phone number.", text["phone"]))

    lead_created_at = None
    if text["lead_time"]:
        try:
            lead_created_at = parse_lead_time(text["lead_time"])
        except ValueError as exc:
            errors.append(FieldError("lead_time", str(exc), text["lead_time"]))

    if errors or ref is None:
        return None, errors
    lead = ValidLead(ref, vendor, text["email"], text["phone"], text["reference"], lead_created_at)
    return lead, []


_DATE_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%m/%d/%y %H:%M",
    "%m/%d/%y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y",
)


def parse_lead_time(text: str, *, now: datetime | None = None) -> datetime:
    """A lead's creation time, read leniently: ISO 8601, US dates (month first), RFC 2822, Unix time.

    A time without a zone is taken as UTC. Raises ValueError with a reason.
    """
    text = text.strip()
    parsed: datetime | None = None
    if re.fullmatch(r"\d{9,10}(\.\d+)?", text):
        parsed = datetime.fromtimestamp(float(text), tz=UTC)
    elif re.fullmatch(r"\d{12,13}", text):  # milliseconds, as JavaScript writes them
        parsed = datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    else:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            for fmt in _DATE_FORMATS:
                try:
                    parsed = datetime.strptime(text, fmt)  # naive: taken as UTC below
                    break
                except ValueError:
                    continue
        if parsed is None:
            try:
                parsed = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                parsed = None
    if parsed is None:
        raise ValueError("Not a date and time we can read (try 2024-05-01 14:30:00).")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year < 2000:
        raise ValueError("The lead time is before the year 2000.")
    if parsed > (now or timezone.now()) + LEAD_TIME_FUTURE_SLACK:
        raise ValueError("The lead time is in the future.")
    return parsed


# --- Importing many leads --------------------------------------------------------------------------

CHUNK_SIZE = 2000
PREVIEW_ROWS = 100  # rows whose outcome a dry run shows one by one
SHOWN_REJECTIONS = 500  # rejected rows kept in memory for the page; all are counted and saved

NEW, DUPLICATE, REUSED, REJECTED = "new", "duplicate", "reused", "rejected"
MAX_LISTED_VENDORS = 200  # new vendor names a dry run lists (a file naming more is surely mis-mapped)


MAX_KEPT_CELL = 2000  # a rejected row's cells are kept this long, to be fixed and imported again


def _kept_row(values: Mapping[str, Any]) -> dict[str, str]:
    """The row as read, storable in any database: PostgreSQL's JSON refuses NUL and lone surrogates."""
    return {name: _truncate(str(values[name]), MAX_KEPT_CELL) for name in FIELDS if values.get(name)}


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
        now = timezone.now()
        certificates, reused, errors = [], set(), []
        for outcome, lead in outcomes:
            if outcome.status == NEW:
                certificates.append(self._certificate(lead, now))
            elif outcome.status == REUSED:
                reused.add(outcome.cert_id)
            elif outcome.status == REJECTED:
                errors += [
                    ImportRowError(
                        batch=batch,
                        line=outcome.line,
                        field=e.field[:64],
                        value=_truncate(e.value),
                        reason=e.reason[:500],
                        row=_kept_row(outcome.values),
                    )
                    for e in outcome.errors
                ]
        Certificate.objects.bulk_create(certificates, batch_size=1000)
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
            batch_id=self.batch.pk,
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
        shown[name] = _truncate(text, 120)
    return shown


def _truncate(value: str, limit: int = MAX_STORED_VALUE) -> str:
    value = value.replace("\x00", "\ufffd")
    if not value.isascii():  # a lone surrogate from JSON cannot be stored or shown
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value if len(value) <= limit else value[: limit - 1] + "…"


# --- Reading CSV files -----------------------------------------------------------------------------

DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
SNIFF_BYTES = 64 * 1024


@dataclass
class CsvReport:
    """A read file: how it was decoded and split, which columns mean what, and what each row does."""

    encoding: str = "utf-8"
    encoding_note: str = ""
    delimiter: str = ","
    columns: ColumnMap | None = None
    blank_lines: int = 0
    continued_lines: int = 0  # lines inside a quoted cell that holds a line break (a notes column, say)
    partial: bool = False  # a large file's dry run: only the first lines were read
    importer: LeadImporter | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def counts(self) -> ImportCounts:
        return self.importer.counts if self.importer else ImportCounts()

    @property
    def lines(self) -> int:
        """The lines read, each one accounted for: header, rows, blank lines and continued cells."""
        header = 1 if self.columns is not None and self.columns.has_header else 0
        return header + self.counts.total + self.blank_lines + self.continued_lines

    @property
    def delimiter_name(self) -> str:
        return DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))


def detect_encoding(path: Path) -> tuple[str, str]:
    """(codec, note): UTF-8 with or without a BOM, else Windows-1252, checked over the whole file."""
    with path.open("rb") as raw:
        bom = raw.read(3) == codecs.BOM_UTF8
        raw.seek(3 if bom else 0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := raw.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            note = (
                f"The file is not valid UTF-8 ({exc.reason}); it was read as Windows-1252 (cp1252). "
                "Check accented names before importing."
            )
            return "cp1252", note
    return ("utf-8-sig", "UTF-8 with a byte-order mark.") if bom else ("utf-8", "UTF-8.")


def sniff_delimiter(sample: str) -> str:
    """The separator of the header line: whichever of , ; tab it holds most (comma on a tie)."""
    first_line = next((line for line in sample.splitlines() if line.strip()), "")
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(
    path: Path,
    *,
    default_vendor: str = "",
    batch: ImportBatch | None = None,
    on_rejected: Callable[[RowOutcome], None] | None = None,
    keep_rejected: int | None = SHOWN_REJECTIONS,
    last_line: int | None = None,
    new_vendors: Iterable[str] | None = None,
) -> CsvReport:
    """Read a CSV file row by row into a LeadImporter: a dry run without a batch, the import with one.

    With `last_line`, no row starting after that line is read, and the report says it is partial.
    Raises OSError when the file cannot be opened; everything wrong inside the file is reported.
    """
    report = CsvReport()
    report.encoding, report.encoding_note = detect_encoding(path)
    importer = LeadImporter(
        batch=batch,
        default_vendor=default_vendor,
        on_rejected=on_rejected,
        keep_rejected=keep_rejected,
        new_vendors=new_vendors,
    )
    report.importer = importer
    with path.open(encoding=report.encoding, errors="replace", newline="") as stream:
        report.delimiter = sniff_delimiter(stream.read(SNIFF_BYTES))
        stream.seek(0)
        for line, cells in _csv_rows(stream, report.delimiter, report, importer, last_line):
            if report.columns is None:
                if looks_like_header(cells):
                    report.columns = ColumnMap.from_header(cells)
                    _note_missing_columns(report, default_vendor)
                    continue
                report.columns = ColumnMap.headerless(min(len(cells), len(HEADERLESS_FIELDS)))
                report.problems.append(
                    "No header row found: the first column is read as the certificate URL"
                    + (", then email, phone and reference." if len(cells) > 1 else ".")
                )
            importer.add(line, report.columns.values(cells))
    importer.finish()
    return report


class _Lines:
    """The file's lines as csv.reader pulls them, remembering which ones the current row came from, so
    that the lines an unclosed quote swallowed can be put back and read again."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._number = 0
        self._replay: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []
        self.at_end = False

    def __iter__(self) -> _Lines:
        return self

    @property
    def next_line(self) -> int:
        return self._replay[0][0] if self._replay else self._number + 1

    def more(self) -> bool:
        """Whether any line is left (read ahead and kept for the next row)."""
        if not self._replay:
            text = self._stream.readline()
            if not text:
                return False
            self._number += 1
            self._replay.append((self._number, text))
        return True

    def __next__(self) -> str:
        if self._replay:
            item = self._replay.popleft()
        else:
            text = self._stream.readline()
            if not text:
                self.at_end = True
                raise StopIteration
            self._number += 1
            item = (self._number, text)
        self.taken.append(item)
        return item[1]

    def take(self) -> list[tuple[int, str]]:
        taken, self.taken = self.taken, []
        return taken

    def replay(self, lines: list[tuple[int, str]]) -> None:
        self._replay.extendleft(reversed(lines))
        self.at_end = False


def _unclosed_quote(lines: list[tuple[int, str]], delimiter: str, *, to_the_end: bool) -> str:
    """Why a row that runs over several lines is a stray quote, or "" when its quotes are balanced.

    A cell may hold a line break when it is quoted and closed (a notes column); a quote that is never
    closed, or closed in the middle of a cell, has swallowed the rows on the lines after it.
    """
    try:
        for _ in csv.reader((text for _, text in lines), delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        first, last = lines[1][0], lines[-1][0]
        swallowed = "every line to the end of the file" if to_the_end else "the lines after it"
        return (
            f'A quote (") opens a cell on this line and is not closed on it, so the cell swallowed '
            f"{swallowed} (lines {first}–{last}). Remove the stray quote or close it; "
            "those lines are read on their own."
        )
    return ""


def _csv_rows(
    stream: IO[str], delimiter: str, report: CsvReport, importer: LeadImporter, last_line: int | None = None
) -> Iterator[tuple[int, list[str]]]:
    """(first line of the row, cells) for each non-blank row; unreadable rows go to the importer.

    Every line ends up counted once: as a row (read or rejected), a blank line, or a line inside a
    properly quoted cell. A stray quote is rejected on its own line and the lines it swallowed are read again.
    """
    lines = _Lines(stream)
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        if last_line is not None and lines.next_line > last_line and lines.more():
            report.partial = True
            return
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            taken = lines.take()
            reason = f"This row cannot be read as CSV: {exc}."
            importer.reject(taken[0][0], [FieldError("", reason, _truncate(taken[0][1].rstrip("\r\n")))])
            lines.replay(taken[1:])
            continue
        taken = lines.take()
        if len(taken) > 1 and (reason := _unclosed_quote(taken, delimiter, to_the_end=lines.at_end)):
            importer.reject(taken[0][0], [FieldError("", reason, _truncate(taken[0][1].rstrip("\r\n")))])
            lines.replay(taken[1:])
            continue
        report.continued_lines += len(taken) - 1
        if not any(cell.strip() for cell in cells):
            report.blank_lines += 1
            continue
        yield taken[0][0], cells


def _note_missing_columns(report: CsvReport, default_vendor: str) -> None:
    missing = report.columns.missing
    if "cert_url" in missing:
        report.problems.append(
            "No certificate URL column: name one trustedform_cert_url, xxTrustedFormCertUrl, cert_url, "
            "certificate_url or trustedform_url. Every row is rejected until then."
        )
    if "vendor" in missing and not default_vendor:
        report.problems.append(
            "No vendor column (vendor, source or vendor_name), and no vendor was chosen for the file: "
            "every row is rejected until you choose one."
        )


DRY_RUN_LINES = 5_000


def dry_run_file(path: Path, *, default_vendor: str = "") -> CsvReport:
    """What importing an upload would do: all of a small file, the first DRY_RUN_LINES lines of a large one.

    A large file is imported by a worker (import_upload); its dry run must not parse the whole file in the
    web request either. The rest of it is checked on import, and its rejected rows are kept with the batch.
    """
    large = path.stat().st_size > inline_import_bytes()
    return read_csv(path, default_vendor=default_vendor, last_line=DRY_RUN_LINES if large else None)


def import_file(
    path: Path,
    *,
    source: str,
    filename: str = "",
    default_vendor: str = "",
    user=None,
    on_rejected: Callable[[RowOutcome], None] | None = None,
    batch: ImportBatch | None = None,
    new_vendors: Iterable[str] | None = None,
) -> tuple[ImportBatch, CsvReport]:
    """Import a CSV file for real: a new batch (or the given one), every good row saved, every bad row recorded.

    Claiming starts in the background once the rows are committed. Raises OSError, before creating
    the batch, when the file cannot be opened.
    """
    with path.open("rb"):
        pass
    if batch is None:
        batch = ImportBatch.objects.create(
            source=source,
            filename=filename[:255],
            created_by=user if user is not None and user.is_authenticated else None,
        )
    report = read_csv(
        path, default_vendor=default_vendor, batch=batch, on_rejected=on_rejected, new_vendors=new_vendors
    )
    ImportBatch.objects.filter(pk=batch.pk).update(still_reading=False)
    batch.refresh_from_db()
    if report.counts.new:
        start_claiming()
    return batch, report


def import_upload(token: str, *, user) -> tuple[ImportBatch, CsvReport | None]:
    """Import a confirmed upload: small files at once, large ones in the background (a task).

    Returns the batch, with the report when it was read at once. Raises UploadNotFound.
    """
    path, meta = stored_upload(token, user_id=user.pk)
    if path.stat().st_size <= inline_import_bytes():
        batch, report = import_file(
            path,
            source=meta["source"],
            filename=meta["filename"],
            default_vendor=meta["vendor"],
            user=user,
            new_vendors=meta.get("new_vendors", []),
        )
        discard_upload(token)
        return batch, report
    # A web request must not read 100,000 rows: the batch page shows progress while a worker reads them.
    batch = ImportBatch.objects.create(
        source=meta["source"], filename=meta["filename"][:255], created_by=user, still_reading=True
    )
    transaction.on_commit(lambda: import_stored_upload.enqueue(batch.pk, token))
    return batch, None


def import_stored_upload_now(batch_id: int, token: str) -> None:
    """The background half of import_upload; idempotent (a finished or vanished upload is left alone)."""
    batch = ImportBatch.objects.filter(pk=batch_id, still_reading=True).select_related("created_by").first()
    if batch is None:
        return
    try:
        path, meta = stored_upload(token, user_id=batch.created_by_id)
    except UploadNotFound:
        ImportBatch.objects.filter(pk=batch.pk).update(still_reading=False)
        return
    import_file(
        path,
        source=batch.source,
        default_vendor=meta["vendor"],
        batch=batch,
        new_vendors=meta.get("new_vendors", []),
    )
    discard_upload(token)


def inline_import_bytes() -> int:
    return getattr(settings, "INTAKE_INLINE_IMPORT_BYTES", 256 * 1024)


def start_claiming() -> None:
    """Wake the worker once the new rows are committed (the rows are the truth; the task only wakes)."""
    # wake_claimer enqueues claim_due_certificates unless one already waits: an API pushing one lead
    # at a time must not pile up thousands of identical tasks.
    transaction.on_commit(wake_claimer)


# --- Uploads waiting for confirmation --------------------------------------------------------------

UPLOAD_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")
UPLOAD_MAX_AGE = timedelta(days=1)


class UploadNotFound(Exception):
    """The upload is gone (already imported, discarded, expired) or belongs to someone else."""


def upload_dir() -> Path:
    return Path(getattr(settings, "INTAKE_UPLOAD_DIR", settings.BASE_DIR / "var" / "uploads"))


def store_upload(
    chunks: Iterable[bytes], *, filename: str, vendor: str, source: str, user_id: int | None
) -> str:
    """Keep an upload on disk until the user confirms the dry run; returns the random key to it."""
    directory = upload_dir()
    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale_uploads(directory)
    token = secrets.token_urlsafe(24)
    with (directory / f"{token}.csv").open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    meta = {"filename": filename, "vendor": vendor, "source": source, "user_id": user_id}
    (directory / f"{token}.json").write_text(json.dumps(meta))
    return token


def stored_upload(token: str, *, user_id: int | None) -> tuple[Path, dict[str, Any]]:
    """The file and its details; raises UploadNotFound unless this user stored it and it is still there."""
    if not UPLOAD_TOKEN.fullmatch(token or ""):
        raise UploadNotFound
    path, meta_path = upload_dir() / f"{token}.csv", upload_dir() / f"{token}.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        raise UploadNotFound from None
    if meta.get("user_id") != user_id or not path.exists():
        raise UploadNotFound
    return path, meta


def confirm_new_vendors(token: str, *, user_id: int | None, names: Iterable[str]) -> None:
    """Record the new vendors a person confirmed for this upload: only these may be created by it."""
    path, meta = stored_upload(token, user_id=user_id)
    meta["new_vendors"] = sorted({n.lower() for n in names})
    (upload_dir() / f"{token}.json").write_text(json.dumps(meta))


def discard_upload(token: str) -> None:
    if UPLOAD_TOKEN.fullmatch(token or ""):
        for suffix in (".csv", ".json"):
            (upload_dir() / f"{token}{suffix}").unlink(missing_ok=True)


def _remove_stale_uploads(directory: Path) -> None:
    cutoff = time.time() - UPLOAD_MAX_AGE.total_seconds()
    for path in directory.glob("*.*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue


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


# --- Intake tokens ---------------------------------------------------------------------------------

TOKEN_PREFIX = "tfi_"
TOKEN_SCOPES = {"leads:write": "Push leads", "leads:read": "Read a lead's state back"}


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def issue_intake_token(*, name: str, scopes: Iterable[str], user=None) -> tuple[IntakeToken, str]:
    """A new token: returns the row and the raw token, which is never stored and shown only once."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = IntakeToken.objects.create(
        name=name,
        prefix=raw[:12],
        token_hash=hash_token(raw),
        scopes=sorted(set(scopes) & TOKEN_SCOPES.keys()),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    return token, raw


def token_for(raw: str) -> IntakeToken | None:
    """The active token with this value, or None (unknown, malformed or revoked)."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = IntakeToken.objects.filter(token_hash=hash_token(raw), revoked_at__isnull=True).first()
    if token is not None:
        now = timezone.now()
        # One write a minute at most: the API may be called hundreds of times a minute.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            IntakeToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def revoke_intake_token(token: IntakeToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


# --- Batches: progress, retry, cancel ---------------------------------------------------------------

RATE_WINDOW = timedelta(minutes=5)
AT_RISK_WITHIN = timedelta(hours=12)


@dataclass(frozen=True)
class BatchProgress:
    counts: dict[str, int]
    total: int
    percent_done: int
    claims_per_minute: float
    eta_seconds: int | None
    next_deadline: datetime | None
    next_deadline_at_risk: bool
    reading: bool = False  # the file is still being read in the background
    rows_read: int = 0

    @property
    def done(self) -> bool:
        return not self.reading and self.counts.get(Certificate.State.PENDING, 0) == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "total": self.total,
            "percent_done": self.percent_done,
            "claims_per_minute": round(self.claims_per_minute, 1),
            "eta_seconds": self.eta_seconds,
            "next_deadline": self.next_deadline.isoformat() if self.next_deadline else None,
            "next_deadline_at_risk": self.next_deadline_at_risk,
            "reading": self.reading,
            "rows_read": self.rows_read,
            "done": self.done,
        }


def batch_progress(batch: ImportBatch, *, now: datetime | None = None) -> BatchProgress:
    """Where the batch's certificates stand: counts by state, pace, and the next deadline (3 queries)."""
    now = now or timezone.now()
    certificates = Certificate.objects.filter(batch=batch)
    by_state = dict(certificates.values_list("state").annotate(n=Count("id")).order_by())
    counts = {state: by_state.get(state, 0) for state in Certificate.State.values}
    total = sum(counts.values())
    pending = counts[Certificate.State.PENDING]
    recent = certificates.filter(claimed_at__gte=now - RATE_WINDOW).aggregate(
        n=Count("id"), first=Min("claimed_at")
    )
    # The pace over the last few minutes, measured from the first claim in them (at least a minute),
    # so a batch that just started is not reported at a fifth of its speed.
    span = max(now - recent["first"], timedelta(minutes=1)) if recent["n"] else RATE_WINDOW
    per_minute = recent["n"] / (span.total_seconds() / 60)
    eta = round(pending / per_minute * 60) if pending and per_minute else (0 if not pending else None)
    next_deadline = certificates.filter(state=Certificate.State.PENDING).aggregate(d=Min("claim_deadline"))[
        "d"
    ]
    return BatchProgress(
        counts=counts,
        total=total,
        percent_done=100 if not total else int((total - pending) * 100 / total),
        claims_per_minute=per_minute,
        eta_seconds=eta,
        next_deadline=next_deadline,
        next_deadline_at_risk=next_deadline is not None and next_deadline <= now + AT_RISK_WITHIN,
        reading=batch.still_reading,
        rows_read=total,
    )


def retry_failed(batch: ImportBatch) -> int:
    """Put the batch's not-claimable certificates back to pending, attempts reset; returns how many."""
    count = Certificate.objects.filter(
        batch=batch, state__in=[Certificate.State.ERROR, Certificate.State.HELD]
    ).update(
        state=Certificate.State.PENDING,
        state_reason="",
        attempts=0,
        last_error="",
        next_attempt_at=timezone.now(),
        lease_owner="",
        lease_expires_at=None,
    )
    if count:
        start_claiming()
    return count


@dataclass(frozen=True)
class Cancellation:
    """What cancelling a batch will do (`preview`) or did: it cancels what is not final and not out."""

    cancellable: int  # pending or on hold, with no request out: cancelled, and never sent afterwards
    in_flight: int  # a request is out right now: its answer decides (claimed ones are kept)


def _cancellable(batch: ImportBatch) -> tuple[Any, Any]:
    """The batch's open certificates, split by whether a request is out for them right now.

    A request is out when the certificate's current lease logged a request that has no answer yet
    (certificates.leasing writes that row before sending). A lease taken but not sent yet is cancellable:
    the sender's fence check finds the certificate cancelled and sends nothing.
    """
    now = timezone.now()
    open_ = Certificate.objects.filter(batch=batch, state__in=OPEN_STATES)
    out = ApiCall.objects.filter(
        certificate=OuterRef("pk"), outcome=ApiCall.Outcome.SENT, fence=OuterRef("lease_fence")
    )
    in_flight = open_.filter(lease_expires_at__gt=now).exclude(lease_owner="").filter(Exists(out))
    return open_.exclude(pk__in=in_flight.values("pk")), in_flight


def preview_cancel(batch: ImportBatch) -> Cancellation:
    cancellable, in_flight = _cancellable(batch)
    return Cancellation(cancellable.count(), in_flight.count())


def cancel_batch(batch: ImportBatch, *, user=None) -> Cancellation:
    """Stop claiming the batch: what is not final and has no request out is cancelled (and never sent
    afterwards); what is out is left to its answer; claimed ones are kept. Undone by `uncancel_batch`."""
    now = timezone.now()
    with transaction.atomic():
        cancellable, in_flight = _cancellable(batch)
        count = cancellable.update(
            state=Certificate.State.CANCELLED, state_reason=f"Cancelled with import batch {batch.pk}."
        )
        batch.cancelled_at = now
        batch.cancelled_by = user if user is not None and user.is_authenticated else None
        batch.save(update_fields=["cancelled_at", "cancelled_by"])
        return Cancellation(count, in_flight.count())


def uncancel_batch(batch: ImportBatch) -> int:
    """Put the batch's cancelled certificates whose window is still open back in the queue."""
    now = timezone.now()
    with transaction.atomic():
        cancelled = Certificate.objects.filter(
            batch=batch, state=Certificate.State.CANCELLED, claim_deadline__gt=now
        )
        held = cancelled.filter(lead_email="", lead_phone="")
        count = 0
        if missing := missing_match_lead("", "", settings.TRUSTEDFORM_API_VERSION):
            count += held.update(state=Certificate.State.HELD, state_reason=missing)
        count += cancelled.update(state=Certificate.State.PENDING, state_reason="", next_attempt_at=now)
        batch.cancelled_at, batch.cancelled_by = None, None
        batch.save(update_fields=["cancelled_at", "cancelled_by"])
    if count:
        start_claiming()
    return count


def uncancellable(batch: ImportBatch) -> int:
    """How many of the batch's cancelled certificates are still within their window."""
    return Certificate.objects.filter(
        batch=batch, state=Certificate.State.CANCELLED, claim_deadline__gt=timezone.now()
    ).count()

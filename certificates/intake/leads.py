"""Intake of one lead: the columns tfdash reads, validating a lead, and turning it into a pending certificate.

Every value is validated here, in one place, so that each intake path (form, CSV, paste, JSON API,
command) reports the same reasons.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from certificates.evidence.holds import join_open_holds
from certificates.exporting import FORMULA_LIKE_NAME, formula_like
from certificates.models import (
    Certificate,
    Vendor,
)
from trustedform import (
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
    join_open_holds(Certificate.objects.filter(pk=certificate.pk))
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

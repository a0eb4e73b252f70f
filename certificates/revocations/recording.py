"""Recording revocations (page, CSV, intake API), honouring them, and finding a person's certificates.

A revocation names a person by phone and/or email, matched to certificates by the normalised values
search uses. Every door goes through `clean_revocation`, so each refuses the same input with the same
words, and `record_revocation`, so each computes the same honour-by date.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from certificates.filters import person_q
from certificates.models import Actor, Certificate, signed_in
from certificates.revocations.deadlines import honour_by
from certificates.revocations.models import Revocation
from trustedform import normalise_email, normalise_phone

CSV_COLUMNS = ("phone", "email", "revoked_at", "channel", "note")
CHANNEL_WORDS = {
    **{value: value for value in Revocation.Channel.values},
    **{label.lower(): value for value, label in Revocation.Channel.choices},
    "stop": Revocation.Channel.TEXT_STOP,
    "text": Revocation.Channel.TEXT_STOP,
    "sms": Revocation.Channel.TEXT_STOP,
    "phone": Revocation.Channel.CALL,
    "web": Revocation.Channel.WEB_FORM,
    "mail": Revocation.Channel.LETTER,
}


@dataclass
class CleanRevocation:
    phone: str
    email: str
    revoked_at: datetime
    channel: str
    note: str


@dataclass
class RowProblem:
    line: int
    field: str
    reason: str
    row: dict[str, str]


def clean_revocation(
    values: dict[str, Any], *, now: datetime | None = None
) -> tuple[CleanRevocation | None, list[tuple[str, str]]]:
    """Check one revocation as any door received it; returns it cleaned, or the (field, reason) pairs."""
    now = now or timezone.now()
    errors: list[tuple[str, str]] = []
    phone = str(values.get("phone") or "").strip()
    email = str(values.get("email") or "").strip()
    if not phone and not email:
        errors.append(("phone", "Give the phone or the email of the person who revoked consent."))
    if phone and len(normalise_phone(phone)) != 10:
        errors.append(("phone", f"“{phone[:40]}” is not a 10-digit US phone number."))
    if email and ("@" not in email or len(email) > 254 or " " in email):
        errors.append(("email", f"“{email[:60]}” is not an email address."))
    revoked_at = _when(values.get("revoked_at"))
    if revoked_at is None:
        errors.append(
            ("revoked_at", "Say when consent was revoked (a date, or a date and time: 2026-11-30 14:05).")
        )
    elif revoked_at > now:
        errors.append(("revoked_at", "The revocation date is in the future."))
    raw_channel = str(values.get("channel") or "").strip().lower().replace("-", "_")
    channel = CHANNEL_WORDS.get(raw_channel) or CHANNEL_WORDS.get(raw_channel.replace("_", " "))
    if channel is None:
        errors.append(
            (
                "channel",
                f"Channel “{raw_channel[:30]}” is not one of: {', '.join(Revocation.Channel.labels)}.",
            )
        )
    note = str(values.get("note") or "").strip()
    if errors:
        return None, errors
    assert revoked_at is not None and channel is not None  # checked above
    return CleanRevocation(phone[:40], email[:254], revoked_at, channel, note[:5000]), []


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, _zone())
    if isinstance(value, date):
        return datetime.combine(value, time(12), tzinfo=_zone())
    text = str(value or "").strip()
    if not text:
        return None
    try:
        found = parse_datetime(text.replace(" ", "T", 1) if len(text) > 10 else text)
        if found is None and (day := parse_date(text)):
            return datetime.combine(day, time(12), tzinfo=_zone())
    except ValueError:
        return None
    if found is None:
        return None
    return found if timezone.is_aware(found) else found.replace(tzinfo=_zone())


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def record_revocation(clean: CleanRevocation, *, user: Actor, source: str) -> tuple[Revocation, bool]:
    """Store a checked revocation with its honour-by date (counted from the team's local date); the same
    revocation sent again (a double submit, an API retry, a file uploaded twice) is found, not doubled."""
    received = timezone.localtime(clean.revoked_at, _zone()).date()
    same = {
        "phone_normalised": normalise_phone(clean.phone),
        "email_normalised": normalise_email(clean.email),
        "revoked_at": clean.revoked_at,
        "channel": clean.channel,
    }
    if existing := Revocation.objects.filter(**same).first():
        return existing, False
    revocation = Revocation(
        phone=clean.phone,
        email=clean.email,
        **same,
        note=clean.note,
        source=source,
        recorded_by=signed_in(user),
        honour_by=honour_by(received),
    )
    revocation._history_user = signed_in(user)  # type: ignore[attr-defined]  # simple_history's hook
    revocation.save()
    return revocation, True


def honour(revocation: Revocation, *, user: Actor) -> Revocation:
    """Mark a revocation honoured (the dialer and every list suppress the person), once."""
    if revocation.state == Revocation.State.HONOURED:
        raise ValueError(f"This revocation was already honoured on {revocation.honoured_at:%b %-d, %Y}.")
    revocation.state, revocation.honoured_by, revocation.honoured_at = (
        Revocation.State.HONOURED,
        signed_in(user),
        timezone.now(),
    )
    revocation._history_user = signed_in(user)  # type: ignore[attr-defined]  # simple_history's hook
    revocation.save()
    return revocation


# --- CSV -----------------------------------------------------------------------------------------------


@dataclass
class RevocationFile:
    """A read revocation CSV: the rows that are good, and every other row with its line and reason."""

    good: list[tuple[int, CleanRevocation]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    recorded: int = 0
    already: int = 0  # rows already on record (the same file uploaded again)
    recorded_now: bool = False

    @property
    def rows(self) -> int:
        return len(self.good) + len({p.line for p in self.problems})


def read_revocation_csv(text: str) -> RevocationFile:
    """Read `phone,email,revoked_at,channel,note` (a header row is required; order and case free)."""
    result = RevocationFile()
    reader = csv.reader(StringIO(text, newline=""))
    header: list[str] | None = None
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = [c.strip().lower().lstrip("\ufeff") for c in cells]
            result.missing_columns = [c for c in ("revoked_at", "channel") if c not in header]
            if "phone" not in header and "email" not in header:
                result.missing_columns.append("phone or email")
            if result.missing_columns:
                return result
            continue
        values = dict(zip(header, cells, strict=False))
        row = {k: values.get(k, "") for k in CSV_COLUMNS}
        if len(cells) != len(header):
            result.problems.append(
                RowProblem(line, "row", f"{len(cells)} cells where the header has {len(header)}.", row)
            )
            continue
        clean, errors = clean_revocation(values)
        if clean is None:
            result.problems += [RowProblem(line, name, reason, row) for name, reason in errors]
        else:
            result.good.append((line, clean))
    if header is None:
        result.missing_columns = list(CSV_COLUMNS[:4])
    return result


def import_revocations(read: RevocationFile, *, user: Actor) -> RevocationFile:
    """Record every good row of a read file (all or none: a crash leaves nothing half-recorded)."""
    with transaction.atomic():
        for _line, clean in read.good:
            _, created = record_revocation(clean, user=user, source=Revocation.Source.CSV)
            read.recorded += created
            read.already += not created
    return read


# --- Finding a person -------------------------------------------------------------------------------


def revocations_of(phone_normalised: str, email_normalised: str) -> QuerySet[Revocation]:
    """A person's revocations: by their phone or their email."""
    return Revocation.objects.filter(person_q(phone_normalised, email_normalised))


def revocations_for(certificate: Certificate) -> QuerySet[Revocation]:
    return revocations_of(certificate.phone_normalised, certificate.email_normalised)


def due_soon(days: int = 3) -> dict[str, int]:
    """Open revocations overdue, and due within `days` days, for the home page."""
    today = timezone.localdate()
    open_ = Revocation.objects.filter(state=Revocation.State.OPEN)
    return {
        "open": open_.count(),
        "overdue": open_.filter(honour_by__lt=today).count(),
        "due_soon": open_.filter(honour_by__gte=today, honour_by__lte=today + timedelta(days=days)).count(),
    }


def suppression_rows() -> Iterator[list[str]]:
    """The suppression list for the dialer: each phone and email with a revocation, once, with the date
    of its first revocation."""
    seen: set[tuple[str, str]] = set()
    yield ["type", "value", "first_revoked_on"]
    for r in Revocation.objects.order_by("revoked_at", "id").iterator(chunk_size=2000):
        for kind, value in (("phone", r.phone_normalised), ("email", r.email_normalised)):
            if value and (kind, value) not in seen:
                seen.add((kind, value))
                yield [kind, value, f"{timezone.localtime(r.revoked_at):%Y-%m-%d}"]

"""Generate N realistic certificates (and their claim answers) for demos, load tests and benchmarks.

No TrustedForm call is made; the claim answers are synthetic. Run it on a quiet database: it assigns
primary keys itself (see `insert_rows`).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from certificates.models import CLAIM_WINDOW, Certificate, Claim, Vendor
from trustedform import V4

GENERATED_VENDOR = "Generated vendor {:03d}"
REASONS_FAILURE = [
    "Fingerprint mismatch: the lead's email does not match the consumer's",
    "Required consent language not found on the page",
    "Forbidden text found on the page",
]
STATE_REASONS = {
    Certificate.State.EXPIRED: "TrustedForm: The certificate has expired or could not be found",
    Certificate.State.ERROR: "TrustedForm: The certificate has been claimed too many times",
    Certificate.State.CANCELLED: "Cancelled with its import batch",
}


class Command(BaseCommand):
    help = "Create N synthetic certificates across vendors, with a realistic mix of states and claims."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int, help="how many certificates to create")
        parser.add_argument("--vendors", type=int, default=200, help="spread them over this many vendors")
        parser.add_argument("--batch", type=int, default=20_000, help="rows per transaction")
        parser.add_argument("--days", type=int, default=30, help="received over the last N days")
        parser.add_argument("--seed", type=int, default=None, help="for a repeatable data set")
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help="keep the list indexes while loading (by default they are rebuilt once at the end "
            "for 100,000 or more rows: building an index once is far quicker than updating it per row)",
        )

    def handle(self, *args, count: int, **options) -> str:
        started = time.monotonic()
        deferred = [] if options["keep_indexes"] or count < 100_000 else list(Certificate._meta.indexes)
        if deferred:
            with connection.schema_editor() as editor:
                for index in deferred:
                    editor.remove_index(Certificate, index)
        try:
            vendors = self.generate(count, **options)
        finally:
            if deferred:
                self.stdout.write(f"Rebuilding {len(deferred)} indexes…")
                with connection.schema_editor() as editor:
                    for index in deferred:
                        editor.add_index(Certificate, index)
        return f"Created {count:,} certificates over {vendors} vendors in {time.monotonic() - started:.0f} s."

    def generate(
        self, count: int, *, vendors: int, batch: int, days: int, seed: int | None, **options
    ) -> int:
        rng = random.Random(seed)
        vendor_ids = ensure_vendors(vendors)
        started = time.monotonic()
        now = timezone.now()
        if connection.vendor == "sqlite":
            # A bigger page cache keeps the unique cert_id index (random keys) from thrashing the disk.
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size = -262144")
        next_cert = (Certificate.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
        next_claim = (Claim.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
        made = 0
        while made < count:
            size = min(batch, count - made)
            certificates = [fake_certificate(rng, made + i, vendor_ids, now, days) for i in range(size)]
            for i, row in enumerate(certificates):
                row["id"] = next_cert + i
            claims = [
                fake_claim(rng, row) for row in certificates if row["state"] == Certificate.State.CLAIMED
            ]
            for i, row in enumerate(claims):
                row["id"] = next_claim + i
            with transaction.atomic():
                insert_rows(Certificate, certificates)
                insert_rows(Claim, claims)
            next_cert += size
            next_claim += len(claims)
            made += size
            self.stdout.write(f"{made:,} / {count:,} certificates ({time.monotonic() - started:.0f} s)")
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Certificate, Claim]):
                cursor.execute(sql)
        return len(vendor_ids)


def insert_rows(model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    """INSERT many rows with one executemany (COPY on PostgreSQL), values prepared by each field for this
    database.

    Why not bulk_create: measured here, it spends ~1.5 ms per certificate compiling SQL value by value
    (a million rows would take half an hour); executemany with prepared tuples takes a tenth of that.
    Columns not given get the field's default, so a new field with a default needs no change here.
    Primary keys are given explicitly (so claims can point at their certificates without a read back);
    the caller resets the sequences afterwards.
    """
    if not rows:
        return
    fields = list(model._meta.concrete_fields)
    prepare: list[Callable[[Any], Any]] = [_preparer(f) for f in fields]
    defaults = {f.attname: f.get_default() for f in fields}
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 (names from the model, values as params)
        quote(model._meta.db_table),
        ", ".join(quote(str(f.column)) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    names = [f.attname for f in fields]
    params: Iterable[tuple] = (
        tuple(p(row[n] if n in row else defaults[n]) for n, p in zip(names, prepare, strict=True))
        for row in rows
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: PostgreSQL's bulk load, several times faster than any INSERT for a million rows.
            copy_sql = "COPY {} ({}) FROM STDIN".format(
                quote(model._meta.db_table), ", ".join(quote(str(f.column)) for f in fields)
            )
            with cursor.cursor.copy(copy_sql) as copy:
                for values in params:
                    copy.write_row(values)
            return
        cursor.executemany(sql, list(params))


def _preparer(field: models.Field) -> Callable[[Any], Any]:
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.JSONField):
        return lambda value: field.get_db_prep_save(value, connection)
    return lambda value: value


def ensure_vendors(n: int) -> list[int]:
    names = [GENERATED_VENDOR.format(i + 1) for i in range(n)]
    Vendor.objects.bulk_create([Vendor(name=name) for name in names], ignore_conflicts=True)
    return list(Vendor.objects.filter(name__in=names).values_list("pk", flat=True))


def fake_certificate(rng: random.Random, n: int, vendor_ids: list[int], now: datetime, days: int) -> dict:
    """One certificate row: about 35 % of recent ones pending, the rest mostly claimed, some failed."""
    received = now - timedelta(seconds=rng.uniform(0, days * 86400))
    lead_created = received - timedelta(seconds=rng.uniform(5, 900))
    deadline = lead_created + CLAIM_WINDOW
    roll = rng.random()
    if deadline > now and roll < 0.35:
        state = Certificate.State.PENDING
    elif roll < 0.90:
        state = Certificate.State.CLAIMED
    elif roll < 0.95:
        state = Certificate.State.EXPIRED
    elif roll < 0.98:
        state = Certificate.State.ERROR
    else:
        state = Certificate.State.CANCELLED
    cert_id = os.urandom(20).hex()
    email = f"lead{n}.{rng.randrange(10**6)}@example.com"
    phone = f"{rng.randrange(201, 989)}{rng.randrange(200, 999)}{rng.randrange(10_000):04d}"
    row: dict[str, Any] = {
        "cert_id": cert_id,
        "cert_url": f"https://cert.trustedform.com/{cert_id}",
        "cert_type": "web",
        "vendor_id": rng.choice(vendor_ids),
        "batch_id": None,
        "reference": f"REF-{n:08d}",
        "lead_email": email,
        "lead_phone": phone,
        "email_normalised": email,
        "phone_normalised": phone,
        "received_at": received,
        "lead_created_at": lead_created,
        "claim_deadline": deadline,
        "next_attempt_at": received,
        "state": state,
        "state_reason": STATE_REASONS.get(state, ""),
        "outcome": "",
        "outcome_reason": "",
        "fingerprint_result": "",
        "scan_success": None,
        "is_masked": None,
        "bot_detected": None,
        "reused": rng.random() < 0.01,
        "review_status": "",
        "claimed_at": None,
        "checked_in_at": None,
        "retained_until": None,
        "attempts": 0,
        "lease_expires_at": None,
    }
    if state == Certificate.State.CLAIMED:
        claimed = received + timedelta(seconds=rng.uniform(2, 600))
        failure = rng.random() < 0.15
        row.update(
            attempts=1,
            claimed_at=claimed,
            retained_until=claimed + timedelta(days=1095),
            outcome=Certificate.Outcome.FAILURE if failure else Certificate.Outcome.SUCCESS,
            outcome_reason=rng.choice(REASONS_FAILURE) if failure else "",
            fingerprint_result=rng.choice(["none", "some"])
            if failure
            else rng.choices(["all", "some", "no_data"], [85, 10, 5])[0],
            scan_success=rng.choices([True, False, None], [70, 5 + 30 * failure, 25])[0],
            is_masked=rng.random() < 0.03,
            bot_detected=rng.random() < 0.02,
        )
    elif state in (Certificate.State.EXPIRED, Certificate.State.ERROR):
        row["attempts"] = rng.randint(1, 4)
    if (
        row["outcome"] == Certificate.Outcome.FAILURE
        or row["bot_detected"]
        or row["is_masked"]
        or row["reused"]
    ):
        row["review_status"] = Certificate.ReviewStatus.OPEN
    return row


def fake_claim(rng: random.Random, cert: dict) -> dict:
    """The claim answer behind a claimed certificate row."""
    matched = cert["fingerprint_result"] == "all"
    return {
        "certificate_id": cert["id"],
        "api_call_id": None,
        "claimed_by_id": None,
        "created_at": cert["claimed_at"],
        "api_version": V4,
        "outcome": cert["outcome"],
        "reason": cert["outcome_reason"],
        "email_matched": matched or cert["fingerprint_result"] == "some",
        "phone_matched": matched,
        "fingerprint_result": cert["fingerprint_result"],
        "fingerprints": {},
        "scan_success": cert["scan_success"],
        "scans": {
            "required_found": ["I agree"],
            "required_not_found": [],
            "forbidden_found": [],
            "forbidden_not_found": [],
        }
        if cert["scan_success"]
        else {},
        "warnings": [],
        "masked_cert_url": "",
        "is_masked": cert["is_masked"],
        "expires_at": cert["retained_until"],
        "previously_retained": False,
        "insights": {
            "bot_detected": cert["bot_detected"],
            "browser": rng.choice(["Chrome 131", "Safari 18", "Firefox 133", "Edge 131"]),
            "os": rng.choice(["Windows 11", "macOS 15", "iOS 18", "Android 15"]),
            "seconds_on_page": rng.randint(8, 600),
        },
        "verify": {},
        "raw_response": {},
    }

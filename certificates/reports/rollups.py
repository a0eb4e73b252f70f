"""Per-vendor, per-day rollups of the certificate table, so reports never scan it (docs/architecture.md).

Database triggers (migration 0007) mark every (vendor, day) bucket whose certificates or claims change,
whatever wrote them: save(), bulk_create() or QuerySet.update(). `refresh_dirty()` recounts exactly the
marked buckets from the certificate rows, one GROUP BY per day restricted to the day's received_at range
and the marked vendors, and `rebuild()` (manage.py rebuild_rollups) recounts everything.

The day of a certificate is the UTC date of its received_at, the same for SQLite's date() and
PostgreSQL's `AT TIME ZONE 'UTC'` in the triggers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q
from django.db.models.fields.json import KT
from django.utils import timezone

from certificates import counters
from certificates.models import Certificate, Claim, RollupDirty, VendorDayRollup

State, Outcome = Certificate.State, Certificate.Outcome

# What each counter counts (certificates/counters.py, where their list links live too).
COUNTERS: dict[str, Q] = {counter.name: counter.query for counter in counters.COUNTERS}
# Read from each claimed certificate's latest claim (its page scans), not from a certificate column.
CLAIM_COUNTERS = ("scan_required_missing", "scan_forbidden_found")
COUNT_FIELDS = (*COUNTERS, *CLAIM_COUNTERS)
JSON_FIELDS = ("lead_age_histogram", "time_on_page_histogram", "domains", "failure_reasons")
TOP_DOMAINS_PER_DAY = 20
NO_REASON = "(no reason given)"


def histogram_bin(seconds: float) -> int:
    """The lower edge of the bin holding `seconds`: finer for short times, where the differences matter.

    5 s under a minute, 30 s under 10 minutes, 5 minutes under an hour, an hour under a day, then days.
    """
    s = max(int(seconds), 0)
    for limit, width in ((60, 5), (600, 30), (3600, 300), (86400, 3600)):
        if s < limit:
            return s - s % width
    return s - s % 86400


def histogram_median(histogram: dict[str, int]) -> int | None:
    """The bin (lower edge, seconds) that holds the median of a histogram, or None when it is empty."""
    total = sum(histogram.values())
    if not total:
        return None
    seen = 0
    for edge in sorted(histogram, key=int):
        seen += histogram[edge]
        if seen * 2 >= total:
            return int(edge)
    return None  # unreachable: the loop ends on the last bin


def merge_counts(target: Counter, source: dict[str, int]) -> Counter:
    for key, n in source.items():
        target[key] += n
    return target


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def recount(day: date, vendor_ids: Collection[int] | None = None) -> list[VendorDayRollup]:
    """Count one day's certificates per vendor (all vendors, or only these) from the rows themselves."""
    start, end = day_bounds(day)
    certificates = Certificate.objects.filter(received_at__gte=start, received_at__lt=end)
    if vendor_ids is not None:
        certificates = certificates.filter(vendor_id__in=list(vendor_ids))
    aggregates = {name: Count("id", filter=q) if q else Count("id") for name, q in COUNTERS.items()}
    now = timezone.now()
    rollups = {
        row["vendor_id"]: VendorDayRollup(day=day, computed_at=now, **row)
        for row in certificates.order_by().values("vendor_id").annotate(**aggregates)
    }
    if not rollups:
        return []
    reasons = (
        certificates.filter(outcome__in=[Outcome.FAILURE, Outcome.ERROR])
        .order_by()
        .values_list("vendor_id", "outcome_reason")
        .annotate(n=Count("id"))
    )
    for vendor_id, reason, n in reasons:
        reasons_of = rollups[vendor_id].failure_reasons
        reasons_of[reason or NO_REASON] = reasons_of.get(reason or NO_REASON, 0) + n
    _add_claim_data(rollups, certificates.filter(state=State.CLAIMED))
    return list(rollups.values())


def _add_claim_data(rollups: dict[int, VendorDayRollup], claimed) -> None:
    """Histograms, domains and scan details from each claimed certificate's latest claim."""
    latest: dict[int, tuple] = {}
    rows = (
        Claim.objects.filter(certificate__in=claimed.values("id"))
        .order_by("certificate_id", "id")
        .values_list(
            "certificate__vendor_id",
            "certificate_id",
            KT("insights__age_seconds"),
            KT("insights__seconds_on_page"),
            KT("insights__domain"),
            KT("scans__required_not_found"),
            KT("scans__forbidden_found"),
        )
    )
    for row in rows:
        latest[row[1]] = row  # ordered by id: the last one seen is the latest claim
    ages: dict[int, Counter] = defaultdict(Counter)
    on_page: dict[int, Counter] = defaultdict(Counter)
    domains: dict[int, Counter] = defaultdict(Counter)
    for vendor_id, _, age, seconds, domain, missing, forbidden in latest.values():
        rollup = rollups[vendor_id]
        if (age_seconds := _number(age)) is not None:
            ages[vendor_id][str(histogram_bin(age_seconds))] += 1
        if (page_seconds := _number(seconds)) is not None:
            on_page[vendor_id][str(histogram_bin(page_seconds))] += 1
        if domain:
            domains[vendor_id][str(domain).lower()] += 1
        rollup.scan_required_missing += _non_empty(missing)
        rollup.scan_forbidden_found += _non_empty(forbidden)
    for vendor_id, rollup in rollups.items():
        rollup.lead_age_histogram = dict(ages[vendor_id])
        rollup.time_on_page_histogram = dict(on_page[vendor_id])
        top = sorted(domains[vendor_id].items(), key=lambda item: (-item[1], item[0]))
        rollup.domains = dict(top[:TOP_DOMAINS_PER_DAY])


def _number(value: Any) -> float | None:
    # JSON values come back as numbers on SQLite and as text on PostgreSQL (->>).
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _non_empty(json_list: Any) -> int:
    return int(json_list not in (None, "", "[]", []))


def _store(day: date, vendor_ids: Collection[int] | None, rollups: Iterable[VendorDayRollup]) -> None:
    stale = VendorDayRollup.objects.filter(day=day)
    if vendor_ids is not None:
        stale = stale.filter(vendor_id__in=list(vendor_ids))
    stale.delete()
    VendorDayRollup.objects.bulk_create(rollups, batch_size=500)


def refresh_dirty() -> int:
    """Recount the buckets the triggers marked, and only those; returns how many were recounted.

    The marks are deleted first, in the same transaction as the recount, and only the marks this
    transaction saw: a write committed meanwhile brings its own mark (RollupDirty.tx), which stays for the
    next refresh. On SQLite the DELETE takes the write lock (IMMEDIATE transactions), so writers wait.
    """
    if not RollupDirty.objects.exists():  # a read: most page views find nothing to do
        return 0
    table = connection.ops.quote_name(RollupDirty._meta.db_table)
    buckets: dict[date, set[int]] = defaultdict(set)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} RETURNING vendor_id, day")  # noqa: S608 (a model's table)
            for vendor_id, day in cursor.fetchall():
                buckets[day if isinstance(day, date) else date.fromisoformat(day)].add(vendor_id)
        for day, vendor_ids in sorted(buckets.items()):
            _store(day, vendor_ids, recount(day, vendor_ids))
    return sum(len(v) for v in buckets.values())


def rebuild() -> int:
    """Recount every day from scratch; returns how many (vendor, day) rollups there are now."""
    made = 0
    with transaction.atomic():
        RollupDirty.objects.all().delete()
        VendorDayRollup.objects.all().delete()
        span = Certificate.objects.aggregate(first=Min("received_at"), last=Max("received_at"))
        if span["first"] is None:
            return 0
        day, last = span["first"].astimezone(UTC).date(), span["last"].astimezone(UTC).date()
        while day <= last:
            rollups = recount(day)
            VendorDayRollup.objects.bulk_create(rollups, batch_size=500)
            made += len(rollups)
            day += timedelta(days=1)
    return made


def snapshot(rollups: Iterable[VendorDayRollup]) -> dict[tuple[int, date], dict[str, Any]]:
    """Rollups as comparable values, keyed by (vendor id, day): what tests compare with a recount."""
    return {
        (r.vendor_id, r.day): {name: getattr(r, name) for name in (*COUNT_FIELDS, *JSON_FIELDS)}
        for r in rollups
    }

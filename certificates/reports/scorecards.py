"""Vendor scorecards: how each vendor's certificates fared over a period, read from the daily rollups.

Nothing here scans the certificate table per page view (docs/architecture.md): a period is a sum over
VendorDayRollup rows (at most vendors × days), and every count links to the certificate list filtered to
exactly the certificates it counts (certificates/filters.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from certificates import counters
from certificates.models import Actor, Certificate, ReportThreshold, Vendor, VendorDayRollup, signed_in
from certificates.reports import rollups

Metric = ReportThreshold.Metric


@dataclass(frozen=True)
class MetricRule:
    """A rate in percent: numerator / denominator counters, and which way is bad."""

    label: str
    numerator: str
    denominator: tuple[str, ...]
    higher_is_worse: bool

    def value(self, counts: dict[str, int]) -> float | None:
        total = sum(counts[name] for name in self.denominator)
        return 100 * counts[self.numerator] / total if total else None


METRICS: dict[str, MetricRule] = {
    Metric.FAILURE_RATE: MetricRule("Failure rate", "failure", ("claimed",), True),
    Metric.EXPIRED_RATE: MetricRule("Expired before claim", "expired", ("received",), True),
    Metric.MATCH_RATE: MetricRule(
        "Fingerprint match rate",
        "fingerprint_all",
        ("fingerprint_all", "fingerprint_some", "fingerprint_none"),
        False,
    ),
    Metric.SCAN_PASS_RATE: MetricRule("Scan pass rate", "scan_passed", ("scan_passed", "scan_failed"), False),
    Metric.MASKED_RATE: MetricRule("Masked", "masked", ("claimed",), True),
    Metric.BOT_RATE: MetricRule("Bot detected", "bot", ("claimed",), True),
    Metric.REUSED_RATE: MetricRule("Reused", "reused", ("received",), True),
    Metric.REJECTION_RATE: MetricRule("Review rejections", "rejected", ("claimed",), True),
}

RED, AMBER = "red", "amber"
LEVEL_RANK = {RED: 2, AMBER: 1, None: 0}
TOP_DOMAINS = 3
JUMP_POINTS = 10.0  # a vendor's failure rate up this many points week on week "jumped"
JUMP_MIN_CLAIMED = 20


# --- Periods --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole UTC days from `start` to `end`, both included."""

    start: date
    end: date
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(self) -> dict[str, str]:
        return {"period": "custom", "start": self.start.isoformat(), "end": self.end.isoformat()}


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def period_for(kind: str, anchor: date) -> Period:
    """The day, ISO week (Monday first) or calendar month holding `anchor`."""
    if kind == "day":
        return Period(anchor, anchor, f"{anchor:%a %b %-d, %Y}")
    if kind == "week":
        start = anchor - timedelta(days=anchor.weekday())
        end = start + timedelta(days=6)
        return Period(start, end, f"week of {start:%b %-d, %Y}")
    start = anchor.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return Period(start, end, f"{start:%B %Y}")


def custom_period(start: date, end: date) -> Period:
    return Period(start, end, f"{start:%b %-d, %Y} – {end:%b %-d, %Y}")


def last_days(n: int, now: date | None = None) -> Period:
    end = now or today()
    return Period(end - timedelta(days=n - 1), end, f"last {n} days")


def quick_periods(now: date | None = None) -> list[tuple[str, dict[str, str]]]:
    """Common periods as (label, query) for one-click links."""
    now = now or today()
    last_month = now.replace(day=1) - timedelta(days=1)
    return [
        ("Today", {"period": "day", "day": now.isoformat()}),
        ("Yesterday", {"period": "day", "day": (now - timedelta(days=1)).isoformat()}),
        ("This week", {"period": "week", "day": now.isoformat()}),
        ("Last week", {"period": "week", "day": (now - timedelta(days=7)).isoformat()}),
        ("This month", {"period": "month", "day": now.isoformat()}),
        ("Last month", {"period": "month", "day": last_month.isoformat()}),
        (
            "Last 30 days",
            {"period": "custom", "start": (now - timedelta(days=29)).isoformat(), "end": now.isoformat()},
        ),
    ]


# --- Adding up rollups ----------------------------------------------------------------------------

VALUE_FIELDS = ("vendor_id", "day", *rollups.COUNT_FIELDS, *rollups.JSON_FIELDS)


@dataclass
class Totals:
    """One vendor's rollups added up over some days."""

    counts: Counter
    lead_age: Counter
    time_on_page: Counter
    domains: Counter
    failure_reasons: Counter

    @classmethod
    def empty(cls) -> Totals:
        return cls(Counter(), Counter(), Counter(), Counter(), Counter())

    def add(self, row: dict[str, Any]) -> None:
        for name in rollups.COUNT_FIELDS:
            self.counts[name] += row[name]
        for field, counter in self.json_counters().items():
            rollups.merge_counts(counter, row.get(field) or {})

    def json_counters(self) -> dict[str, Counter]:
        return {
            "lead_age_histogram": self.lead_age,
            "time_on_page_histogram": self.time_on_page,
            "domains": self.domains,
            "failure_reasons": self.failure_reasons,
        }


def rollup_rows(
    start: date, end: date, vendor: Vendor | None = None, *, with_json: bool = True, fresh: bool = True
) -> Iterable[dict[str, Any]]:
    """The rollups of these days, freshened first (bounded by what the triggers marked) unless `fresh`
    is False: the scheduler reads them as they are, since a refresh waits on a worker's recount."""
    if fresh:
        rollups.refresh_dirty()
    rows = VendorDayRollup.objects.filter(day__gte=start, day__lte=end)
    if vendor is not None:
        rows = rows.filter(vendor=vendor)
    fields = VALUE_FIELDS if with_json else ("vendor_id", "day", *rollups.COUNT_FIELDS)
    return rows.order_by().values(*fields)


# The JSON counts a whole period needs, summed by the database: json_each / jsonb_each_text unpack each
# day's {key: count} in C, where decoding thousands of small JSON documents in Python was most of the
# report's time (bench/vendor_report.py).
SUMMED_JSON = ("lead_age_histogram", "time_on_page_histogram", "domains")
JSON_SUM_SQL = {
    "sqlite": "SELECT r.vendor_id, '{field}', j.key, SUM(j.value) FROM {table} r, json_each(r.{field}) j "
    "WHERE r.day >= %s AND r.day <= %s GROUP BY r.vendor_id, j.key",
    "postgresql": "SELECT r.vendor_id, '{field}', j.key, SUM(j.value::bigint) FROM {table} r "
    "CROSS JOIN LATERAL jsonb_each_text(r.{field}) j "
    "WHERE r.day >= %s AND r.day <= %s GROUP BY r.vendor_id, j.key",
}


def period_totals(start: date, end: date) -> dict[int, Totals]:
    """Every vendor's totals over these days: two queries over the rollups, whatever the period."""
    rollups.refresh_dirty()
    rows = VendorDayRollup.objects.filter(day__gte=start, day__lte=end).order_by()
    totals: dict[int, Totals] = {}
    sums: dict[str, Any] = {n: Sum(n) for n in rollups.COUNT_FIELDS}
    for summed in rows.values("vendor_id").annotate(**sums):
        row: dict[str, Any] = dict(summed)
        totals[row["vendor_id"]] = Totals.empty()
        totals[row["vendor_id"]].counts.update({n: row[n] for n in rollups.COUNT_FIELDS})
    sql = JSON_SUM_SQL[connection.vendor]
    table = connection.ops.quote_name(VendorDayRollup._meta.db_table)
    query = " UNION ALL ".join(sql.format(field=f, table=table) for f in SUMMED_JSON)
    with connection.cursor() as cursor:
        cursor.execute(query, [start, end] * len(SUMMED_JSON))  # noqa: S608 (names from the model)
        for vendor_id, field, key, n in cursor.fetchall():
            totals[vendor_id].json_counters()[field][key] = int(n)
    return totals


def totals_by_vendor(rows: Iterable[dict[str, Any]]) -> dict[int, Totals]:
    totals: dict[int, Totals] = defaultdict(Totals.empty)
    for row in rows:
        totals[row["vendor_id"]].add(row)
    return totals


def thresholds() -> dict[str, ReportThreshold]:
    return {t.metric: t for t in ReportThreshold.objects.all()}


def save_thresholds(limits: Iterable[dict[str, Any]], *, user: Actor) -> int:
    """Store each metric's limits ({metric, amber, red, min_received}); returns how many changed."""
    saved = thresholds()
    changed = 0
    for limit in limits:
        values = {k: limit[k] for k in ("amber", "red", "min_received")}
        current = saved.get(limit["metric"])
        if current is not None and all(getattr(current, k) == v for k, v in values.items()):
            continue
        ReportThreshold.objects.update_or_create(
            metric=limit["metric"],
            defaults={**values, "updated_by": signed_in(user), "updated_at": timezone.now()},
        )
        changed += 1
    return changed


def level(metric: str, value: float | None, threshold: ReportThreshold | None, received: int) -> str | None:
    """red, amber or None: how far past the manager's limits this value is."""
    if value is None or threshold is None or received < threshold.min_received:
        return None
    worse = value.__gt__ if METRICS[metric].higher_is_worse else value.__lt__
    if threshold.red is not None and worse(threshold.red):
        return RED
    if threshold.amber is not None and worse(threshold.amber):
        return AMBER
    return None


def list_links(vendor_id: int | None, start: date, end: date) -> dict[str, str]:
    """For each counter with a list filter, the certificate list showing exactly the certificates it counts."""
    base = f"{reverse('certificates:list')}?" + urlencode(
        {
            **({"vendor": vendor_id} if vendor_id is not None else {}),
            "received_after": start.isoformat(),
            "received_before": end.isoformat(),
        }
    )
    return {
        counter.name: base + (f"&{urlencode(counter.list_filter)}" if counter.list_filter else "")
        for counter in counters.COUNTERS
    }


def vendor_row(
    vendor_id: int, name: str, totals: Totals, period: Period, limits: dict[str, ReportThreshold]
) -> dict[str, Any]:
    counts = totals.counts
    row: dict[str, Any] = {
        "vendor_id": vendor_id,
        "vendor": name,
        **{n: counts[n] for n in rollups.COUNT_FIELDS},
    }
    row["links"] = list_links(vendor_id, period.start, period.end)
    row["flags"] = {}
    for metric, rule in METRICS.items():
        row[metric] = rule.value(counts)
        flag = level(metric, row[metric], limits.get(metric), counts["received"])
        if flag:
            row["flags"][metric] = flag
    row["flag_labels"] = [(METRICS[m].label, f) for m, f in row["flags"].items()]
    row["flag_rank"] = max((LEVEL_RANK[f] for f in row["flags"].values()), default=0)
    row["lead_age"] = rollups.histogram_median(totals.lead_age)
    row["time_on_page"] = rollups.histogram_median(totals.time_on_page)
    row["top_domains"] = sorted(totals.domains.items(), key=lambda item: (-item[1], item[0]))[:TOP_DOMAINS]
    return row


def vendor_report(period: Period) -> list[dict[str, Any]]:
    """One row per vendor that received certificates in the period."""
    totals = period_totals(period.start, period.end)
    names = dict(Vendor.objects.filter(pk__in=list(totals)).values_list("pk", "name"))
    limits = thresholds()
    return [
        vendor_row(vendor_id, names.get(vendor_id, f"vendor {vendor_id}"), t, period, limits)
        for vendor_id, t in totals.items()
    ]


# --- One vendor over time -------------------------------------------------------------------------

SINCE_LOOKBACK = timedelta(days=365)


@dataclass(frozen=True)
class Breach:
    metric: str
    label: str
    level: str
    value: float
    limit: float
    higher_is_worse: bool
    since: date | None


def since(daily: list[dict[str, Any]], metric: str, flag: str, threshold: ReportThreshold) -> date | None:
    """The first day of the current run of days past the limit (days without data neither break nor extend it)."""
    limit = threshold.red if flag == RED else threshold.amber
    if limit is None:  # a flag is only raised past a limit that is set
        return None
    rule = METRICS[metric]
    first = None
    for row in sorted(daily, key=lambda r: r["day"], reverse=True):
        value = rule.value(Counter({n: row[n] for n in rollups.COUNT_FIELDS}))
        if value is None:
            continue
        if not (value > limit if rule.higher_is_worse else value < limit):
            break
        first = row["day"]
    return first


@dataclass
class VendorTrend:
    vendor: Vendor
    period: Period
    row: dict[str, Any]
    days: list[dict[str, Any]]  # one per day of the period, zeros where nothing arrived
    failure_reasons: list[tuple[str, int]]
    breaches: list[Breach]
    worst: list[Certificate]


def vendor_trend(vendor: Vendor, period: Period, *, worst: int = 10) -> VendorTrend:
    history = list(rollup_rows(min(period.start, period.end - SINCE_LOOKBACK), period.end, vendor))
    in_period = [r for r in history if period.start <= r["day"] <= period.end]
    totals = totals_by_vendor(in_period).get(vendor.pk, Totals.empty())
    limits = thresholds()
    row = vendor_row(vendor.pk, vendor.name, totals, period, limits)
    by_day = {r["day"]: r for r in in_period}
    days = []
    for offset in range(period.days):
        day = period.start + timedelta(days=offset)
        counts = {n: by_day[day][n] if day in by_day else 0 for n in rollups.COUNT_FIELDS}
        match = METRICS[Metric.MATCH_RATE].value(Counter(counts))
        days.append({"day": day, **counts, "match_rate": match})
    breaches = [
        Breach(
            metric=metric,
            label=METRICS[metric].label,
            level=flag,
            value=row[metric],
            limit=limits[metric].red if flag == RED else limits[metric].amber,  # type: ignore[arg-type]  # set: it raised the flag
            higher_is_worse=METRICS[metric].higher_is_worse,
            since=since(history, metric, flag, limits[metric]),
        )
        for metric, flag in row["flags"].items()
    ]
    return VendorTrend(
        vendor=vendor,
        period=period,
        row=row,
        days=days,
        failure_reasons=totals.failure_reasons.most_common(8),
        breaches=sorted(breaches, key=lambda b: -LEVEL_RANK[b.level]),
        worst=worst_recent(vendor, period, worst),
    )


def worst_recent(vendor: Vendor, period: Period, limit: int) -> list[Certificate]:
    """The period's latest certificates with a failed check (by the vendor + received index)."""
    start = datetime.combine(period.start, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(period.end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return list(
        Certificate.objects.filter(vendor=vendor, received_at__gte=start, received_at__lt=end)
        .with_failed_checks()
        .order_by("-received_at", "-id")[:limit]
    )


# --- The home page's cards ------------------------------------------------------------------------


def home_summary(now: datetime | None = None) -> dict[str, Any]:
    """What the home page shows about claims and vendors: a handful of queries, none over the big table
    except the at-risk count, which reads the (state, claim_deadline) index."""
    now = now or timezone.now()
    day = now.astimezone(UTC).date()
    this_week = Period(day - timedelta(days=6), day, "last 7 days")
    last_week = Period(day - timedelta(days=13), day - timedelta(days=7), "the 7 days before")
    rows = list(rollup_rows(last_week.start, day, with_json=False))
    this = totals_by_vendor(r for r in rows if r["day"] >= this_week.start)
    before = totals_by_vendor(r for r in rows if r["day"] < this_week.start)
    limits = thresholds()
    today_totals = totals_by_vendor(r for r in rows if r["day"] == day)
    today_counts = sum((t.counts for t in today_totals.values()), Counter())
    names = dict(Vendor.objects.filter(pk__in=list(this)).values_list("pk", "name"))

    failure = METRICS[Metric.FAILURE_RATE]
    jumped: list[dict[str, Any]] = []
    past: list[dict[str, Any]] = []
    for vendor_id, totals in this.items():
        name = names.get(vendor_id, f"vendor {vendor_id}")
        rate = failure.value(totals.counts)
        earlier = failure.value(before[vendor_id].counts) if vendor_id in before else None
        if (
            rate is not None
            and earlier is not None
            and totals.counts["claimed"] >= JUMP_MIN_CLAIMED
            and rate - earlier >= JUMP_POINTS
        ):
            jumped.append({"vendor_id": vendor_id, "vendor": name, "rate": rate, "before": earlier})
        row = vendor_row(vendor_id, name, totals, this_week, limits)
        if row["flags"]:
            past.append(row)
    today_links = list_links(None, day, day)
    return {
        # The same rule as the list's at_risk filter (pending or on hold, overdue ones included).
        "at_risk": Certificate.objects.at_risk(timedelta(hours=12), now=now).count(),
        "at_risk_url": f"{reverse('certificates:list')}?at_risk=yes",
        "today": {n: today_counts[n] for n in ("received", "claimed", "success", "failure", "outcome_error")},
        "today_links": today_links,
        "failure_rate_this_week": failure.value(sum((t.counts for t in this.values()), Counter())),
        "failure_rate_last_week": failure.value(sum((t.counts for t in before.values()), Counter())),
        "jumped": sorted(jumped, key=lambda j: j["before"] - j["rate"])[:5],
        "past_thresholds": sorted(past, key=lambda r: (-r["flag_rank"], r["vendor"].lower()))[:5],
        "past_thresholds_count": len(past),
        "week_query": urlencode(this_week.query()),
    }


@dataclass(frozen=True)
class RedFlag:
    vendor_id: int
    vendor: str
    metric: str
    label: str
    value: float
    limit: float
    since: date | None  # the first day of the current run past the limit


def vendors_past_red(now: datetime | None = None) -> list[RedFlag]:
    """Each vendor and metric past its red limit over the last 7 days (the home page's card)."""
    now = now or timezone.now()
    day = now.astimezone(UTC).date()
    week = Period(day - timedelta(days=6), day, "last 7 days")
    totals = totals_by_vendor(rollup_rows(week.start, day, with_json=False, fresh=False))
    limits = thresholds()
    names = dict(Vendor.objects.filter(pk__in=list(totals)).values_list("pk", "name"))
    flags = []
    for vendor_id, vendor_totals in totals.items():
        row = vendor_row(vendor_id, names.get(vendor_id, f"vendor {vendor_id}"), vendor_totals, week, limits)
        for metric, flag in row["flags"].items():
            red = limits[metric].red
            if flag == RED and red is not None:
                history = list(
                    rollup_rows(day - SINCE_LOOKBACK, day, Vendor(pk=vendor_id), with_json=False, fresh=False)
                )
                began = since(history, metric, RED, limits[metric])
                label = METRICS[metric].label
                flags.append(RedFlag(vendor_id, row["vendor"], metric, label, row[metric], red, began))
    return flags


def daily_digest(day: date) -> dict[str, Any]:
    """What the team hears about one UTC day each morning: received, claimed, failed, at risk, expired,
    and the vendors that failed most."""
    rows = list(rollup_rows(day, day, with_json=False, fresh=False))
    counts = sum((t.counts for t in totals_by_vendor(rows).values()), Counter())
    failing = Counter({r["vendor_id"]: r["failure"] for r in rows if r["failure"]})
    names = dict(Vendor.objects.filter(pk__in=list(failing)).values_list("pk", "name"))
    lists = list_links(None, day, day)
    report = reverse("reports:vendors") + f"?period=day&day={day.isoformat()}"
    top = [
        (names.get(v, f"vendor {v}"), n, reverse("reports:vendor", args=[v]))
        for v, n in failing.most_common(3)
    ]
    return {
        "day": day.isoformat(),
        **{n: counts[n] for n in ("received", "claimed", "failure", "expired")},
        "at_risk": Certificate.objects.at_risk(timedelta(hours=12)).count(),
        "top_failing": [(name, n) for name, n, _ in top],
        # Where each figure comes from, to open from the email: the day's report and lists, each vendor.
        "links": [
            ("The day's vendor report", report),
            ("Received that day", lists["received"]),
            ("Failed that day", lists["failure"]),
            ("Expired that day", lists["expired"]),
            ("At risk now", reverse("certificates:list") + "?at_risk=yes"),
            *((f"{name}: its report", path) for name, _, path in top),
        ],
    }

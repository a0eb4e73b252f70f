"""The vendor report's table: one row per vendor, each count a link to exactly its certificates.

Rows are dicts computed from the rollups (certificates.reports), at most a few hundred, so django-tables2
sorts them in Python; nothing here touches the certificate table. Grouped cells (outcomes, fingerprints)
show several links at once on the page; the exports get one plain column per count instead.
"""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.forms.utils import flatatt
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from certificates.reports.scorecards import METRICS
from certificates.templatetags.tfdash_format import duration

FLAG_SYMBOL = {"red": "▲▲", "amber": "▲"}


def count_link(record: dict[str, Any], name: str) -> str:
    value = record[name]
    url = record["links"].get(name)
    if not value or url is None:
        return format_html('<span class="{}">{}</span>', "muted" if not value else "", f"{value:,}")
    return format_html('<a href="{}" data-count="{}">{}</a>', url, name, f"{value:,}")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def duration_or_dash(seconds: int | None) -> str:
    return "—" if seconds is None else duration(seconds)


def flagged_rate(record: dict[str, Any], metric: str) -> str:
    flag = record["flags"].get(metric)
    text = percent(record[metric])
    if not flag:
        return text
    rule = METRICS[metric]
    return format_html(
        '<span class="flag flag-{}" title="{}: past the {} limit">{} <span aria-hidden="true">{}</span>'
        '<span class="visually-hidden"> ({})</span></span>',
        flag,
        rule.label,
        flag,
        text,
        FLAG_SYMBOL[flag],
        flag,
    )


class RateColumn(tables.Column):
    """A percentage that sorts by its number (None last) and shows the vendor's flag for it."""

    def __init__(self, metric: str, **kwargs) -> None:
        self.metric = metric
        kwargs.setdefault("verbose_name", METRICS[metric].label)
        kwargs.setdefault("attrs", {"td": {"class": "num"}, "th": {"class": "num"}})
        super().__init__(accessor=metric, empty_values=(), **kwargs)

    def render(self, record: dict[str, Any]) -> str:
        return flagged_rate(record, self.metric)

    def value(self, record: dict[str, Any]) -> str:
        value = record[self.metric]
        return "" if value is None else f"{value:.2f}"


class CountColumn(tables.Column):
    def __init__(self, name: str, verbose_name: str, **kwargs) -> None:
        self.count_name = name
        kwargs.setdefault("attrs", {"td": {"class": "num"}, "th": {"class": "num"}})
        super().__init__(accessor=name, verbose_name=verbose_name, **kwargs)

    def render(self, record: dict[str, Any]) -> str:
        return count_link(record, self.count_name)

    def value(self, record: dict[str, Any]) -> int:
        return record[self.count_name]


def _export_only(name: str, label: str) -> tables.Column:
    return tables.Column(accessor=name, verbose_name=label, visible=False)


class VendorReportTable(tables.Table):
    vendor = tables.Column(verbose_name="Vendor", order_by=("vendor",), attrs={"td": {"class": "vendor"}})
    received = CountColumn("received", "Received")
    claimed = CountColumn("claimed", "Claimed")
    outcomes = tables.Column(
        verbose_name="Success · failure · error", empty_values=(), orderable=False, exclude_from_export=True
    )
    failure_rate = RateColumn("failure_rate")
    expired = CountColumn("expired", "Expired before claim")
    not_claimable = CountColumn("not_claimable", "Not claimable")
    held = CountColumn("held", "On hold")
    cancelled = CountColumn("cancelled", "Cancelled")
    checked_in = tables.Column(
        verbose_name="Checked in", attrs={"td": {"class": "num"}, "th": {"class": "num"}}
    )
    fingerprints = tables.Column(
        verbose_name="Fingerprints all · some · none · no data",
        empty_values=(),
        orderable=False,
        exclude_from_export=True,
    )
    match_rate = RateColumn("match_rate", verbose_name="Match rate")
    scan_pass_rate = RateColumn("scan_pass_rate", verbose_name="Scan pass")
    masked_rate = RateColumn("masked_rate", verbose_name="Masked")
    bot_rate = RateColumn("bot_rate", verbose_name="Bot")
    reused = CountColumn("reused", "Reused")
    medians = tables.Column(
        verbose_name="Median lead age · time on page",
        accessor="lead_age",
        order_by=("lead_age",),
        empty_values=(),
        exclude_from_export=True,
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
    )
    rejected = CountColumn("rejected", "Rejected in review")

    # Plain columns for CSV/XLSX only: the page shows these in the grouped cells above (top domains
    # under the vendor's name).
    top_domains = tables.Column(verbose_name="Top domains", visible=False, empty_values=())
    lead_age = tables.Column(verbose_name="Median lead age at claim (s)", visible=False)
    time_on_page = tables.Column(verbose_name="Median time on page (s)", visible=False)
    success = _export_only("success", "Success")
    failure = _export_only("failure", "Failure")
    outcome_error = _export_only("outcome_error", "Outcome error")
    fingerprint_all = _export_only("fingerprint_all", "Fingerprints all")
    fingerprint_some = _export_only("fingerprint_some", "Fingerprints some")
    fingerprint_none = _export_only("fingerprint_none", "Fingerprints none")
    fingerprint_no_data = _export_only("fingerprint_no_data", "Fingerprints no data")
    scan_passed = _export_only("scan_passed", "Scans passed")
    scan_failed = _export_only("scan_failed", "Scans failed")
    scan_required_missing = _export_only("scan_required_missing", "Scans with required text missing")
    scan_forbidden_found = _export_only("scan_forbidden_found", "Scans with forbidden text found")
    masked = _export_only("masked", "Masked")
    bot = _export_only("bot", "Bot detected")
    expired_rate = _export_only("expired_rate", "Expired before claim %")
    reused_rate = _export_only("reused_rate", "Reused %")
    rejection_rate = _export_only("rejection_rate", "Review rejections %")

    class Meta:
        template_name = "reports/_vendor_table.html"
        order_by = ("-received",)
        attrs = {"class": "table table-report"}
        empty_text = "No certificates were received in this period."

    def __init__(self, *args, period_query: str = "", **kwargs) -> None:
        self.period_query = period_query
        super().__init__(*args, **kwargs)

    def body_rows(self) -> list[str]:
        """Each sorted row's cells as HTML, by the same render code as the columns.

        Why not django-tables2's own cell loop: it costs ~0.1 ms per cell in template and accessor
        machinery, most of the page's time for 200 vendors × 16 columns (bench/vendor_report.py).
        """
        cells = []
        for column in self.columns:
            td = column.attrs.get("td", {})
            cells.append(
                (flatatt({k: v for k, v in td.items() if isinstance(v, str)}), self._cell(column.name))
            )
        return [
            format_html_join("", "<td{}>{}</td>", ((attrs, render(row.record)) for attrs, render in cells))
            for row in self.rows
        ]

    def _cell(self, name: str):
        column = self.base_columns[name]
        if isinstance(column, CountColumn):
            return lambda record: count_link(record, column.count_name)
        if isinstance(column, RateColumn):
            return lambda record: flagged_rate(record, column.metric)
        return getattr(self, f"render_{name}")

    def render_vendor(self, record: dict[str, Any]) -> str:
        url = reverse("reports:vendor", args=[record["vendor_id"]])
        flag = max(record["flags"].values(), key=lambda f: f == "red", default=None)
        badge = (
            format_html(
                ' <span class="flag-badge flag-{}">{} {}</span>',
                flag,
                FLAG_SYMBOL[flag],
                "red" if flag == "red" else "amber",
            )
            if flag
            else ""
        )
        domains = (
            format_html(
                '<span class="domains" title="Top domains">{}</span>',
                ", ".join(f"{domain} ({n})" for domain, n in record["top_domains"]),
            )
            if record["top_domains"]
            else ""
        )
        return format_html(
            '<a href="{}?{}">{}</a>{}{}', url, self.period_query, record["vendor"], badge, domains
        )

    def value_vendor(self, record: dict[str, Any]) -> str:
        return record["vendor"]

    def render_outcomes(self, record: dict[str, Any]) -> str:
        return format_html(
            '<span class="triple">{}<span class="sep"> · </span>{}<span class="sep"> · </span>{}</span>',
            count_link(record, "success"),
            count_link(record, "failure"),
            count_link(record, "outcome_error"),
        )

    def render_fingerprints(self, record: dict[str, Any]) -> str:
        return format_html_join(
            mark_safe('<span class="sep"> · </span>'),
            "{}",
            (
                (count_link(record, n),)
                for n in ("fingerprint_all", "fingerprint_some", "fingerprint_none", "fingerprint_no_data")
            ),
        )

    def render_checked_in(self, record: dict[str, Any]) -> str:
        return count_link(record, "checked_in")

    def render_medians(self, record: dict[str, Any]) -> str:
        return format_html(
            '{}<span class="sep"> · </span>{}',
            duration_or_dash(record["lead_age"]),
            duration_or_dash(record["time_on_page"]),
        )

    def value_top_domains(self, record: dict[str, Any]) -> str:
        return "; ".join(f"{domain} ({n})" for domain, n in record["top_domains"])

    def value_lead_age(self, value: int | None) -> str:
        return "" if value is None else str(value)

    def value_time_on_page(self, value: int | None) -> str:
        return "" if value is None else str(value)

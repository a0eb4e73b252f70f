"""Vendor reports: the scorecard of every vendor, one vendor over time, and the managers' thresholds."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django_tables2 import RequestConfig

from certificates.exporting import SafeTableExport
from certificates.models import Vendor
from certificates.reports import charts, scorecards
from certificates.reports.forms import PeriodForm, threshold_formset
from certificates.reports.tables import VendorReportTable

REPORT_PERMISSION = "certificates.view_vendordayrollup"


@permission_required(REPORT_PERMISSION, raise_exception=True)
def vendor_report(request: HttpRequest) -> HttpResponse:
    form = PeriodForm(request.GET or None)
    period = form.get_period()
    query = urlencode(period.query())
    table = VendorReportTable(scorecards.vendor_report(period), period_query=query)
    RequestConfig(request, paginate=False).configure(table)
    export_format = request.GET.get("_export")
    if SafeTableExport.is_valid_format(export_format):
        if not request.user.has_perm("certificates.export_certificate"):
            raise PermissionDenied("Exporting reports needs the export permission.")
        name = f"vendor-report-{period.start}-{period.end}.{export_format}"
        return SafeTableExport(export_format, table).response(filename=name)
    ctx = {
        "page": "reports",
        "form": form,
        "period": period,
        "quick_periods": [(label, urlencode(q)) for label, q in scorecards.quick_periods()],
        "table": table,
        "flagged": sum(1 for row in table.data.data if row["flags"]),
    }
    return render(request, "reports/vendor_report.html", ctx)


@permission_required(REPORT_PERMISSION, raise_exception=True)
def vendor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = get_object_or_404(Vendor.objects.select_related("scan_assignment__profile"), pk=pk)
    form = PeriodForm(request.GET or None, default="custom")
    period = form.get_period() if request.GET else scorecards.last_days(30)
    trend = scorecards.vendor_trend(vendor, period)
    ctx = {
        "page": "reports",
        "vendor": vendor,
        "form": form,
        "period": period,
        "query": urlencode(period.query()),
        "trend": trend,
        "scan_profile": getattr(getattr(vendor, "scan_assignment", None), "profile", None),
        "charts": vendor_charts(trend),
    }
    return render(request, "reports/vendor_detail.html", ctx)


def vendor_charts(trend: scorecards.VendorTrend) -> dict:
    days = [d["day"] for d in trend.days]
    outcomes = [
        charts.Series("Success", [d["success"] for d in trend.days]),
        charts.Series("Failure", [d["failure"] for d in trend.days]),
        charts.Series("Error", [d["outcome_error"] for d in trend.days]),
    ]
    match_limits = []
    if trend.row and (limit := scorecards.thresholds().get(scorecards.Metric.MATCH_RATE)):
        match_limits = [
            charts.Limit(level.capitalize(), value, level)
            for level, value in (("amber", limit.amber), ("red", limit.red))
            if value is not None
        ]
    name = trend.vendor.name
    return {
        "outcomes": charts.stacked_bars(
            days,
            outcomes,
            title=f"Claims per day by outcome, {name}, {trend.period.label}",
            desc="Stacked bars, one per day received: success (solid), failure (hatched), error (dotted). "
            "The table below gives the numbers.",
        ),
        "reasons": charts.labelled_bars(
            trend.failure_reasons,
            title=f"Why claims failed, {name}, {trend.period.label}",
            desc="TrustedForm's reasons for failures and errors, most frequent first, each with its count.",
        ),
        "match": charts.rate_line(
            days,
            [d["match_rate"] for d in trend.days],
            title=f"Fingerprint match rate per day, {name}, {trend.period.label}",
            desc="Percent of claimed certificates with fingerprint data whose email and phone all matched; "
            "gaps are days without such certificates. Dashed lines mark the amber and red limits.",
            limits=match_limits,
        ),
    }


@permission_required("certificates.view_reportthreshold", raise_exception=True)
def thresholds(request: HttpRequest) -> HttpResponse:
    formset = threshold_formset(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not request.user.has_perm("certificates.change_reportthreshold"):
            raise PermissionDenied("Changing thresholds needs the manager role.")
        if formset.is_valid():
            changed = scorecards.save_thresholds((f.cleaned_data for f in formset.forms), user=request.user)
            messages.success(request, f"Saved: {changed} limit{'' if changed == 1 else 's'} changed.")
            return redirect("reports:thresholds")
    ctx = {
        "page": "reports",
        "formset": formset,
        "can_change": request.user.has_perm("certificates.change_reportthreshold"),
    }
    return render(request, "reports/thresholds.html", ctx, status=400 if formset.is_bound else 200)

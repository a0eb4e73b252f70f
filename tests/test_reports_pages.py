"""The vendor report, the vendor page, the thresholds page and the home cards, through the test client."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from certificates import claiming, counters, reviewing
from certificates.models import Certificate, ReportThreshold, VendorDayRollup
from certificates.reports import rollups, scorecards
from tests.factories import make_certificate, make_user, make_vendor
from tests.test_reports_rollups import claim_result
from trustedform import TrustedFormError

pytestmark = pytest.mark.django_db

REPORT = reverse("reports:vendors")


def received(certificate: Certificate, when: datetime) -> Certificate:
    Certificate.objects.filter(pk=certificate.pk).update(received_at=when)
    certificate.refresh_from_db()
    return certificate


def claimed(
    vendor, when: datetime, outcome: str = "success", fingerprints: str = "all", **kwargs
) -> Certificate:
    certificate = received(make_certificate(vendor=vendor), when)
    result = claim_result(
        outcome,
        fingerprints,
        kwargs.get("scan", "passed"),
        kwargs.get("flags", 0),
        kwargs.get("age", 90),
        kwargs.get("on_page", 40),
    )
    claiming.apply_claim_result(certificate, result, trigger="test")
    return certificate


@pytest.fixture
def mixed_month():
    """Two vendors' certificates over two days of last month, one of each kind that the report counts."""
    first = date.today().replace(day=1) - timedelta(days=1)
    day1 = datetime(first.year, first.month, 3, 10, tzinfo=UTC)
    day2 = day1 + timedelta(days=1, hours=5)
    good, bad = make_vendor("Good Leads"), make_vendor("Bad Leads")
    for when in (day1, day2):
        claimed(good, when)
        claimed(good, when, fingerprints="some", scan="missing")
    analyst = make_user("analyst")
    claimed(bad, day1, outcome="failure", fingerprints="none", flags=3, scan="forbidden")
    failure = claimed(bad, day2, outcome="failure", fingerprints="no_data", flags=2)
    reviewing.review_certificate(failure, reviewer=analyst, decision="rejected", note="bot")
    claimed(bad, day2, outcome="error", fingerprints="no_data")
    expired = received(make_certificate(vendor=bad), day1)
    claiming.apply_claim_error(expired, TrustedFormError("gone", status=404), trigger="test")
    checked = received(make_certificate(vendor=bad), day2)
    Certificate.objects.filter(pk=checked.pk).update(checked_in_at=timezone.now(), reused=True)
    # Outside the period: must not be counted.
    received(make_certificate(vendor=bad), day1 - timedelta(days=40))
    return {"good": good, "bad": bad, "period": scorecards.period_for("month", first)}


def test_each_count_links_to_a_list_of_exactly_that_many_certificates(client, mixed_month):
    client.force_login(make_user("viewer"))
    period = mixed_month["period"]

    response = client.get(REPORT, {"period": "month", "day": period.start.isoformat()})

    rows = {row["vendor"]: row for row in response.context["table"].data.data}
    assert set(rows) == {"Good Leads", "Bad Leads"}
    checked = 0
    for row in rows.values():
        for counter, url in row["links"].items():
            listed = client.get(url)
            assert listed.status_code == 200
            shown = list(listed.context["table"].page.object_list)
            assert len(shown) == row[counter], (row["vendor"], counter, url)
            checked += 1
    assert checked == 2 * len(counters.COUNTERS)
    assert rows["Bad Leads"]["received"] == 5
    assert rows["Bad Leads"]["failure"] == 2
    assert rows["Bad Leads"]["outcome_error"] == 1
    assert rows["Bad Leads"]["expired"] == 1
    assert rows["Bad Leads"]["checked_in"] == 1
    assert rows["Bad Leads"]["rejected"] == 1
    assert rows["Bad Leads"]["scan_forbidden_found"] == 1
    assert rows["Good Leads"]["scan_required_missing"] == 2
    assert rows["Good Leads"]["match_rate"] == 50.0
    assert rows["Good Leads"]["top_domains"] == [("site0.example", 4)]
    html = response.content.decode()
    assert f'href="{rows["Bad Leads"]["links"]["failure"].replace("&", "&amp;")}"' in html


def test_the_report_reads_rollups_with_a_bounded_number_of_queries(client, django_assert_max_num_queries):
    start = datetime.now(UTC).replace(day=1, hour=1)
    for v in range(12):
        vendor = make_vendor(f"Bounded {v}")
        for d in range(3):
            claimed(vendor, start + timedelta(days=d), outcome="failure" if v % 3 else "success")
    client.force_login(make_user("viewer"))
    client.get(REPORT)  # first view refreshes the rollups the intake marked
    assert VendorDayRollup.objects.count() == 36

    with django_assert_max_num_queries(12):
        response = client.get(REPORT, {"sort": "-failure_rate"})
    assert len(response.context["table"].rows) == 12


def test_sorting_by_failure_rate_puts_the_worst_vendor_first(client, mixed_month):
    client.force_login(make_user("viewer"))
    query = {"period": "month", "day": mixed_month["period"].start.isoformat()}

    worst_first = client.get(REPORT, {**query, "sort": "-failure_rate"}).context["table"]
    best_first = client.get(REPORT, {**query, "sort": "failure_rate"}).context["table"]

    assert [r.record["vendor"] for r in worst_first.rows] == ["Bad Leads", "Good Leads"]
    assert [r.record["vendor"] for r in best_first.rows] == ["Good Leads", "Bad Leads"]


def test_a_vendor_past_a_threshold_is_flagged_with_the_day_it_started(client, mixed_month):
    ReportThreshold.objects.update_or_create(
        metric="failure_rate", defaults={"amber": 10, "red": 50, "min_received": 1}
    )
    client.force_login(make_user("viewer"))
    period = mixed_month["period"]
    query = {"period": "month", "day": period.start.isoformat()}

    rows = {r["vendor"]: r for r in client.get(REPORT, query).context["table"].data.data}
    assert rows["Bad Leads"]["flags"]["failure_rate"] == "red"
    assert "failure_rate" not in rows["Good Leads"]["flags"]

    page = client.get(reverse("reports:vendor", args=[mixed_month["bad"].pk]), query)
    assert page.status_code == 200
    breach = next(b for b in page.context["trend"].breaches if b.metric == "failure_rate")
    assert breach.since == date(period.start.year, period.start.month, 3)
    assert 'data-testid="since-failure_rate"' in page.content.decode()


def test_since_is_the_first_day_of_the_current_run_past_the_limit():
    threshold = ReportThreshold(metric="failure_rate", amber=10, red=50)
    base = {n: 0 for n in rollups.COUNT_FIELDS}
    days = [
        {**base, "day": date(2026, 1, 1), "claimed": 10, "failure": 9},  # past, but the run broke after it
        {**base, "day": date(2026, 1, 2), "claimed": 10, "failure": 0},
        {**base, "day": date(2026, 1, 3), "claimed": 10, "failure": 6},
        {**base, "day": date(2026, 1, 4)},  # no claims: neither breaks nor extends the run
        {**base, "day": date(2026, 1, 5), "claimed": 4, "failure": 3},
    ]
    assert scorecards.since(days, "failure_rate", "red", threshold) == date(2026, 1, 3)
    assert scorecards.since(days[:2], "failure_rate", "red", threshold) is None


def test_the_vendor_page_draws_accessible_charts_with_their_numbers(client, mixed_month):
    client.force_login(make_user("viewer"))
    query = {"period": "month", "day": mixed_month["period"].start.isoformat()}

    page = client.get(reverse("reports:vendor", args=[mixed_month["bad"].pk]), query)

    html = page.content.decode()
    assert html.count('<svg class="chart"') == 3
    assert "<title id=" in html and "<desc id=" in html
    assert "Claims per day by outcome, Bad Leads" in html
    assert "failure reason 0" in html or "failure reason 1" in html  # the reasons chart and its table
    assert 'class="pat-ok"' in html and 'class="pat-bad"' in html  # series colours: the stylesheet's classes
    assert not re.search(r'(fill|stroke)="#', html)  # no colour written into the markup
    worst = page.context["trend"].worst
    assert {c.outcome for c in worst} >= {"failure"}
    assert all(c.get_absolute_url() in html for c in worst)


def test_viewers_read_reports_but_only_managers_export_and_change_thresholds(client, mixed_month):
    query = {"period": "month", "day": mixed_month["period"].start.isoformat()}
    client.force_login(make_user("viewer"))
    assert client.get(REPORT, {**query, "_export": "csv"}).status_code == 403
    assert client.get(reverse("reports:thresholds")).status_code == 200
    post = threshold_post(failure_rate=("5", "15", "10"))
    assert client.post(reverse("reports:thresholds"), post).status_code == 403

    client.force_login(make_user("manager"))
    response = client.get(REPORT, {**query, "_export": "csv"})
    assert response.status_code == 200
    exported = {row["Vendor"]: row for row in csv.DictReader(io.StringIO(response.content.decode()))}
    assert exported["Bad Leads"]["Failure"] == "2"
    assert exported["Bad Leads"]["Scans with forbidden text found"] == "1"
    assert client.get(REPORT, {**query, "_export": "xlsx"})["Content-Type"].startswith("application/vnd")

    assert client.post(reverse("reports:thresholds"), post).status_code == 302
    saved = ReportThreshold.objects.get(metric="failure_rate")
    assert (saved.amber, saved.red, saved.min_received) == (5, 15, 10)


def test_a_red_limit_on_the_good_side_of_amber_is_refused(client):
    client.force_login(make_user("manager"))
    response = client.post(reverse("reports:thresholds"), threshold_post(match_rate=("90", "95", "20")))
    assert response.status_code == 400
    assert "Red must be past amber" in response.content.decode()


def threshold_post(**limits: tuple[str, str, str]) -> dict[str, str]:
    data = {
        "form-TOTAL_FORMS": str(len(scorecards.METRICS)),
        "form-INITIAL_FORMS": str(len(scorecards.METRICS)),
    }
    for i, metric in enumerate(scorecards.METRICS):
        amber, red, minimum = limits.get(metric, ("", "", "20"))
        data |= {f"form-{i}-metric": metric, f"form-{i}-amber": amber, f"form-{i}-red": red}
        data[f"form-{i}-min_received"] = minimum
    return data


# At noon: "an hour ago" must be today (UTC), whatever time the suite runs.
@time_machine.travel(datetime(2026, 7, 15, 12, 0, tzinfo=UTC), tick=True)
def test_the_home_summary_compares_this_week_with_last_and_names_vendors(client):
    now = timezone.now()
    jumpy, steady = make_vendor("Jumpy"), make_vendor("Steady")
    for i in range(20):
        claimed(jumpy, now - timedelta(days=8), outcome="success")
        claimed(jumpy, now - timedelta(hours=1), outcome="failure" if i < 10 else "success")
        claimed(steady, now - timedelta(hours=2), outcome="success")
    at_risk = make_certificate(vendor=steady)
    Certificate.objects.filter(pk=at_risk.pk).update(claim_deadline=now + timedelta(hours=3))
    ReportThreshold.objects.update_or_create(metric="failure_rate", defaults={"amber": 10, "red": 30})

    summary = scorecards.home_summary()

    assert summary["at_risk"] == 1
    assert summary["today"]["failure"] == 10 and summary["today"]["success"] == 30
    assert summary["failure_rate_this_week"] == pytest.approx(25.0)
    assert summary["failure_rate_last_week"] == 0
    assert [j["vendor"] for j in summary["jumped"]] == ["Jumpy"]
    assert [(r["vendor"], r["flags"]) for r in summary["past_thresholds"]] == [
        ("Jumpy", {"failure_rate": "red"})
    ]
    client.force_login(make_user("viewer"))
    listed = client.get(summary["today_links"]["failure"])
    assert len(listed.context["table"].page.object_list) == 10
    html = render_to_string("reports/_home_cards.html", {"summary": summary})
    assert "Jumpy" in html and "▲▲ Failure rate: red" in html


def test_a_bad_custom_range_falls_back_to_the_default_period_and_says_so(client):
    client.force_login(make_user("viewer"))
    response = client.get(REPORT, {"period": "custom", "start": "2026-02-10", "end": "2026-02-01"})
    assert response.status_code == 200
    assert "From must be on or before To." in response.content.decode()
    assert response.context["period"] == scorecards.period_for("month", scorecards.today())


def test_moving_certificates_between_days_moves_them_in_the_report(client):
    vendor = make_vendor()
    certificate = make_certificate(vendor=vendor)
    client.force_login(make_user("viewer"))
    today = scorecards.today()
    assert client.get(REPORT, {"period": "day", "day": today}).context["table"].data.data[0]["received"] == 1

    Certificate.objects.filter(pk=certificate.pk).update(received_at=F("received_at") - timedelta(days=1))

    assert client.get(REPORT, {"period": "day", "day": today}).context["table"].data.data == []
    yesterday = client.get(REPORT, {"period": "day", "day": today - timedelta(days=1)})
    assert yesterday.context["table"].data.data[0]["received"] == 1

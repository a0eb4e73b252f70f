"""In a real browser: last month's vendor report, sorted by failure rate, down to the certificates behind a
count, and the worst vendor's page with its charts."""

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from certificates.models import ReportThreshold
from tests.factories import PASSWORD, make_user, make_vendor
from tests.test_reports_pages import claimed

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: SCREENSHOT_DIR to keep them, else the test's temp dir."""
    path = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    path.mkdir(parents=True, exist_ok=True)
    return path


def last_month_of_leads() -> None:
    """Three vendors over 20 days of last month; Shady Leads fails more and more, with unmatched fingerprints."""
    end = date.today().replace(day=1) - timedelta(days=1)
    first = datetime(end.year, end.month, 1, 9, tzinfo=UTC)
    vendors = {name: make_vendor(name) for name in ("Shady Leads", "Acme Leads", "Bright Leads")}
    for day in range(20):
        when = first + timedelta(days=day)
        for i in range(4):
            claimed(vendors["Acme Leads"], when + timedelta(minutes=i), age=60 + 30 * i, on_page=20 + i)
            claimed(
                vendors["Bright Leads"], when + timedelta(minutes=i), fingerprints="some" if i == 0 else "all"
            )
        shady_failures = 1 + day // 5
        for i in range(5):
            failing = i < shady_failures
            claimed(
                vendors["Shady Leads"],
                when + timedelta(minutes=i),
                outcome="failure" if failing else "success",
                fingerprints="none" if failing else "all",
                scan="missing" if failing and i % 2 else "passed",
                flags=3 if day % 7 == 0 and i == 0 else 0,
                age=400 + 200 * i,
                on_page=5 + i,
            )
    ReportThreshold.objects.update_or_create(
        metric="failure_rate", defaults={"amber": 10, "red": 30, "min_received": 20}
    )
    ReportThreshold.objects.update_or_create(
        metric="match_rate", defaults={"amber": 95, "red": 90, "min_received": 20}
    )


def test_a_manager_reads_last_months_report_down_to_the_certificates(live_server, page: Page, shots):
    last_month_of_leads()
    manager = make_user("manager")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(manager.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Reports", exact=True).click()
    page.get_by_role("link", name="Last month", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Vendors,")
    page.screenshot(path=shots / "vendor-report.png", full_page=True)

    header = page.locator("table.table-report thead").get_by_role("link", name="Failure rate")
    header.click()  # ascending
    page.locator("table.table-report thead").get_by_role("link", name="Failure rate").click()  # descending
    first_row = page.locator("table.table-report tbody tr").first
    expect(first_row.locator("td.vendor")).to_contain_text("Shady Leads")
    expect(first_row.locator("td.vendor")).to_contain_text("red")
    page.screenshot(path=shots / "vendor-report-by-failure-rate.png", full_page=True)

    failures = first_row.locator('a[data-count="failure"]')
    count = int(failures.inner_text())
    assert count == sum(1 + day // 5 for day in range(20))
    failures.click()
    expect(page.get_by_role("heading", name="Certificates")).to_be_visible()
    expect(page.locator("table.table-certificates tbody tr")).to_have_count(count)
    expect(page.locator("table.table-certificates tbody")).not_to_contain_text("Acme Leads")

    page.go_back()
    page.locator("table.table-report tbody tr").first.locator("td.vendor a").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Shady Leads")
    expect(page.locator("svg.chart")).to_have_count(3)
    expect(page.get_by_test_id("since-failure_rate")).to_be_visible()
    page.screenshot(path=shots / "vendor-page.png", full_page=True)

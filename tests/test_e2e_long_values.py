"""In a real browser at 1280 px: a 2,000-character value (review note, scan term, dry-run cell, reason)
or a full-length vendor name and reference wraps, and never makes the page wider than the window."""

import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page

from certificates.models import Certificate, Review
from tests.factories import PASSWORD, make_certificate, make_user, make_vendor
from tests.scanning_factories import make_term

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTH = 1280
# One unbroken "word" is the hard case: ordinary wrapping finds no place to break it.
LONG = "x" * 2000
VENDOR = "V" * 200  # as long as a vendor name may be
REFERENCE = "R" * 255  # as long as a reference may be


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: SCREENSHOT_DIR to keep them, else the test's temp dir."""
    path = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_in(page: Page, live_server, user) -> None:
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def long_certificate(reviewer) -> Certificate:
    certificate = make_certificate(vendor=make_vendor(VENDOR), email="jane@example.com", reference=REFERENCE)
    Certificate.objects.filter(pk=certificate.pk).update(
        state=Certificate.State.CLAIMED,
        outcome=Certificate.Outcome.FAILURE,
        outcome_reason="F" * 500,
        state_reason="S" * 500,
        last_error="E" * 500,
        review_status=Certificate.ReviewStatus.OPEN,
        claimed_at=timezone.now(),
    )
    Review.objects.create(certificate=certificate, reviewer=reviewer, decision="rejected", note=LONG)
    return certificate


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/certificates/", VENDOR),
        ("detail", LONG),
        ("/certificates/review/", VENDOR),
        ("/scanning/terms/", LONG),
        ("/certificates/vendors/", VENDOR),
    ],
    ids=["certificate list", "certificate detail", "review queue", "scan terms", "vendors"],
)
def test_long_values_wrap_inside_a_1280_px_window(live_server, page: Page, shots, path, shown):
    manager = make_user("manager")
    certificate = long_certificate(manager)
    make_term(f"I agree {LONG}")
    url = certificate.get_absolute_url() if path == "detail" else path

    log_in(page, live_server, manager)
    page.goto(f"{live_server.url}{url}")

    assert shown in page.content()  # the whole value is there, wrapped rather than cut
    name = path.strip("/").replace("/", "-")
    page.screenshot(path=shots / f"long-values-{name}.png", full_page=True)
    assert page_width(page) <= WIDTH


def test_a_long_cell_in_the_import_dry_run_wraps(live_server, page: Page, shots):
    analyst = make_user("analyst")
    log_in(page, live_server, analyst)
    page.goto(f"{live_server.url}/intake/")

    cert_url = f"https://cert.trustedform.com/{'a' * 40}"
    page.get_by_label("Or paste rows").fill(f"cert_url,vendor,reference\n{cert_url},{LONG},{LONG}\n")
    page.get_by_role("button", name="Check the rows").click()
    page.get_by_role("heading", name="Check before importing").wait_for()

    page.screenshot(path=shots / "long-values-dry-run.png", full_page=True)
    assert page_width(page) <= WIDTH

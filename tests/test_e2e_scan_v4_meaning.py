"""In a real browser, with API v4: the profile editor shows what a two-row template means in v4 and asks
before saving it, and the preview says both rows must be on the page."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from scanning.meaning import v4_meaning
from scanning.models import ScanProfile
from tests.factories import PASSWORD, make_user
from tests.scanning_factories import make_template

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PAGE_TEXT = "Yes. I agree to be called on behalf of Mortgage Acme at the telephone number provided."


def test_the_editor_warns_about_v4_before_saving_and_the_preview_agrees(
    live_server, page: Page, settings, tmp_path
):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    shots = Path(os.environ.get("SCAN_SCREENSHOTS", tmp_path))
    page.set_viewport_size({"width": 1280, "height": 900})
    make_template(name="TCPA")  # two rows: Acme Mortgage, Mortgage Acme
    manager = make_user("manager")
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(manager.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/scanning/profiles/new/")
    page.get_by_label("Name").fill("Acme TCPA")
    page.get_by_label(re.compile(r"TCPA$")).check()
    page.get_by_role("button", name="Save profile").first.click()

    # Not saved: the warning says what changes in v4 and asks.
    warning = page.get_by_test_id("v4-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(
        "In API v4 the 2 rows of “TCPA” are 2 required terms: the scan passes only if every row's sentence "
        "is on the page (in v3 any one row is enough)."
    )
    expect(page.get_by_role("status")).to_have_count(0)
    assert not ScanProfile.objects.exists()
    page.screenshot(path=shots / "scan-v4-warning.png", full_page=True)

    page.get_by_label(
        "I understand: in API v4 both rows of “TCPA” must be on the page, not just one."
    ).check()
    page.get_by_role("button", name="Save profile").first.click()
    expect(page.get_by_role("status")).to_contain_text("Saved the profile “Acme TCPA”")
    expect(page.get_by_test_id("v4-acknowledged")).to_contain_text(f"Confirmed by {manager.username}")
    assert v4_meaning(ScanProfile.objects.get()).acknowledged is not None

    page.get_by_role("link", name="Preview this profile").click()
    page.wait_for_load_state()  # htmx (a deferred script) listens from then on, as for a person typing
    page.get_by_label("Page text").fill(PAGE_TEXT)
    results = page.locator("#scan-preview-results")
    expect(results.get_by_test_id("scan-rows-note")).to_have_text(
        "Sent as 2 required terms: both must be on the page (1 of 2 found)."
    )
    expect(results.get_by_test_id("scan-difference")).to_contain_text(
        "This page passes in API v3 but fails in API v4, and claims are sent with v4."
    )
    page.screenshot(path=shots / "scan-v4-preview.png", full_page=True)

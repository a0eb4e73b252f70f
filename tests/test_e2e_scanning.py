"""In a real browser: a manager writes a template, previews it, assigns it to a vendor, and a claim shows
what the page scan found."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, make_user, make_vendor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEMPLATE = "I agree to be called on behalf of {{company}} at the telephone number provided."
COMPANIES = ["Acme Mortgage", "Mortgage Acme", "Acme Loans"]
CONSENT = (
    "By clicking Submit, I agree to be called on behalf of Mortgage Acme at the telephone number provided. "
    "Calls may include pre-recorded messages. Consent is not a condition of purchase."
)


def test_a_manager_previews_a_template_assigns_it_and_a_claim_shows_the_scan(
    live_server, page: Page, tf_api, tmp_path
):
    shots = Path(os.environ.get("SCAN_SCREENSHOTS", tmp_path))
    page.set_viewport_size({"width": 1280, "height": 900})
    make_vendor("Acme Leads")
    manager = make_user("manager")
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(manager.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # A template with three companies, its rows added without any script.
    page.get_by_role("link", name="Scan terms").click()
    page.get_by_role("link", name="Templates", exact=True).click()
    page.get_by_role("link", name="New template").click()
    page.get_by_label("Name").fill("On behalf of")
    page.get_by_label("Template").fill(TEMPLATE)
    for index, company in enumerate(COMPANIES):
        page.get_by_role("button", name="Add a row").click()
        page.locator(f"input[name='values-{index}-company']").fill(company)
    page.screenshot(path=shots / "scan-editor.png", full_page=True)
    page.get_by_role("button", name="Save template").last.click()
    expect(page.get_by_role("status")).to_contain_text("with 3 value rows")

    # A profile holding it, not yet assigned.
    page.get_by_role("link", name="Profiles").click()
    page.get_by_role("link", name="New profile").click()
    page.get_by_label("Name").fill("Acme TCPA")
    page.get_by_label(re.compile(r"On behalf of")).check()
    page.get_by_role("button", name="Save profile").first.click()
    # API v4 sends the three rows as three required terms: the editor asks before saving that.
    expect(page.get_by_test_id("v4-warning")).to_contain_text(
        "the 3 rows of “On behalf of” are 3 required terms"
    )
    page.get_by_label(re.compile(r"I understand: in API v4 all 3 rows")).check()
    page.get_by_role("button", name="Save profile").first.click()
    expect(page.get_by_role("status")).to_contain_text("Saved the profile “Acme TCPA”")

    # The preview updates as the manager types: one found, one near miss explained.
    page.get_by_role("link", name="Preview", exact=True).click()
    page.wait_for_load_state()  # htmx (a deferred script) listens from then on, as for a person typing
    page.get_by_label("Profile").select_option(label="Acme TCPA")
    page.get_by_label("Required terms").fill("Calls may include prerecorded messages.")
    page.get_by_label("Page text").fill(CONSENT)
    results = page.locator("#scan-preview-results")
    expect(results.get_by_test_id("scan-line")).to_have_count(2)
    # In API v4 (the configured version) one company's sentence on the page is not enough.
    expect(results.get_by_test_id("scan-rows-note")).to_have_text(
        "Sent as 3 required terms: all 3 must be on the page (1 of 3 found)."
    )
    expect(results.get_by_test_id("scan-row").filter(has_text="✓")).to_have_text(
        "✓ on the page: “I agree to be called on behalf of Mortgage Acme at the telephone number provided.”"
    )
    expect(results.get_by_test_id("scan-status").nth(1)).to_have_text("not found: near miss")
    expect(results.get_by_test_id("scan-explanation").nth(1)).to_have_text(
        "A hyphen: the page has 'pre-recorded' where the term has 'prerecorded'."
    )
    assert page.url.endswith("/scanning/preview/")  # no form submit: the script fetched the results
    page.screenshot(path=shots / "scan-preview.png", full_page=True)

    # Assign the profile to the vendor.
    page.get_by_role("link", name="Profiles").click()
    page.get_by_role("link", name="Acme TCPA").click()
    page.get_by_label("Acme Leads").check()
    page.get_by_role("button", name="Save profile").first.click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(page.get_by_label("Acme Leads (now: Acme TCPA)")).to_be_checked()
    page.screenshot(path=shots / "scan-profile.png", full_page=True)

    # A claim of the vendor's certificate shows what the scan found.
    minted = tf_api.mint(email="jane@example.com", page_text=CONSENT)
    page.goto(f"{live_server.url}/certificates/claim/")
    page.get_by_label("Certificate URL").fill(minted["cert_url"])
    page.get_by_label("Vendor").fill("Acme Leads")
    page.get_by_label("Lead email").fill("jane@example.com")
    page.get_by_role("button", name="Claim").click()

    claim = page.get_by_test_id("claim-result").first
    expect(claim).to_contain_text(
        "✓ required, found: “I agree to be called on behalf of Mortgage Acme at the telephone number provided.”"
    )
    # API v4 has no templates: the other companies went as their own terms and are not on the page.
    expect(claim).to_contain_text("✗ required, not found: “I agree to be called on behalf of Acme Loans")
    page.screenshot(path=shots / "scan-claim-result.png", full_page=True)

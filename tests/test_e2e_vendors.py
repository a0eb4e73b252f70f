"""In a real browser: a manager merges one vendor into another after seeing what moves, and a profile
editor asks before moving a vendor from its profile."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from certificates.models import Certificate, Vendor
from certificates.reports import rollups
from scanning.models import VendorScanProfile
from tests.factories import PASSWORD, make_certificate, make_user, make_vendor
from tests.scanning_factories import make_profile, make_term

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, live_server, role: str = "manager") -> None:
    user = make_user(role)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_manager_merges_a_vendor_after_confirming_what_moves(live_server, page: Page, tmp_path):
    shots = Path(os.environ.get("VENDOR_SCREENSHOTS", tmp_path))
    acme, leads = make_vendor("Acme"), make_vendor("Acme Leads")
    for vendor in (acme, acme, leads):
        make_certificate(vendor=vendor)
    rollups.refresh_dirty()
    log_in(page, live_server)

    page.goto(f"{live_server.url}/certificates/vendors/{acme.pk}/")
    expect(page.get_by_test_id("vendor-delete")).to_contain_text("“Acme” has 2 certificates")
    expect(page.get_by_test_id("vendor-delete").get_by_role("button", name="Delete…")).to_be_disabled()
    page.screenshot(path=shots / "vendor-page.png", full_page=True)
    page.get_by_label("Vendor to merge into").select_option(label="Acme Leads")
    page.get_by_role("button", name="Merge into…").click()

    expect(page.get_by_test_id("merge-plan")).to_contain_text("2 certificates move to “Acme Leads”")
    page.screenshot(path=shots / "vendor-merge-confirm.png", full_page=True)
    page.get_by_role("button", name="Merge").click()
    expect(page.get_by_role("alert").first).to_contain_text("Tick the box to confirm the merge")
    assert Vendor.objects.filter(pk=acme.pk).exists()

    page.get_by_label("Move 2 certificates to “Acme Leads” and delete “Acme”").check()
    page.get_by_role("button", name="Merge").click()

    expect(page.get_by_role("status")).to_contain_text(
        "Merged “Acme” into “Acme Leads”: 2 certificates moved."
    )
    assert not Vendor.objects.filter(pk=acme.pk).exists()
    assert Certificate.objects.filter(vendor=leads).count() == 3


def test_the_profile_editor_asks_before_moving_a_vendor_from_its_profile(live_server, page: Page, tmp_path):
    shots = Path(os.environ.get("VENDOR_SCREENSHOTS", tmp_path))
    acme = make_vendor("Acme Leads")
    make_profile("Solar", vendors=[acme])
    make_term("I agree to be called.")
    log_in(page, live_server)

    page.goto(f"{live_server.url}/scanning/profiles/new/")
    page.get_by_label("Name").fill("Mortgage")
    page.get_by_label("Acme Leads (now: Solar)").check()
    page.get_by_role("button", name="Save profile").first.click()

    moves = page.get_by_test_id("vendor-moves")
    expect(moves).to_contain_text("Acme Leads is in profile “Solar” now; saving moves it here")
    page.screenshot(path=shots / "profile-vendor-move.png", full_page=True)
    assert VendorScanProfile.objects.get(vendor=acme).profile.name == "Solar"

    moves.get_by_label("Move it here").check()
    page.get_by_role("button", name="Save profile").first.click()

    expect(page.get_by_role("status")).to_contain_text("Saved the profile “Mortgage”")
    assert VendorScanProfile.objects.get(vendor=acme).profile.name == "Mortgage"

"""In a real browser (Debian's chromium): a manager opens a discovery request for a phone, waits for the
package, downloads it, and the certificate page then shows the legal hold."""

import zipfile

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, make_certificate, make_user, make_vendor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_manager_opens_a_discovery_request_downloads_it_and_the_certificate_is_held(
    live_server, page: Page, settings, tmp_path
):
    settings.EVIDENCE_EXPORT_DIR = tmp_path / "exports"
    vendor = make_vendor("Acme Leads")
    theirs = make_certificate(vendor=vendor, phone="(513) 555-6719", email="kelly@thethings.biz")
    make_certificate(vendor=vendor, phone="6145550142", email="other@example.com")
    log_in(page, live_server, make_user("manager"))

    page.goto(f"{live_server.url}/")
    page.locator("summary", has_text="More").click()
    page.get_by_test_id("nav-discovery").click()
    form = page.get_by_test_id("discovery-form")
    form.get_by_label("Phone").fill("513.555.6719")
    form.get_by_label("Hold name (the matter)").fill("Case 1: Kelly v. Acme")
    form.get_by_role("button", name="Build the package").click()

    download_link = page.get_by_test_id("discovery-download")
    expect(download_link).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("discovery-requests")).to_contain_text("1 certificate")
    page.screenshot(path=tmp_path / "discovery.png", full_page=True)
    with page.expect_download() as info:
        download_link.click()
    saved = tmp_path / "package.zip"
    info.value.save_as(saved)
    names = zipfile.ZipFile(saved).namelist()
    assert f"{theirs.cert_id}/evidence.html" in names and "MANIFEST.sha256" in names and "index.html" in names

    page.goto(f"{live_server.url}{theirs.get_absolute_url()}")
    expect(page.get_by_test_id("legal-holds")).to_contain_text("Case 1: Kelly v. Acme")
    expect(page.get_by_test_id("legal-holds")).to_contain_text("open")
    page.screenshot(path=tmp_path / "held-certificate.png", full_page=True)

"""In a real browser (Debian's chromium): log in, claim a certificate, read the outcome."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_analyst_logs_in_claims_a_certificate_and_reads_the_outcome(
    live_server, page: Page, tf_api, tmp_path
):
    minted = tf_api.mint(
        email="jane@example.com",
        phone="5125551212",
        page_text="I agree that Acme Mortgage may call me at the number provided.",
    )
    analyst = make_user("analyst")

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(analyst.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Claim", exact=True).click()
    page.get_by_label("Certificate URL").fill(minted["cert_url"])
    page.get_by_label("Vendor").fill("Acme Leads")
    page.get_by_label("Lead email").fill("jane@example.com")
    page.get_by_label("Lead phone").fill("(512) 555-1212")
    page.get_by_role("button", name="Claim").click()

    expect(page.get_by_test_id("outcome")).to_have_text("Success")
    expect(page.get_by_test_id("state")).to_have_text("Claimed")
    expect(page.get_by_text(re.compile(r"jane@example\.com · matched"))).to_be_visible()
    page.screenshot(path=tmp_path / "claim-result.png", full_page=True)


def test_the_claim_form_explains_a_bad_url_in_the_browser(live_server, page: Page, client):
    analyst = make_user("analyst")

    page.goto(f"{live_server.url}/certificates/claim/")
    page.get_by_label("Username").fill(analyst.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Certificate URL").fill("http://cert.trustedform.com/" + "a" * 40)
    page.get_by_label("Vendor").fill("Acme Leads")
    page.get_by_role("button", name="Claim").click()

    expect(page.get_by_role("alert").first).to_contain_text("must use https://")

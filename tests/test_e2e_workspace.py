"""In a real browser: find a vendor's failed certificates, reject one with a note, download its evidence,
and work the review queue from the keyboard."""

import json
import os
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from certificates import claiming
from certificates.models import Certificate, Review
from tests.factories import PASSWORD, make_certificate, make_user, make_vendor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CONSENT = "I agree that Acme Mortgage may call me at the number provided, including by autodialer."
NOTE = "Consumer's email does not match the lead; vendor confirmed a bad lead (ticket 4411)."


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: SCREENSHOT_DIR to keep them, else the test's temp dir."""
    path = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    path.mkdir(parents=True, exist_ok=True)
    return path


def claimed(tf_api, vendor, *, lead_email: str) -> Certificate:
    minted = tf_api.mint(email="jane@example.com", phone="5125551212", page_text=CONSENT)
    cert = make_certificate(minted["cert_url"], vendor=vendor, email=lead_email)
    claiming.claim_certificate(cert)
    cert.refresh_from_db()
    return cert


def log_in(page: Page, url: str, user) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_manager_finds_a_failed_certificate_rejects_it_and_downloads_its_evidence(
    live_server, page: Page, tf_api, shots
):
    acme, other = make_vendor("Acme Leads"), make_vendor("Other Leads")
    failed = claimed(tf_api, acme, lead_email="john@example.com")
    passed = claimed(tf_api, acme, lead_email="jane@example.com")
    elsewhere = claimed(tf_api, other, lead_email="john@example.com")
    manager = make_user("manager")

    log_in(page, f"{live_server.url}/certificates/", manager)
    page.get_by_label("Vendor").select_option(label="Acme Leads")
    page.get_by_label("Outcome").select_option(label="Failure")
    page.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(f"{live_server.url}/certificates/?" + page.url.split("?", 1)[1])
    assert f"vendor={acme.pk}" in page.url and "outcome=failure" in page.url
    rows = page.locator("table.table-certificates tbody tr")
    expect(rows).to_have_count(1)
    expect(page.locator(f'a[href="{passed.get_absolute_url()}"]')).to_have_count(0)
    expect(page.locator(f'a[href="{elsewhere.get_absolute_url()}"]')).to_have_count(0)
    page.screenshot(path=shots / "list.png", full_page=True)

    page.locator(f'a[href="{failed.get_absolute_url()}"]').click()
    expect(page.get_by_test_id("cert-id")).to_have_text(failed.cert_id)
    page.get_by_role("button", name="Reject").click()  # no note: the browser itself refuses
    expect(page.get_by_test_id("review-status")).to_have_text("To review")
    page.get_by_label("Note").fill(NOTE)
    page.get_by_role("button", name="Reject").click()

    expect(page.get_by_test_id("review-status")).to_have_text("Rejected")
    expect(page.get_by_test_id("review-history")).to_contain_text(NOTE)
    page.screenshot(path=shots / "detail.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Evidence package").click()
    package = download_info.value.path()
    archive = zipfile.ZipFile(package)
    data = json.loads(archive.read("evidence.json"))
    assert data["certificate"]["id"] == failed.cert_id
    assert [r["note"] for r in data["reviews"]] == [NOTE]
    html = archive.read("evidence.html").decode()
    assert failed.cert_id in html and "vendor confirmed a bad lead (ticket 4411)" in html


def test_an_analyst_works_the_review_queue_from_the_keyboard(live_server, page: Page, tf_api, shots):
    acme = make_vendor("Acme Leads")
    first, second, third = (claimed(tf_api, acme, lead_email=f"wrong{n}@example.com") for n in range(3))
    analyst = make_user("analyst")

    log_in(page, f"{live_server.url}/certificates/review/", analyst)
    expect(page.locator("tr.review-row")).to_have_count(3)
    page.screenshot(path=shots / "review-queue.png", full_page=True)

    # j moves to the second row, x selects it, r chooses reject and puts the cursor in the note.
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("r")
    expect(page.get_by_label("Note for the selected certificates")).to_be_focused()
    page.keyboard.type("Bot traffic per vendor report.")
    page.keyboard.press("Enter")

    expect(page.get_by_text("1 certificate rejected, with your note.")).to_be_visible()
    expect(page.locator("tr.review-row")).to_have_count(2)
    review = Review.objects.get()
    assert (review.certificate_id, review.decision, review.note) == (
        second.pk,
        "rejected",
        "Bot traffic per vendor report.",
    )

    # Both remaining rows by mouse, accepted with one note.
    page.locator("input.row-select").nth(0).check()
    page.locator("input.row-select").nth(1).check()
    page.get_by_label("Note for the selected certificates").fill("Checked with the consumer by phone.")
    page.get_by_role("button", name="Accept selected").click()

    expect(page.get_by_text("Nothing to review.")).to_be_visible()
    statuses = dict(Certificate.objects.values_list("pk", "review_status"))
    assert statuses == {first.pk: "accepted", second.pk: "rejected", third.pk: "accepted"}

"""In a real browser: upload a vendor's CSV, read the dry run, confirm, watch the batch get claimed."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from certificates import worker
from certificates.models import Certificate
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_analyst_imports_a_csv_and_watches_it_being_claimed(
    live_server, page: Page, tf_api, tmp_path, settings
):
    settings.INTAKE_UPLOAD_DIR = tmp_path / "uploads"
    minted = [tf_api.mint(email=f"lead{n}@example.com", phone="5135556719") for n in range(3)]
    # The third claim meets a 503 first: it stays pending, so the bar has somewhere to go.
    tf_api.cert_faults(minted[2]["cert_id"], fail_next=["503"])
    rows = [
        f"{m['cert_url']},lead{n}@example.com,(513) 555-6719,L-{n},Acme Leads" for n, m in enumerate(minted)
    ]
    rows.insert(2, "http://cert.trustedform.com/" + "b" * 40 + ",bad@example.com,,L-bad,Acme Leads")
    csv_path = tmp_path / "acme-2024-05-01.csv"
    csv_path.write_text("xxTrustedFormCertUrl,Email,Phone_1,Lead ID,Vendor\n" + "\n".join(rows) + "\n")
    analyst = make_user("analyst")

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(analyst.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Import", exact=True).click()
    page.get_by_label("CSV file").set_input_files(csv_path)
    page.get_by_role("button", name="Check the rows").click()

    expect(page.get_by_role("heading", name="Check before importing")).to_be_visible()
    expect(page.get_by_test_id("count-new")).to_have_text("3")
    expect(page.get_by_test_id("count-rejected")).to_have_text("1")
    rejections = page.get_by_test_id("dry-run-rejections")
    expect(rejections).to_contain_text("Certificate URLs must use https://, not http://.")
    expect(rejections.get_by_role("cell", name="4", exact=True)).to_be_visible()  # line 4 of the file
    page.screenshot(path=tmp_path / "dry-run.png", full_page=True)
    assert not Certificate.objects.exists()

    expect(page.get_by_test_id("new-vendors")).to_contain_text("Acme Leads")
    page.get_by_test_id("confirm-new-vendors").check()
    page.get_by_test_id("confirm").click()

    expect(page.get_by_role("heading", name=re.compile(r"Import batch \d+"))).to_be_visible()
    expect(page.get_by_test_id("count-claimed")).to_have_text("2")
    expect(page.get_by_test_id("percent-done")).to_have_text("66%")
    page.screenshot(path=tmp_path / "batch-claiming.png", full_page=True)
    page.evaluate("window.notReloaded = true")

    # The worker retries the third certificate; the page follows without a reload.
    Certificate.objects.filter(state=Certificate.State.PENDING).update(next_attempt_at=timezone.now())
    worker.claim_due(owner="e2e-worker")

    expect(page.get_by_test_id("percent-done")).to_have_text("100%", timeout=10_000)
    expect(page.get_by_test_id("count-claimed")).to_have_text("3")
    expect(page.locator("[data-progress-bar]")).to_have_attribute("aria-valuenow", "100")
    assert page.evaluate("window.notReloaded") is True
    errors = page.get_by_test_id("row-errors")
    expect(errors).to_contain_text("Certificate URLs must use https://, not http://.")
    expect(errors).to_contain_text("cert_url")
    page.screenshot(path=tmp_path / "batch.png", full_page=True)
    assert Certificate.objects.filter(state=Certificate.State.CLAIMED).count() == 3

"""In a real browser (Debian's chromium): a lead without email or phone is held, not sent, and a person
completes it; cancelling a batch asks first, says what it did, and can be undone."""

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from certificates import claiming
from certificates.models import Certificate, ImportBatch
from tests.factories import PASSWORD, make_certificate, make_user, make_vendor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_lead_without_email_or_phone_is_held_then_completed_and_claimed(
    live_server, page: Page, tf_api, settings, tmp_path
):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    claiming.get_client.cache_clear()
    minted = tf_api.mint(email="jane@example.com")
    log_in(page, live_server, make_user("analyst"))

    page.goto(f"{live_server.url}/certificates/claim/")
    page.get_by_label("Certificate URL").fill(minted["cert_url"])
    page.get_by_label("Vendor").fill("Acme Leads")
    page.get_by_role("button", name="Claim").click()

    expect(page.get_by_test_id("state")).to_have_text("On hold")
    expect(page.get_by_test_id("billed")).to_have_text("Not billed: nothing was retained.")
    assert tf_api.requests(cert_id=minted["cert_id"]) == []
    page.screenshot(path=tmp_path / "held.png", full_page=True)

    form = page.get_by_test_id("correct-lead")
    form.get_by_label("Lead email").fill("jane@example.com")
    form.get_by_role("button", name="Save and claim").click()

    expect(page.get_by_test_id("state")).to_have_text("Claimed")
    expect(page.get_by_test_id("corrections")).to_contain_text("jane@example.com")
    assert len(tf_api.certificate(minted["cert_id"])["claims"]) == 1


def test_cancelling_a_batch_asks_with_the_count_and_can_be_undone(live_server, page: Page, tmp_path):
    batch = ImportBatch.objects.create(source=ImportBatch.Source.CSV, filename="leads.csv")
    vendor = make_vendor("Acme Leads")
    for n in range(3):
        make_certificate(vendor=vendor, email=f"lead{n}@example.com")
    Certificate.objects.update(batch=batch, next_attempt_at=timezone.now() + timezone.timedelta(hours=1))
    log_in(page, live_server, make_user("analyst"))

    page.goto(f"{live_server.url}/intake/batches/{batch.pk}/")
    page.get_by_role("link", name="Cancel batch…").click()
    expect(page.get_by_test_id("cancel-count")).to_have_text("3")
    page.screenshot(path=tmp_path / "cancel-confirm.png", full_page=True)
    page.get_by_role("button", name="Cancel 3 certificates").click()

    expect(page.get_by_text("Cancelled 3 certificates of this batch")).to_be_visible()
    assert set(Certificate.objects.values_list("state", flat=True)) == {"cancelled"}
    page.get_by_role("button", name="Un-cancel (3 still within their window)").click()

    expect(page.get_by_text("Un-cancelled: 3 certificates back in the queue.")).to_be_visible()
    assert set(Certificate.objects.values_list("state", flat=True)) <= {
        "pending",
        "claimed",
        "expired",
        "error",
    }

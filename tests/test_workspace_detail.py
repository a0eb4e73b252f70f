"""The certificate page: lead, countdown, every answer, check-ins, reviews, the API log, and the roles."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from certificates import claiming
from certificates.alerts.raising import open_alert_count
from certificates.models import AccountStatus, ApiCall, Certificate, Claim, Vendor
from tests.factories import PASSWORD, make_certificate, make_user, make_vendor

pytestmark = pytest.mark.django_db

CONSENT = "I agree that Acme Mortgage may call me at the number provided, including by autodialer."


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def claimed_through_the_sandbox(tf_api, *, lead_email: str, user=None) -> Certificate:
    minted = tf_api.mint(email="jane@example.com", phone="5125551212", page_text=CONSENT)
    cert = make_certificate(minted["cert_url"], vendor=make_vendor("Acme Leads"), email=lead_email)
    claiming.claim_certificate(cert, user=user)
    cert.refresh_from_db()
    return cert


def test_the_page_shows_the_lead_the_answer_with_fingerprints_and_the_countdown(client, tf_api):
    login(client, "analyst")
    pending = make_certificate(email="sam@example.com", phone="(512) 555-0000", reference="REF-9")
    failed = claimed_through_the_sandbox(tf_api, lead_email="john@example.com")

    pending_page = client.get(pending.get_absolute_url()).content.decode()
    failed_page = client.get(failed.get_absolute_url()).content.decode()

    assert "sam@example.com" in pending_page and "(512) 555-0000" in pending_page and "REF-9" in pending_page
    assert 'data-testid="countdown"' in pending_page and " left" in pending_page
    assert 'data-testid="outcome">Failure' in failed_page
    assert "john@example.com · did not match" in failed_page
    assert "Fingerprint hashes" in failed_page
    assert 'data-testid="review-status">To review' in failed_page
    assert 'name="note"' in failed_page  # an analyst can review here


def test_the_detail_page_runs_the_same_few_queries_however_much_history_there_is(
    client, django_assert_max_num_queries
):
    call_command("generate_certificates", 2000, vendors=5, seed=3, stdout=io.StringIO())
    admin = login(client, "admin")
    AccountStatus.current()
    open_alert_count()  # the navigation's count, cached for 30 s in a running install
    cert = Certificate.objects.filter(state="claimed").first()
    for n in range(15):
        call = ApiCall.objects.create(
            certificate=cert, operation="view", method="GET", url=cert.cert_url, outcome="ok", status=200
        )
        Claim.objects.create(
            certificate=cert, api_call=call, claimed_by=admin, api_version="4.0", outcome="success"
        )
        cert.check_ins.create(extended_until=timezone.now(), checked_in_by=admin)
        cert.reviews.create(reviewer=admin, decision="accepted", note=f"note {n}")

    # Its legal holds and the revocations of its lead are one query each, however many there are.
    with django_assert_max_num_queries(14):
        response = client.get(cert.get_absolute_url())

    page = response.content.decode()
    assert page.count('class="api-call"') == 15
    assert "note 14" in page and "note 0" in page


def test_the_api_calls_are_shown_to_an_admin_but_not_to_an_analyst(client, tf_api, api_key):
    cert = claimed_through_the_sandbox(tf_api, lead_email="jane@example.com")
    login(client, "analyst")
    analyst_page = client.get(cert.get_absolute_url()).content.decode()
    client.logout()
    login(client, "admin")
    admin_page = client.get(cert.get_absolute_url()).content.decode()

    assert 'data-testid="api-calls"' not in analyst_page
    assert 'data-testid="api-calls"' in admin_page
    assert "Authorization: Basic [redacted]" in admin_page
    assert api_key not in admin_page
    call = ApiCall.objects.get(certificate=cert)
    assert client.get(call.get_absolute_url()).status_code == 200
    client.logout()
    login(client, "analyst")
    assert client.get(call.get_absolute_url()).status_code == 403


def test_a_viewer_cannot_claim_review_or_export(client):
    login(client, "viewer")
    cert = make_certificate()
    Certificate.objects.filter(pk=cert.pk).update(review_status="open")

    page = client.get(cert.get_absolute_url()).content.decode()

    assert "Claim now" not in page and "Evidence package" not in page and 'name="note"' not in page
    assert client.post(reverse("certificates:claim-now", args=[cert.pk])).status_code == 403
    assert (
        client.post(
            reverse("certificates:review", args=[cert.pk]), {"decision": "accepted", "note": "x"}
        ).status_code
        == 403
    )
    assert client.get(reverse("certificates:evidence", args=[cert.pk])).status_code == 403
    assert client.get(reverse("certificates:list"), {"_export": "csv"}).status_code == 403
    assert client.get(reverse("certificates:exports")).status_code == 403


def test_an_analyst_claims_from_the_detail_page(client, tf_api):
    login(client, "analyst")
    minted = tf_api.mint(email="jane@example.com", page_text=CONSENT)
    cert = make_certificate(minted["cert_url"], email="jane@example.com")

    page = client.get(cert.get_absolute_url()).content.decode()
    response = client.post(reverse("certificates:claim-now", args=[cert.pk]), follow=True)

    assert "Claim now" in page and "Check in (extend to 90 days)" in page
    assert "Claimed: outcome success." in response.content.decode()
    assert 'data-testid="state">Claimed' in response.content.decode()


def test_the_generator_makes_a_realistic_mix(client):
    call_command("generate_certificates", 1500, vendors=12, seed=11, stdout=io.StringIO())

    states = set(Certificate.objects.values_list("state", flat=True))
    assert Certificate.objects.count() == 1500
    assert Vendor.objects.filter(name__startswith="Generated vendor").count() == 12
    assert {"pending", "claimed", "expired"} <= states
    assert Claim.objects.count() == Certificate.objects.filter(state="claimed").count()
    assert Certificate.objects.filter(outcome="failure", review_status="open").exists()
    # Primary keys assigned by the generator leave the sequence ready for ordinary inserts.
    highest = Certificate.objects.order_by("-pk").values_list("pk", flat=True)[0]
    assert make_certificate().pk > highest

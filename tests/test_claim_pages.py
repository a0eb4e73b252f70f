"""Claiming one certificate through the pages: the form, the result, the log, and the roles."""

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certificates.models import AccountStatus, ApiCall, Certificate, Claim
from tests.factories import PASSWORD, make_certificate, make_user

pytestmark = pytest.mark.django_db

CONSENT = "I agree that Acme Mortgage may call me at the number provided, including by autodialer."


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def claim_form(cert_url: str, **overrides) -> dict:
    return {
        "cert_url": cert_url,
        "vendor": "Acme Leads",
        "email": "jane@example.com",
        "phone": "",
        **overrides,
    }


@pytest.mark.parametrize(
    "url_name", ["home", "certificates:list", "certificates:claim", "certificates:api-calls"]
)
def test_every_page_needs_a_login(client, url_name):
    response = client.get(reverse(url_name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_analyst_claims_a_certificate_and_sees_what_trustedform_answered(client, tf_api):
    minted = tf_api.mint(email="jane@example.com", phone="5125551212", page_text=CONSENT)
    login(client, "analyst")

    response = client.post(
        reverse("certificates:claim"), claim_form(minted["cert_url"], phone="(512) 555-1212"), follow=True
    )

    certificate = Certificate.objects.get(cert_id=minted["cert_id"])
    assert certificate.state == Certificate.State.CLAIMED
    assert certificate.outcome == "success"
    page = response.content.decode()
    assert 'data-testid="outcome">Success' in page
    assert "jane@example.com · matched" in page
    assert "(512) 555-1212 · matched" in page
    assert certificate.claims.get().masked_cert_url in page


def test_a_failed_fingerprint_match_shows_which_value_did_not_match(client, tf_api):
    minted = tf_api.mint(email="jane@example.com", page_text=CONSENT)
    login(client, "analyst")

    response = client.post(
        reverse("certificates:claim"), claim_form(minted["cert_url"], email="john@example.com"), follow=True
    )

    page = response.content.decode()
    assert 'data-testid="outcome">Failure' in page
    assert "john@example.com · did not match" in page
    assert Certificate.objects.get().review_status == Certificate.ReviewStatus.OPEN


def test_every_attempt_is_in_the_api_call_log(client, tf_api):
    minted = tf_api.mint(email="jane@example.com")
    tf_api.cert_faults(minted["cert_id"], fail_next=["503"])
    login(client, "analyst")

    client.post(reverse("certificates:claim"), claim_form(minted["cert_url"]))
    certificate = Certificate.objects.get()
    client.post(reverse("certificates:claim-now", args=[certificate.pk]))

    calls = list(ApiCall.objects.order_by("id"))
    assert [c.status for c in calls] == [503, 200]  # the default API version is 4.0
    assert all(c.certificate == certificate and c.operation == "claim" for c in calls)
    assert Claim.objects.get().api_call == calls[1]


def test_a_server_error_keeps_the_certificate_pending_and_says_so(client, tf_api):
    minted = tf_api.mint(email="jane@example.com")
    tf_api.cert_faults(minted["cert_id"], fail_next=["503"])
    login(client, "analyst")

    response = client.post(reverse("certificates:claim"), claim_form(minted["cert_url"]), follow=True)

    certificate = Certificate.objects.get()
    assert certificate.state == Certificate.State.PENDING
    assert certificate.attempts == 1
    assert "server error (HTTP 503)" in response.content.decode()
    assert "tfdash will try again" in response.content.decode()


def test_a_claimed_certificate_is_never_claimed_again(client, tf_api):
    minted = tf_api.mint(email="jane@example.com")
    login(client, "analyst")
    client.post(reverse("certificates:claim"), claim_form(minted["cert_url"]))

    response = client.post(reverse("certificates:claim"), claim_form(minted["cert_url"]), follow=True)

    assert "Not claimed again" in response.content.decode()
    assert len([r for r in tf_api.requests() if r["method"] == "POST"]) == 1


def test_a_refused_key_pauses_claiming_and_shows_a_banner(client, tf_api):
    minted = tf_api.mint(email="jane@example.com")
    tf_api.set_account(api_key="a-different-key")
    login(client, "analyst")

    response = client.post(reverse("certificates:claim"), claim_form(minted["cert_url"]), follow=True)

    assert AccountStatus.current().claiming_paused
    assert "Claiming is paused for the whole account" in response.content.decode()
    assert Certificate.objects.get().state == Certificate.State.PENDING


def test_an_expired_certificate_is_marked_expired_with_the_reason(client, tf_api):
    minted = tf_api.mint(email="jane@example.com", age_hours=80)
    login(client, "analyst")

    client.post(reverse("certificates:claim"), claim_form(minted["cert_url"]))

    certificate = Certificate.objects.get()
    assert certificate.state == Certificate.State.EXPIRED
    assert "expired or could not be found" in certificate.state_reason


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cert_url", "", "This field is required."),
        ("cert_url", "garbage", "not a TrustedForm certificate URL"),
        ("cert_url", "https://cert.trustedform.com/" + "a" * 2000, "too long"),
        ("cert_url", "http://cert.trustedform.com/" + "a" * 40, "must use https://"),
        ("vendor", "    ", "This field is required."),
        ("email", "jane.example.com", "Enter a whole email address"),
        ("phone", "555-12", "10-digit US phone number"),
    ],
)
def test_bad_input_gets_a_form_error_not_a_500(client, field, value, message):
    login(client, "analyst")
    data = claim_form("https://cert.trustedform.com/" + "a" * 40)
    data[field] = value

    response = client.post(reverse("certificates:claim"), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Certificate.objects.exists()


def test_a_viewer_cannot_claim(client):
    login(client, "viewer")
    certificate = make_certificate()

    assert client.get(reverse("certificates:claim")).status_code == 403
    assert client.post(reverse("certificates:claim-now", args=[certificate.pk])).status_code == 403
    assert client.post(reverse("certificates:check-in", args=[certificate.pk])).status_code == 403


def test_only_an_admin_reads_the_api_call_log(client):
    login(client, "manager")
    assert client.get(reverse("certificates:api-calls")).status_code == 403

    client.logout()
    login(client, "admin")
    assert client.get(reverse("certificates:api-calls")).status_code == 200


def test_the_certificate_list_shows_certificates_without_counting_them_all(client):
    login(client, "viewer")
    certificates = [make_certificate() for _ in range(3)]

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("certificates:list"))

    page = response.content.decode()
    assert all(c.get_absolute_url() in page for c in certificates)
    assert len(queries) <= 15  # bounded, whatever the number of rows
    assert not [q for q in queries if "COUNT(" in q["sql"].upper() and "certificates_certificate" in q["sql"]]


def test_the_api_key_appears_in_no_log_row_log_line_or_page(client, tf_api, api_key, caplog):
    caplog.set_level(logging.DEBUG)
    ok = tf_api.mint(email="jane@example.com", page_text=CONSENT)
    broken = tf_api.mint(email="jane@example.com")
    tf_api.cert_faults(broken["cert_id"], fail_next=["html500"])
    login(client, "admin")

    pages = []
    for minted in (ok, broken):
        pages.append(client.post(reverse("certificates:claim"), claim_form(minted["cert_url"]), follow=True))
    for certificate in Certificate.objects.all():
        pages.append(client.get(certificate.get_absolute_url()))
    pages.append(client.get(reverse("certificates:api-calls")))
    pages += [client.get(call.get_absolute_url()) for call in ApiCall.objects.all()]

    assert ApiCall.objects.count() == 2
    for call in ApiCall.objects.values():
        assert api_key not in str(call)
    assert all(api_key not in page.content.decode() for page in pages)
    assert api_key not in caplog.text


def test_the_home_page_shows_the_vendor_report_cards(client):
    login(client, "viewer")

    page = client.get(reverse("home")).content.decode()

    assert "Claims and vendors" in page
    assert "failure rate, last 7 days" in page

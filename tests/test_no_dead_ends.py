"""No dead ends: a certificate always says what happened, whether it was billed and what a person can
do; what could be known before sending is never sent. Over real sockets against the sandbox."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from certificates import claiming, correcting, sweeping
from certificates.models import ApiCall, Certificate, LeadCorrection
from tests.factories import make_certificate, make_user, make_vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def v4(settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    claiming.get_client.cache_clear()
    yield
    claiming.get_client.cache_clear()


def claim_form(client, cert_url: str, **lead):
    data = {"cert_url": cert_url, "vendor": "Acme Leads", "email": "", "phone": "", "reference": "", **lead}
    return client.post(reverse("certificates:claim"), data, follow=True)


def test_a_lead_without_email_or_phone_is_held_not_sent_and_claimed_once_completed(client, tf_api, v4):
    minted = tf_api.mint(email="jane@example.com")
    client.force_login(make_user("analyst"))

    first = claim_form(client, minted["cert_url"]).content.decode()
    certificate = Certificate.objects.get()

    assert certificate.state == Certificate.State.HELD
    assert "needs the lead&#x27;s email or phone" in first and "Not billed: nothing was retained." in first
    assert not ApiCall.objects.exists() and tf_api.requests(cert_id=minted["cert_id"]) == []

    second = claim_form(client, minted["cert_url"], email="jane@example.com").content.decode()

    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.CLAIMED, second
    assert "already not claimable" not in second and "Claimed: outcome success" in second
    assert len(tf_api.certificate(minted["cert_id"])["claims"]) == 1
    assert LeadCorrection.objects.get().changes == {"lead_email": ["", "jane@example.com"]}


def test_the_command_refuses_a_v4_claim_without_email_or_phone_before_sending(tf_api, v4):
    minted = tf_api.mint(email="jane@example.com")
    out = io.StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("claim_certificate", minted["cert_url"], "--json", stdout=out)

    error = json.loads(out.getvalue().strip().splitlines()[-1])["error"]
    assert failure.value.returncode == 1
    assert "v4 claim needs the lead's email or phone" in error["reason"] and error["retryable"] is False
    assert not ApiCall.objects.exists() and tf_api.requests(cert_id=minted["cert_id"]) == []


def test_a_person_corrects_a_held_lead_and_it_is_claimed_with_the_correction_kept(
    client, tf_api, v4, django_capture_on_commit_callbacks
):
    minted = tf_api.mint(email="jane@example.com", phone="6145550142")
    certificate = make_certificate(minted["cert_url"], vendor=make_vendor("Acme Leads"))
    Certificate.objects.filter(pk=certificate.pk).update(state=Certificate.State.HELD, state_reason="x")
    analyst = make_user("analyst")
    client.force_login(analyst)

    page = client.get(certificate.get_absolute_url()).content.decode()
    assert 'data-testid="correct-lead"' in page

    with django_capture_on_commit_callbacks(execute=True):  # wakes the worker, which the tests run at once
        response = client.post(
            reverse("certificates:correct-lead", args=[certificate.pk]),
            {"lead_email": "", "lead_phone": "+1 (614) 555-0142", "reference": "R-9", "vendor": "Acme Leads"},
            follow=True,
        )

    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.CLAIMED
    assert certificate.phone_normalised == "6145550142" and certificate.reference == "R-9"
    correction = LeadCorrection.objects.get()
    assert correction.changed_by == analyst and correction.requeued
    assert correction.changes == {"lead_phone": ["", "+1 (614) 555-0142"], "reference": ["", "R-9"]}
    assert "+1 (614) 555-0142" in response.content.decode()  # the correction is listed on the page


def test_a_final_certificate_cannot_be_corrected(client, tf_api):
    certificate = make_certificate(email="jane@example.com")
    Certificate.objects.filter(pk=certificate.pk).update(state=Certificate.State.CLAIMED)
    client.force_login(make_user("analyst"))

    page = client.get(certificate.get_absolute_url()).content.decode()
    response = client.post(
        reverse("certificates:correct-lead", args=[certificate.pk]),
        {
            "lead_email": "john@example.com",
            "lead_phone": "",
            "reference": "",
            "vendor": certificate.vendor.name,
        },
        follow=True,
    )

    assert 'data-testid="correct-lead"' not in page
    assert "what was claimed is evidence" in response.content.decode()
    assert Certificate.objects.get().lead_email == "jane@example.com"


def test_a_correction_is_always_someones_and_nobody_changes_a_lead_anonymously():
    certificate = make_certificate(email="jane@example.com")

    with pytest.raises(correcting.NotCorrectable, match="signed-in person"):
        correcting.correct_lead(
            certificate, user=None, lead_email="john@example.com", lead_phone="", reference="",
            vendor=certificate.vendor,
        )  # fmt: skip

    assert Certificate.objects.get().lead_email == "jane@example.com"
    assert not LeadCorrection.objects.exists()


def test_a_correction_longer_than_a_field_allows_gets_an_error_not_a_cut(client):
    certificate = make_certificate()
    client.force_login(make_user("analyst"))

    response = client.post(
        reverse("certificates:correct-lead", args=[certificate.pk]),
        {"lead_email": "", "lead_phone": "", "reference": "R" * 300, "vendor": certificate.vendor.name},
    )

    assert response.status_code == 400
    assert "Ensure this value has at most 255 characters" in response.content.decode()
    assert not LeadCorrection.objects.exists()


def test_a_400_for_the_request_as_sent_holds_the_certificate_for_a_fix(client, tf_api):
    minted = tf_api.mint(email="jane@example.com")
    certificate = make_certificate(minted["cert_url"], email="jane@example.com")
    tf_api.cert_faults(
        minted["cert_id"],
        respond={"status": 400, "body": {"outcome": "error", "reason": "Invalid delimiter length"}},
    )

    with pytest.raises(claiming.TrustedFormError):
        claiming.claim_certificate(certificate)

    certificate.refresh_from_db()
    assert certificate.state == Certificate.State.HELD and not certificate.is_final
    assert "Invalid delimiter length" in certificate.state_reason
    client.force_login(make_user("analyst"))
    page = client.get(certificate.get_absolute_url()).content.decode()
    assert "Not billed: nothing was retained." in page and "Correct the lead" in page


@pytest.mark.parametrize(
    ("state", "outcome", "billed"),
    [
        (
            "claimed",
            "failure",
            "Billed: a retained certificate is billed, whether its checks passed or failed.",
        ),
        ("error", "", "Not billed: TrustedForm answered with an error, which retains nothing."),
        ("expired", "", "Not billed."),
        ("cancelled", "", "Not billed."),
        ("pending", "", "Not billed yet."),
    ],
)
def test_every_state_says_what_happened_whether_it_was_billed_and_what_to_do(client, state, outcome, billed):
    certificate = make_certificate(email="jane@example.com")
    Certificate.objects.filter(pk=certificate.pk).update(state=state, outcome=outcome)
    client.force_login(make_user("analyst"))

    page = client.get(certificate.get_absolute_url()).content.decode()

    assert 'data-testid="next-step"' in page
    assert billed in page.replace("&#x27;", "'")


def test_the_sweep_checks_in_a_held_certificate_before_its_window_closes(tf_api, v4):
    minted = tf_api.mint()
    certificate = make_certificate(minted["cert_url"])
    Certificate.objects.filter(pk=certificate.pk).update(
        state=Certificate.State.HELD, claim_deadline=timezone.now() + timedelta(minutes=30)
    )

    stats = sweeping.sweep()

    certificate.refresh_from_db()
    assert stats.checked_in == 1 and certificate.checked_in_at is not None
    assert certificate.state == Certificate.State.HELD

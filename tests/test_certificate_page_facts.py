"""The certificate page says exactly what happened: the JSON TrustedForm sent, the version a request
went out with, the share link, whether the deadline is past, and the time zone of every time."""

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.urls import reverse

from certificates import claiming
from certificates.models import Certificate
from certificates.tables import short_datetime
from certificates.templatetags.tfdash_format import when
from tests.factories import PASSWORD, make_certificate, make_user

pytestmark = pytest.mark.django_db

CONSENT = "I agree that Acme Mortgage may call me at the number provided, including by autodialer."


@pytest.fixture
def analyst_client(client):
    user = make_user("analyst")
    client.login(username=user.username, password=PASSWORD)
    return client


def claimed(tf_api) -> Certificate:
    minted = tf_api.mint(email="jane@example.com", phone="5125551212", page_text=CONSENT)
    certificate = make_certificate(minted["cert_url"], email="jane@example.com")
    claiming.claim_certificate(certificate)
    certificate.refresh_from_db()
    return certificate


def detail(client, certificate: Certificate) -> str:
    response = client.get(reverse("certificates:detail", args=[certificate.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_raw_insights_are_shown_as_json_that_parses(analyst_client, tf_api):
    certificate = claimed(tf_api)

    page = detail(analyst_client, certificate)

    shown = re.search(r"<summary>Raw insights JSON</summary><pre>(.*?)</pre>", page, re.S)
    assert shown, "the claim's insights are on the page"
    data = json.loads(unescape(shown.group(1)))
    assert data == certificate.claims.get().insights["raw"]
    assert "'" not in unescape(shown.group(1)).replace("\\'", "")  # no Python repr quotes


def test_view_again_shows_the_version_the_request_was_sent_with(analyst_client, tf_api):
    certificate = claimed(tf_api)
    assert certificate.claims.get().api_call.api_version == "4.0"

    response = analyst_client.post(reverse("certificates:view-again", args=[certificate.pk]), follow=True)

    latest = certificate.claims.first()
    assert latest.api_call.operation == "view" and latest.api_call.api_version == "3.0"
    header = re.search(r"TrustedForm's answer <span[^>]*>(.*?)</span></h2>", response.content.decode(), re.S)
    assert "viewed again, sent as API v3.0" in header.group(1)
    assert "v4.0" not in header.group(1)


def test_a_claim_shows_the_version_it_was_sent_with(analyst_client, tf_api):
    page = detail(analyst_client, claimed(tf_api))

    assert "· sent as API v4.0" in page


def test_the_share_url_of_the_answer_is_a_link(analyst_client, tf_api):
    certificate = claimed(tf_api)
    url = certificate.claims.get().raw_response["retain"]["results"]["share_url"]

    page = detail(analyst_client, certificate)

    assert url.startswith("https://") and "shared_token=" in url
    assert f'href="{url}" rel="noopener noreferrer" data-testid="share-url"' in unescape(page)


def test_a_share_url_that_is_not_https_is_not_a_link(analyst_client, tf_api):
    certificate = claimed(tf_api)
    claim = certificate.claims.get()
    claim.raw_response["retain"]["results"]["share_url"] = "javascript:alert(1)"
    claim.save(update_fields=["raw_response"])

    page = detail(analyst_client, certificate)

    assert "Share link" not in page and "javascript:" not in page


def test_an_answer_without_a_share_url_shows_no_share_link(analyst_client):
    certificate = make_certificate(email="jane@example.com")

    page = detail(analyst_client, certificate)

    assert "Share link" not in page


@pytest.mark.parametrize(
    ("hours", "label"), [(30, "Deadline"), (-2, "Was due")], ids=["future deadline", "past deadline"]
)
@pytest.mark.parametrize("state", [Certificate.State.PENDING, Certificate.State.CANCELLED])
def test_the_deadline_is_called_was_due_only_once_it_has_passed(analyst_client, state, hours, label):
    certificate = make_certificate(email="jane@example.com")
    Certificate.objects.filter(pk=certificate.pk).update(
        state=state, claim_deadline=datetime.now(UTC) + timedelta(hours=hours)
    )

    page = detail(analyst_client, certificate)

    assert f"<dt>{label}</dt>" in page
    other = "Was due" if label == "Deadline" else "Deadline"
    assert f"<dt>{other}</dt>" not in page


@time_machine.travel(datetime(2026, 7, 3, 18, 7, tzinfo=UTC), tick=False)
def test_times_carry_the_configured_time_zone(analyst_client, settings):
    settings.TIME_ZONE = "America/New_York"
    certificate = make_certificate(email="jane@example.com")

    page = detail(analyst_client, certificate)
    listed = analyst_client.get(reverse("certificates:list")).content.decode()

    assert "<dt>Received</dt><dd>Jul 3, 14:07 EDT</dd>" in page
    assert "Jul 6, 14:07 EDT" in page  # the deadline, 72 hours on
    assert "Jul 3, 14:07 EDT" in listed


def test_times_outside_this_year_carry_the_year_and_seconds_on_request(settings):
    settings.TIME_ZONE = "UTC"
    moment = datetime(2024, 12, 3, 14, 7, 9, tzinfo=UTC)

    assert when(moment) == "Dec 3, 2024, 14:07 UTC"
    assert when(moment, "seconds") == "Dec 3, 2024, 14:07:09 UTC"
    assert short_datetime(datetime.now(UTC).replace(month=1, day=5, hour=9, minute=30)) == "Jan 5, 09:30 UTC"
    assert when(None) == ""

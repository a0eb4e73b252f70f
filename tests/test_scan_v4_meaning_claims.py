"""Differential, over real sockets: the scan preview's decision and wire form are what the sandbox's claim
sends and decides, in API v3 and v4; a v4 claim that split a template says so on the certificate page."""

import json

import pytest
from django.urls import reverse

from certificates import claiming
from certificates.models import Certificate
from scanning import profiles
from scanning.previewing import preview_scan
from tests.factories import PASSWORD, make_certificate, make_user, make_vendor
from tests.scanning_factories import make_profile, make_template, make_term

pytestmark = pytest.mark.django_db

TEMPLATE = "I agree to be called on behalf of {{company}} at the telephone number provided."
ROWS = [{"company": "Acme Mortgage"}, {"company": "Mortgage Acme"}]
SENTENCE = "I agree to be called on behalf of {} at the telephone number provided."
PAGES = {
    "one row": "Submit. " + SENTENCE.format("Mortgage Acme") + " Consent is optional.",
    "both rows": SENTENCE.format("Mortgage Acme") + " " + SENTENCE.format("Acme Mortgage"),
    "no row": "I agree to be called by Acme at the number I gave. Consent is optional.",
}
# v3: found when any row is; v4: every row is its own required term.
EXPECTED = {
    ("3.0", "one row"): True,
    ("3.0", "both rows"): True,
    ("3.0", "no row"): False,
    ("4.0", "one row"): False,
    ("4.0", "both rows"): True,
    ("4.0", "no row"): False,
}


@pytest.fixture
def api_version(request, settings, tf_api):
    settings.TRUSTEDFORM_API_VERSION = request.param
    claiming.get_client.cache_clear()
    profiles.clear_cache()
    yield request.param
    profiles.clear_cache()


def claimed(tf_api, vendor, page_text: str) -> Certificate:
    minted = tf_api.mint(email="jane@example.com", page_text=page_text)
    certificate = make_certificate(minted["cert_url"], vendor=vendor, email="jane@example.com")
    claiming.claim_certificate(certificate)
    certificate.refresh_from_db()
    return certificate


@pytest.mark.parametrize("api_version", ["3.0", "4.0"], indirect=True)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_preview_decides_what_the_sandbox_claim_decides(tf_api, api_version, page):
    vendor = make_vendor("Acme Leads")
    profile = make_profile(
        "Acme TCPA",
        vendors=[vendor],
        terms=[make_term("Consent is optional", kind="forbidden")] if page == "no row" else [],
        templates=[make_template(TEMPLATE, ROWS, name="TCPA")],
    )

    preview = preview_scan(page_text=PAGES[page], profile=profile, api_version=api_version)
    certificate = claimed(tf_api, vendor, PAGES[page])

    claim = certificate.claims.get()
    assert claim.api_version == api_version
    assert preview.success is claim.scan_success is EXPECTED[(api_version, page)]
    sent = json.loads(certificate.api_calls.get().request_body)
    wire = json.loads(preview.wire)
    if api_version == "4.0":
        assert wire["insights"]["scans"] == sent["insights"]["scans"]
    else:
        assert {k: sent[k] for k in wire} == wire


@pytest.mark.parametrize("api_version", ["4.0"], indirect=True)
def test_a_v4_claim_that_split_a_template_says_v3_would_have_passed(client, tf_api, api_version):
    vendor = make_vendor("Acme Leads")
    make_profile("Acme TCPA", vendors=[vendor], templates=[make_template(TEMPLATE, ROWS, name="TCPA")])
    certificate = claimed(tf_api, vendor, PAGES["one row"])
    user = make_user("analyst")
    client.login(username=user.username, password=PASSWORD)

    page = client.get(reverse("certificates:detail", args=[certificate.pk])).content.decode()

    assert 'data-testid="claim-v4-meaning"' in page
    assert (
        "the 2 rows of “TCPA” went as 2 required terms that all had to be on the page (1 of 2 found)" in page
    )
    assert "with v3 this scan would have passed" in page


@pytest.mark.parametrize("api_version", ["3.0"], indirect=True)
def test_a_v3_claim_says_nothing_about_v4(client, tf_api, api_version):
    vendor = make_vendor("Acme Leads")
    make_profile("Acme TCPA", vendors=[vendor], templates=[make_template(TEMPLATE, ROWS, name="TCPA")])
    certificate = claimed(tf_api, vendor, PAGES["one row"])
    user = make_user("analyst")
    client.login(username=user.username, password=PASSWORD)

    page = client.get(reverse("certificates:detail", args=[certificate.pk])).content.decode()

    assert certificate.scan_success is True
    assert 'data-testid="claim-v4-meaning"' not in page

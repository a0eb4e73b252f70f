"""A claim of a vendor's certificate sends the vendor's scan profile, and the Claim keeps what was found."""

import json

import pytest

from certificates import claiming
from certificates.models import Certificate
from scanning import profiles
from scanning.models import Kind
from tests.factories import make_certificate, make_vendor
from tests.scanning_factories import make_profile, make_template, make_term

pytestmark = pytest.mark.django_db

PAGE = (
    "By clicking Submit I agree to be called on behalf of Mortgage Acme at the telephone number provided, "
    "including by pre-recorded calls. Consent is not a condition of purchase."
)
TEMPLATE = "on behalf of |company| at the telephone number"
COMPANIES = [{"company": "Acme Mortgage"}, {"company": "Mortgage Acme"}, {"company": "Acme Loans"}]


@pytest.fixture
def api_version(request, settings, tf_api):
    settings.TRUSTEDFORM_API_VERSION = request.param
    claiming.get_client.cache_clear()
    profiles.clear_cache()
    return request.param


def vendor_with_profile():
    vendor = make_vendor("Acme Leads")
    make_profile(
        "Acme TCPA",
        delimiter="|",
        vendors=[vendor],
        terms=[
            make_term("including by |*| calls."),  # found: the wildcard spans "pre-recorded"
            make_term("including by prerecorded calls."),  # not found: the page has a hyphen
            make_term("not a condition of purchase", kind=Kind.FORBIDDEN),  # found: forbidden
            make_term("sell your data", kind=Kind.FORBIDDEN),  # not found
        ],
        templates=[make_template(TEMPLATE, COMPANIES, name="On behalf of", delimiter="|")],
    )
    return vendor


def claim(tf_api, vendor) -> Certificate:
    minted = tf_api.mint(email="jane@example.com", page_text=PAGE)
    certificate = make_certificate(minted["cert_url"], vendor=vendor, email="jane@example.com")
    claiming.claim_certificate(certificate)
    certificate.refresh_from_db()
    return certificate


@pytest.mark.parametrize("api_version", ["3.0"], indirect=True)
def test_a_v3_claim_sends_the_template_and_stores_it_as_found(tf_api, api_version):
    certificate = claim(tf_api, vendor_with_profile())

    scans = certificate.claims.get().scans
    assert scans["required_found"] == [
        "including by |*| calls.",
        json.dumps({"template": TEMPLATE, "variables": COMPANIES}, sort_keys=True),
    ]
    assert scans["required_not_found"] == ["including by prerecorded calls."]
    assert scans["forbidden_found"] == ["not a condition of purchase"]
    assert scans["forbidden_not_found"] == ["sell your data"]
    assert certificate.scan_success is False
    sent = json.loads(certificate.api_calls.get().request_body)
    assert sent["scan_delimiter"] == "|"
    assert sent["required_scan_terms"][-1] == {"template": TEMPLATE, "variables": COMPANIES}


@pytest.mark.parametrize("api_version", ["4.0"], indirect=True)
def test_a_v4_claim_sends_each_company_as_a_term_and_stores_which_were_found(tf_api, api_version):
    certificate = claim(tf_api, vendor_with_profile())

    scans = certificate.claims.get().scans
    # v4 has no templates: each row is its own required term, so the rows not on the page are missing.
    assert scans["required_found"] == [
        "including by |*| calls.",
        "on behalf of Mortgage Acme at the telephone number",
    ]
    assert scans["required_not_found"] == [
        "including by prerecorded calls.",
        "on behalf of Acme Mortgage at the telephone number",
        "on behalf of Acme Loans at the telephone number",
    ]
    assert scans["forbidden_found"] == ["not a condition of purchase"]
    assert scans["forbidden_not_found"] == ["sell your data"]
    assert certificate.scan_success is False
    sent = json.loads(certificate.api_calls.get().request_body)
    assert sent["insights"]["scans"]["delimiter"] == "|"
    assert len(sent["insights"]["scans"]["required"]) == 5


@pytest.mark.parametrize("api_version", ["3.0", "4.0"], indirect=True)
def test_a_vendor_without_a_profile_is_claimed_without_a_scan(tf_api, api_version):
    certificate = claim(tf_api, make_vendor("No profile"))

    assert certificate.state == Certificate.State.CLAIMED
    assert certificate.claims.get().scan_success is None

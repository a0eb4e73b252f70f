"""A US phone matches however it was typed, on the certificate and on the lead (sandbox/readings.py, §5).

The consumer types a phone on the form (the sandbox fingerprints it when it mints a certificate) and
tfdash sends the lead's phone with the claim (trustedform/leads.py). Both sides reduce it
to the 10-digit national number, so a correct lead is never a billed failure over "+1" or dots.
"""

import contextlib
import hashlib
import json
import re
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command

from certificates import claiming
from certificates.forms import clean_lead_phone
from certificates.models import Certificate
from tests.factories import make_certificate
from trustedform import V3, V4, Lead, TrustedFormClient, fingerprint, normalise_phone

NATIONAL = "6145550142"
NATIONAL_SHA1 = hashlib.sha1(NATIONAL.encode()).hexdigest()

# Every common way to type one US number, as a consumer on a form or a vendor in a lead file would.
TYPED = [
    "6145550142",
    "614 555 0142",
    "614.555.0142",
    "614-555-0142",
    "614 - 555 - 0142",
    "(614) 555-0142",
    "(614)555-0142",
    "(614) 555 0142",
    "[614] 555-0142",
    "+1 (614) 555-0142",
    "+1 614 555 0142",
    "+1-614-555-0142",
    "+1.614.555.0142",
    "+16145550142",
    "1-614-555-0142",
    "1 (614) 555-0142",
    "1.614.555.0142",
    "16145550142",
    "  614-555-0142  ",
    "\t(614)\u00a0555-0142\n",
    "#614-555-0142",
    "614-555-0142.",
    '"614-555-0142"',
]

# Junk a lead file carries around the number: every non-digit goes, so these are the same phone too.
LEAD_JUNK = [
    "tel: 614 555 0142",
    "tel:+1-614-555-0142",
    "Phone: (614) 555-0142",
    "614-555-0142 ext",
    "614 555 0142 (mobile)",
]

# What a consumer types that Certify does not fingerprint as a phone: letters, an extension's
# digits, too few or too many digits, a non-NANP number, no run of 3 digits.
NOT_A_PHONE = [
    "tel: 614 555 0142",
    "614-555-0142 ext",
    "614-555-0142 x7",
    "614-555-0142 ext. 12",
    "555-0142",
    "614555014",
    "26145550142",
    "+44 20 7946 0958",
    "014-555-0142",
    "614-055-0142",
    "6-1-4-5-5-5-0-1-4-2",
]


def client(sandbox, api_key: str, version: str) -> TrustedFormClient:
    return TrustedFormClient(
        api_key=api_key,
        api_base=sandbox.base_url,
        allowed_hosts=["cert.trustedform.com"],
        api_version=version,
        pool_size=2,
    )


def claim_command(cert_url: str, *args: str) -> dict:
    out = StringIO()
    with contextlib.suppress(CommandError):  # the printed JSON says why; the assertions read it
        call_command("claim_certificate", cert_url, *args, "--json", stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


# --- the sandbox: what a certificate holds --------------------------------------------------------------------


@pytest.mark.parametrize("typed", TYPED)
def test_every_typed_shape_of_a_us_number_is_one_certificate_fingerprint(sandbox, typed):
    cert = sandbox.mint(phone=typed)

    assert sandbox.certificate(cert["cert_id"])["phone_fingerprints"] == [NATIONAL_SHA1]


@pytest.mark.parametrize("typed", NOT_A_PHONE)
def test_what_is_not_a_us_phone_leaves_the_certificate_without_a_phone_fingerprint(sandbox, typed):
    cert = sandbox.mint(email="jane@example.com", phone=typed)

    assert sandbox.certificate(cert["cert_id"])["phone_fingerprints"] == []


def test_the_demo_form_fingerprints_a_phone_typed_with_a_country_code(sandbox):
    answer = requests.post(
        f"{sandbox.base_url}/demo/", data={"name": "Jane", "phone": "+1 (614) 555-0142"}, timeout=10
    )
    cert_id = re.search(r"https://cert\.trustedform\.com/([0-9a-f]{40})", answer.text)[1]

    assert sandbox.certificate(cert_id)["phone_fingerprints"] == [NATIONAL_SHA1]


@pytest.mark.parametrize("typed", TYPED + LEAD_JUNK)
def test_match_lead_normalises_any_shape_to_the_certificates_fingerprint(sandbox, api_key, typed):
    cert = sandbox.mint(phone="+1 (614) 555-0142")

    answer = requests.post(
        f"{sandbox.base_url}/{cert['cert_id']}",
        json={"match_lead": {"phone": typed}},
        headers={"Api-Version": "4.0"},
        auth=("API", api_key),
        timeout=10,
    )

    assert answer.json()["match_lead"]["result"]["phone_match"] is True


@pytest.mark.parametrize("other", ["6145550143", "16145550143", "26145550142", "614555014", "7145550142"])
def test_a_different_number_never_matches(sandbox, api_key, other):
    cert = sandbox.mint(phone="+1 (614) 555-0142")

    result = client(sandbox, api_key, V4).claim(cert["cert_url"], Lead(phone=other))

    assert result.phone_matched is False
    assert result.outcome == "failure"


# --- the client: what a claim sends -----------------------------------------------------------------------------


@pytest.mark.parametrize("typed", TYPED + LEAD_JUNK)
def test_the_client_normalises_every_shape_to_ten_digits(typed):
    assert normalise_phone(typed) == NATIONAL
    assert fingerprint(normalise_phone(typed)) == NATIONAL_SHA1


@pytest.mark.parametrize(("typed", "digits"), [("614-555-0142 x7", "61455501427"), ("555-0142", "5550142")])
def test_digits_are_never_junk_so_an_extension_is_not_a_ten_digit_phone(typed, digits):
    assert normalise_phone(typed) == digits


def test_the_documented_phone_vectors_still_hold():
    assert fingerprint(normalise_phone("(513) 555-6719")) == "d511850d569bcd7802c30f54de34bb9f2b31eede"
    assert fingerprint(normalise_phone("512-298-1234")) == "82bf338107a866bd77e0a013d246c758b18c5a4b"
    assert fingerprint(normalise_phone("512.555.5785")) == "921e1dbc260148681f6f14a966c3e3242a4d3912"


@pytest.mark.parametrize("version", [V3, V4])
@pytest.mark.parametrize("typed", TYPED + LEAD_JUNK)
def test_a_lead_typed_in_any_shape_matches_over_the_wire(sandbox, api_key, version, typed):
    cert = sandbox.mint(phone="614.555.0142")

    result = client(sandbox, api_key, version).claim(cert["cert_url"], Lead(phone=typed))

    assert result.phone_matched is True
    assert result.outcome == "success"


# --- the product: the command, the claim pipeline and the stored lead -------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["3", "4"])
@pytest.mark.parametrize("typed", ["+1 (614) 555-0142", "1-614-555-0142", "614.555.0142", "(614) 555 0142"])
def test_claim_certificate_matches_a_phone_the_consumer_typed_with_a_country_code(tf_api, version, typed):
    cert = tf_api.mint(phone=typed)

    result = claim_command(cert["cert_url"], "--phone", NATIONAL, "--api-version", version)

    assert result["phone_matched"] is True
    assert result["outcome"] == "success"
    assert result["fingerprints"] == "all"


@pytest.mark.django_db
def test_a_lead_imported_with_a_country_code_claims_without_review(tf_api):
    minted = tf_api.mint(phone="614.555.0142")
    certificate = make_certificate(minted["cert_url"], phone="+1 (614) 555-0142")

    claim = claiming.claim_certificate(certificate)

    certificate.refresh_from_db()
    assert certificate.phone_normalised == NATIONAL
    assert claim.phone_matched is True
    assert certificate.outcome == "success"
    assert certificate.review_status != Certificate.ReviewStatus.OPEN


@pytest.mark.parametrize("typed", ["+1 (614) 555-0142", "1-614-555-0142", "tel: 614.555.0142"])
def test_the_claim_form_accepts_a_country_code(typed):
    assert clean_lead_phone(typed) == typed.strip()

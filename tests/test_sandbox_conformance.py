"""The sandbox against docs/trustedform.md, section by section.

Everything goes over real HTTP to a sandbox process; the knobs under /_sandbox/ set up each case.
Run alone with: pytest -p tests.support.sandbox_fixtures --rootdir . -o pythonpath=. tests/test_sandbox_*.py
"""

import json
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.support.sandbox import REPO_ROOT, SandboxAdmin, start_sandbox

FIXTURES = Path(__file__).parent / "fixtures" / "trustedform"
KELLY = "kelly@thethings.biz"
KELLY_SHA1 = "c4a8e7fe184993964ae81380e91579015306838a"
PHONE = "(513) 555-6719"
PHONE_SHA1 = "d511850d569bcd7802c30f54de34bb9f2b31eede"
NOT_FOUND_V4 = {"outcome": "error", "reason": "TrustedForm certificate has expired or could not be found"}
NOT_FOUND_V3 = {"outcome": "failure", "reason": "certificate not found"}
HOUR = 3600
DAY = 24 * HOUR


def post(
    sandbox: SandboxAdmin,
    path: str,
    body: object = None,
    *,
    version: str | None = "4.0",
    key: str | None = None,
    form: dict | str | None = None,
    headers: dict | None = None,
    timeout: float = 10,
) -> requests.Response:
    """POST to the emulated API like a client would: Basic API:<key>, JSON unless a form is given."""
    all_headers = {"Api-Version": version} if version else {}
    all_headers.update(headers or {})
    auth = ("API", sandbox.api_key if key is None else key)
    url = f"{sandbox.base_url}/{path}"
    if form is not None:
        return requests.post(url, data=form, headers=all_headers, auth=auth, timeout=timeout)
    return requests.post(url, json=body, headers=all_headers, auth=auth, timeout=timeout)


def get(
    sandbox: SandboxAdmin, path: str, *, version: str | None = None, key: str | None = None
) -> requests.Response:
    headers = {"Api-Version": version} if version else {}
    return requests.get(
        f"{sandbox.base_url}/{path}", headers=headers, auth=("API", key or sandbox.api_key), timeout=10
    )


def retain_body(email: str = KELLY, **extra: object) -> dict:
    return {
        "match_lead": {"email": email},
        "retain": {"reference": "lead-1", "vendor": "Acme Leads"},
        **extra,
    }


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def alive(sandbox: SandboxAdmin, cert_id: str) -> int:
    """The status of a non-claiming v4 call, to probe a certificate's window without using a claim."""
    return post(sandbox, cert_id, {"insights": {"properties": ["age_seconds"]}}).status_code


# --- §0 / §1 / §2: endpoints, versions, auth -------------------------------------------------------------


def test_v4_claim_with_match_lead_and_retain_answers_200_success(sandbox):
    cert = sandbox.mint(email=KELLY, phone=PHONE)
    answer = post(sandbox, cert["cert_id"], retain_body())
    assert answer.status_code == 200
    body = answer.json()
    assert body["outcome"] == "success" and body["reason"] is None
    assert body["match_lead"] == {
        "email": KELLY,
        "result": {"email_match": True, "phone_match": None, "success": True},
    }
    assert body["retain"]["reference"] == "lead-1" and body["retain"]["vendor"] == "Acme Leads"
    assert body["retain"]["results"]["previously_retained"] is False
    assert re.fullmatch(
        r"https://cert\.trustedform\.com/[0-9a-f]{40}", body["retain"]["results"]["masked_cert_url"]
    )
    assert float(answer.headers["X-Runtime"]) >= 0


def test_v3_claim_answers_201_with_the_consent_shape(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = post(sandbox, cert["cert_id"], {"email": KELLY, "reference": "r", "vendor": "v"}, version="3.0")
    assert answer.status_code == 201
    body = answer.json()
    assert {
        "outcome",
        "reason",
        "is_masked",
        "masked_cert_url",
        "fingerprints",
        "scans",
        "warnings",
        "cert",
    } <= set(body)
    assert set(body["scans"]) == {
        "required_found",
        "required_not_found",
        "forbidden_found",
        "forbidden_not_found",
    }
    assert body["outcome"] == "success" and body["reason"] == ""
    assert body["fingerprints"] == {"matching": [KELLY_SHA1], "non_matching": []}
    assert body["reference"] == "r" and body["vendor"] == "v"


@pytest.mark.parametrize(
    ("header", "value", "status"), [("api-version", "4", 200), ("API-VERSION", "3", 201)]
)
def test_api_version_header_is_case_insensitive_and_accepts_short_forms(sandbox, header, value, status):
    cert = sandbox.mint(email=KELLY)
    answer = post(sandbox, cert["cert_id"], retain_body(), version=None, headers={header: value})
    assert answer.status_code == status


def test_missing_api_version_uses_the_account_default(sandbox):
    cert = sandbox.mint(email=KELLY)
    assert post(sandbox, cert["cert_id"], retain_body(), version=None).status_code == 201
    sandbox.set_account(default_api_version="4.0")
    assert post(sandbox, cert["cert_id"], retain_body(), version=None).status_code == 200


def test_an_unsupported_api_version_is_400(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = post(sandbox, cert["cert_id"], retain_body(), version="2.0")
    assert answer.status_code == 400
    assert answer.json() == {"outcome": "error", "reason": "Unsupported API version"}


def test_the_username_is_ignored_and_the_key_is_the_password(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = requests.post(
        f"{sandbox.base_url}/{cert['cert_id']}",
        json=retain_body(),
        headers={"Api-Version": "4.0"},
        auth=("X", sandbox.api_key),
        timeout=10,
    )
    assert answer.status_code == 200


def test_v4_wrong_key_is_401_with_the_spec_body(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = post(sandbox, cert["cert_id"], retain_body(), key="wrong")
    assert answer.status_code == 401
    assert answer.json() == {"outcome": "error", "reason": "Unauthorized"}


def test_v3_missing_auth_is_401_with_errors_detail_body(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = requests.post(
        f"{sandbox.base_url}/{cert['cert_id']}", json={}, headers={"Api-Version": "3.0"}, timeout=10
    )
    assert answer.status_code == 401
    assert answer.json() == {"errors": {"detail": "Unauthorized"}, "message": "Unauthorized"}


def test_a_changed_api_key_is_required_afterwards(sandbox):
    cert = sandbox.mint(email=KELLY)
    old_key = sandbox.api_key
    sandbox.set_account(api_key="rotated-key")
    assert post(sandbox, cert["cert_id"], retain_body(), key=old_key).status_code == 401
    assert post(sandbox, cert["cert_id"], retain_body(), key="rotated-key").status_code == 200


@pytest.mark.parametrize(
    ("version", "body"),
    [
        ("4.0", {"outcome": "error", "reason": "Account is inactive"}),
        ("3.0", {"outcome": "failure", "reason": "account is inactive"}),
    ],
)
def test_an_inactive_account_is_402(sandbox, version, body):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_account(active=False)
    answer = post(sandbox, cert["cert_id"], retain_body(), version=version)
    assert (answer.status_code, answer.json()) == (402, body)


@pytest.mark.parametrize("bad_id", ["1234", "g" * 41, "0.", "x" * 256, "abc$def", "ab" * 19 + "a.b"])
def test_a_malformed_certificate_id_is_400_with_the_bad_request_body(sandbox, bad_id):
    answer = post(sandbox, bad_id, retain_body())
    assert answer.status_code == 400
    assert answer.json() == {
        "errors": {"detail": "Malformed certificate id"},
        "message": "Malformed certificate id",
        "outcome": "error",
        "reason": "Malformed certificate id",
    }


@pytest.mark.parametrize(("version", "body"), [("4.0", NOT_FOUND_V4), ("3.0", NOT_FOUND_V3)])
def test_an_unknown_certificate_is_404(sandbox, version, body):
    answer = post(sandbox, "ab" * 20, retain_body(), version=version)
    assert (answer.status_code, answer.json()) == (404, body)


@pytest.mark.parametrize(
    ("version", "body"),
    [
        ("4.0", {"outcome": "error", "reason": "Certificate is not claimable"}),
        ("3.0", {"outcome": "failure", "reason": "certificate not claimable"}),
    ],
)
def test_a_sandbox_certificate_is_405(sandbox, version, body):
    cert = sandbox.mint(email=KELLY, sandbox=True)
    answer = post(sandbox, cert["cert_id"], retain_body(), version=version)
    assert (answer.status_code, answer.json()) == (405, body)


def test_an_operation_the_account_has_not_contracted_is_403(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_account(products=["retain"])
    answer = post(sandbox, cert["cert_id"], {"insights": {"properties": ["ip"]}})
    assert answer.status_code == 403
    assert answer.json() == {"outcome": "error", "reason": "Unavailable product requested: Insights"}
    assert post(sandbox, cert["cert_id"], retain_body()).status_code == 200


def test_v3_claim_without_the_retain_product_is_403(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_account(products=["insights"])
    answer = post(sandbox, cert["cert_id"], {"email": KELLY}, version="3.0")
    assert answer.status_code == 403


def test_a_request_with_no_operations_is_400_no_valid_products(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = post(sandbox, cert["cert_id"], {})
    assert (answer.status_code, answer.json()) == (
        400,
        {"outcome": "error", "reason": "No valid products detected"},
    )


def test_an_account_with_no_products_is_400_no_valid_products(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_account(products=[])
    answer = post(sandbox, cert["cert_id"], retain_body())
    assert (answer.status_code, answer.json()["reason"]) == (400, "No valid products detected")


def test_v4_retain_without_match_lead_is_an_error(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = post(sandbox, cert["cert_id"], {"retain": {}})
    assert answer.status_code == 400
    assert answer.json() == {"outcome": "error", "reason": "Match Lead fields not included in request."}
    assert sandbox.certificate(cert["cert_id"])["claims"] == []


SCHEMA_REASON = "The request cannot be processed because it does not meet the expected schema."


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"retain": "yes", "match_lead": {"email": KELLY}}, SCHEMA_REASON),
        ({"match_lead": {}}, "match_lead must contain either phone or email keys"),
        ({"match_lead": {"phone": ["1", "2", "3", "4"]}}, "match_lead phone must be a list of 3 or less phone numbers"),
        ({"match_lead": {"email": ["a@b.c"] * 4}}, "match_lead email must be a list of 3 or less email addresses"),
        ({"insights": {"properties": ["ip", "shoe_size"]}}, "Invalid property key(s) requested"),
        ({"insights": {"scans": {"required": ["x"], "delimiter": "| |"}}}, "Invalid delimiter contains whitespace characters"),
        ({"insights": {"scans": {"required": ["x"], "delimiter": "||||"}}}, "Invalid delimiter length"),
        ({"insights": {}}, SCHEMA_REASON),
        ({"verify": {"min_font_size_px_required": "big"}}, SCHEMA_REASON),
    ],
)  # fmt: skip
def test_v4_schema_errors_are_400_with_the_kb_reasons(sandbox, body, reason):
    cert = sandbox.mint(email=KELLY)
    answer = post(sandbox, cert["cert_id"], body)
    assert (answer.status_code, answer.json()) == (400, {"outcome": "error", "reason": reason})


def test_a_body_that_is_not_json_is_a_schema_error(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = requests.post(
        f"{sandbox.base_url}/{cert['cert_id']}",
        data="{not json",
        headers={"Api-Version": "4.0", "Content-Type": "application/json"},
        auth=("API", sandbox.api_key),
        timeout=10,
    )
    assert (answer.status_code, answer.json()["reason"]) == (400, SCHEMA_REASON)


def test_a_claim_without_content_type_is_an_opaque_400(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = requests.post(
        f"{sandbox.base_url}/{cert['cert_id']}",
        auth=("API", sandbox.api_key),
        headers={"Api-Version": "4.0"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json() == {"outcome": "error", "reason": "Bad Request"}


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("4.0", "Certificate has been claimed too many times"),
        ("3.0", "certificate has been claimed too many times"),
    ],
)
def test_the_sixth_claim_of_a_certificate_is_422(sandbox, version, reason):
    cert = sandbox.mint(email=KELLY)
    statuses = [post(sandbox, cert["cert_id"], retain_body(), version=version).status_code for _ in range(6)]
    assert statuses[:5] == [200 if version == "4.0" else 201] * 5
    answer = post(sandbox, cert["cert_id"], retain_body(), version=version)
    assert statuses[5] == 422 and answer.status_code == 422
    assert answer.json()["reason"] == reason


def test_the_claim_limit_is_configurable(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_account(claim_limit=1)
    assert post(sandbox, cert["cert_id"], retain_body()).status_code == 200
    assert post(sandbox, cert["cert_id"], retain_body()).status_code == 422


def test_non_retaining_calls_do_not_count_towards_the_claim_limit(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_account(claim_limit=1)
    for _ in range(3):
        assert post(sandbox, cert["cert_id"], {"match_lead": {"email": KELLY}}).status_code == 200
    assert post(sandbox, cert["cert_id"], retain_body()).status_code == 200


# --- §10: order of checks --------------------------------------------------------------------------------


def test_check_order_auth_comes_before_a_malformed_id(sandbox):
    assert post(sandbox, "nonsense", retain_body(), key="wrong").status_code == 401


def test_check_order_inactive_account_comes_before_a_malformed_id(sandbox):
    sandbox.set_account(active=False)
    assert post(sandbox, "nonsense", retain_body()).status_code == 402


def test_check_order_malformed_id_comes_before_not_found(sandbox):
    assert post(sandbox, "ab" * 19, retain_body()).status_code == 400
    assert post(sandbox, "ab" * 20, retain_body()).status_code == 404


def test_check_order_an_expired_sandbox_certificate_is_404_not_405(sandbox):
    cert = sandbox.mint(email=KELLY, sandbox=True, age_hours=73)
    assert post(sandbox, cert["cert_id"], retain_body()).status_code == 404


def test_check_order_sandbox_comes_before_product_and_schema_checks(sandbox):
    cert = sandbox.mint(email=KELLY, sandbox=True)
    sandbox.set_account(products=["retain"])
    assert post(sandbox, cert["cert_id"], {}).status_code == 405
    assert post(sandbox, cert["cert_id"], {"insights": "bad"}).status_code == 405


def test_check_order_entitlement_comes_before_schema(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_account(products=["retain"])
    assert post(sandbox, cert["cert_id"], {"insights": "not an object"}).status_code == 403


def test_check_order_schema_comes_before_too_many_claims(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_account(claim_limit=1)
    post(sandbox, cert["cert_id"], retain_body())
    assert post(sandbox, cert["cert_id"], {"retain": {}}).status_code == 400
    assert post(sandbox, cert["cert_id"], retain_body()).status_code == 422


# --- §3: answers -----------------------------------------------------------------------------------------------


def test_v4_a_lead_that_does_not_match_fails_but_is_still_retained(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = post(sandbox, cert["cert_id"], retain_body(email="someone@else.com")).json()
    assert answer["outcome"] == "failure" and answer["reason"] == "No matches found"
    assert answer["match_lead"]["result"] == {"email_match": False, "phone_match": None, "success": False}
    assert answer["retain"]["results"]["previously_retained"] is False
    assert len(sandbox.certificate(cert["cert_id"])["claims"]) == 1
    assert get(sandbox, cert["cert_id"]).json() == answer


def test_v4_a_second_retain_is_previously_retained(sandbox):
    cert = sandbox.mint(email=KELLY)
    post(sandbox, cert["cert_id"], retain_body())
    assert (
        post(sandbox, cert["cert_id"], retain_body()).json()["retain"]["results"]["previously_retained"]
        is True
    )


def test_v4_retained_copy_expires_five_years_after_the_claim(sandbox):
    cert = sandbox.mint(email=KELLY)
    results = post(sandbox, cert["cert_id"], retain_body()).json()["retain"]["results"]
    kept = parse_time(results["expires_at"]) - parse_time(sandbox.now())
    assert timedelta(days=5 * 365 - 1) < kept <= timedelta(days=5 * 365)


def test_v4_insights_return_only_the_requested_properties(sandbox):
    cert = sandbox.mint(email=KELLY, insights={"ip": "24.28.104.159", "seconds_on_page": 60}, age_hours=1)
    body = post(
        sandbox, cert["cert_id"], {"insights": {"properties": ["ip", "age_seconds", "browser"]}}
    ).json()
    properties = body["insights"]["properties"]
    assert set(properties) == {"ip", "age_seconds", "browser"}
    assert properties["ip"] == "24.28.104.159"
    assert 3540 - 5 <= properties["age_seconds"] <= 3540 + 5  # an hour old, minus a minute on the page
    assert set(properties["browser"]) == {"full", "name", "version"}
    assert body["insights"]["scans"]["result"]["success"] is None
    assert "retain" not in body


def test_v4_all_twenty_properties_and_browser_can_be_requested(sandbox):
    cert = sandbox.mint(email=KELLY, bot=True)
    names = json.loads((FIXTURES / "cases.json").read_text())
    names = next(c for c in names if c["id"] == "C070")["request"]["body"]["insights"]["properties"]
    properties = post(sandbox, cert["cert_id"], {"insights": {"properties": names}}).json()["insights"][
        "properties"
    ]
    assert set(properties) == set(names) and len(names) == 20
    assert properties["bot_detected"] is True
    assert properties["is_masked"] is False
    assert properties["form_input_wpm"] == pytest.approx(properties["form_input_kpm"] / 5, abs=0.01)


def test_v4_mobile_insights_are_the_mobile_subset(sandbox):
    cert = sandbox.mint(type="mobile")
    wanted = ["ip", "os", "browser", "domain", "page_url", "seconds_on_page"]
    properties = post(sandbox, cert["cert_id"], {"insights": {"properties": wanted}}).json()["insights"][
        "properties"
    ]
    assert properties["ip"] and properties["os"]["is_mobile"] is True and properties["seconds_on_page"] > 0
    assert properties["browser"] is None and properties["domain"] is None and properties["page_url"] is None


def test_v4_meta_insights_are_only_age_owner_and_dates(sandbox):
    cert = sandbox.mint(type="meta")
    wanted = ["age_seconds", "confirmed_owner", "created_at", "expires_at", "ip", "os"]
    properties = post(sandbox, cert["cert_id"], {"insights": {"properties": wanted}}).json()["insights"][
        "properties"
    ]
    assert properties["ip"] is None and properties["os"] is None
    assert properties["confirmed_owner"] and properties["created_at"] and properties["expires_at"]


def test_v4_match_lead_on_a_mobile_certificate_is_an_error_and_retain_works_without_it(sandbox):
    cert = sandbox.mint(type="mobile", email=KELLY)
    answer = post(sandbox, cert["cert_id"], retain_body())
    assert (answer.status_code, answer.json()["reason"]) == (400, "match_lead requires a web certificate")
    answer = post(sandbox, cert["cert_id"], {"retain": {}})
    assert answer.status_code == 200 and answer.json()["outcome"] == "success"


def test_v4_failed_page_scan_is_a_failure_with_the_scan_result(sandbox):
    cert = sandbox.mint(page_text="Make a claim on Staging today")
    body = post(
        sandbox, cert["cert_id"], {"insights": {"scans": {"required": ["make a claim on Production"]}}}
    ).json()
    assert body == {
        "outcome": "failure",
        "reason": "Insights page scans unsuccessful",
        "insights": {
            "scans": {
                "required": ["make a claim on Production"],
                "forbidden": [],
                "result": {
                    "required": {"found": [], "not_found": ["make a claim on Production"]},
                    "forbidden": {"found": [], "not_found": []},
                    "success": False,
                },
            }
        },
    }


def test_v4_the_first_failing_check_gives_the_reason(sandbox):
    cert = sandbox.mint(email=KELLY, page_text="nothing here")
    body = retain_body(email="x@y.com", insights={"scans": {"required": ["absent"]}})
    assert post(sandbox, cert["cert_id"], body).json()["reason"] == "No matches found"


def test_v4_verify_succeeds_for_approved_consent_language(sandbox):
    cert = sandbox.mint(form_submitted=True, verify={"tagged_consent": True, "advertisers": ["Acme Inc."]})
    body = post(
        sandbox,
        cert["cert_id"],
        {
            "verify": {
                "advertiser_name": "acme inc",
                "min_font_size_px_required": 12,
                "opt_in_types_allowed": ["manual"],
            }
        },
    ).json()
    assert body["outcome"] == "success"
    result = body["verify"]["result"]
    assert result["language_approved"] is True and result["one_to_one"] is True and result["success"] is True
    assert result["min_font_size_px_satisfied"] is True and "min_contrast_ratio_satisfied" not in result
    assert body["verify"]["languages"][0]["text"].startswith("By clicking Get My Quote")
    assert body["verify"]["advertiser_name"] == "acme inc"


@pytest.mark.parametrize(
    ("mint", "params", "reason"),
    [
        ({"page_text": "Buy now"}, {}, "Consent language not detected in the certificate."),
        ({"verify": {"language_approved": False}}, {}, "Consent languages found were not approved in the account's consent language manager."),
        ({}, {"advertiser_name": "Acme"}, "This form has not been setup to allow use of One to One Consent Check."),
        ({"verify": {"tagged_consent": True}}, {"advertiser_name": "Acme"}, "Submission of the form is required for one-to-one consent verification."),
        ({"form_submitted": True, "verify": {"tagged_consent": True, "advertisers": ["Other Co"]}}, {"advertiser_name": "Acme"}, "Acme was not granted consent in a one-to-one manner."),
        ({"verify": {"font_size_px": 10}}, {"min_font_size_px_required": 16}, "Consent language does not meet the verification criteria."),
    ],
)  # fmt: skip
def test_v4_verify_failures_carry_the_kb_reasons(sandbox, mint, params, reason):
    cert = sandbox.mint(**mint)
    body = post(sandbox, cert["cert_id"], {"verify": params}).json()
    assert (body["outcome"], body["reason"], body["verify"]["result"]["success"]) == (
        "failure",
        reason,
        False,
    )


def test_v3_failure_when_no_fingerprint_matches_but_the_certificate_is_claimed(sandbox):
    cert = sandbox.mint(email=KELLY)
    body = post(sandbox, cert["cert_id"], {"email": "other@example.com"}, version="3.0").json()
    assert body["outcome"] == "failure"
    assert body["warnings"] == ["none of the provided fingerprints match"]
    assert body["fingerprints"]["matching"] == []
    assert get(sandbox, cert["cert_id"]).status_code == 200


def test_v3_scan_warnings_make_the_outcome_a_failure(sandbox):
    cert = sandbox.mint(email=KELLY, page_text="Win a free iPad. I agree to be called.")
    body = post(
        sandbox,
        cert["cert_id"],
        {
            "email": KELLY,
            "required_scan_terms": ["I agree to be texted"],
            "forbidden_scan_terms": "free ipad",
        },
        version="3.0",
    ).json()
    assert body["outcome"] == "failure"
    assert body["warnings"] == ["string not found in snapshot", "string found in snapshot"]
    assert body["scans"] == {
        "required_found": [],
        "required_not_found": ["I agree to be texted"],
        "forbidden_found": ["free ipad"],
        "forbidden_not_found": [],
    }


def test_v3_form_encoded_claims_take_numbered_and_bracketed_fields(sandbox):
    cert = sandbox.mint(email=KELLY, phone=PHONE, page_text="Consent text here. Call me maybe.")
    form = [
        ("email_1", "nobody@example.com"),
        ("phone_1", "513-555-6719"),
        ("required_scan_terms[]", "consent text"),
        ("required_scan_terms[]", "call |*| maybe"),
        ("forbidden_scan_terms[]", "free"),
        ("scan_delimiter", "|"),
        ("reference", "ref-9"),
    ]
    answer = post(sandbox, cert["cert_id"], version="3.0", form=form)
    body = answer.json()
    assert answer.status_code == 201
    assert body["fingerprints"]["matching"] == [PHONE_SHA1]
    assert len(body["fingerprints"]["non_matching"]) == 1
    assert body["scans"]["required_found"] == ["consent text", "call |*| maybe"]
    assert body["outcome"] == "success" and body["reference"] == "ref-9"


def test_v3_prehashed_fingerprints_are_compared_as_is(sandbox):
    cert = sandbox.mint(email=KELLY)
    body = post(
        sandbox,
        cert["cert_id"],
        {"fingerprints": [KELLY_SHA1.upper(), "d511850d569bcd7802c30f54de34bb9f2b31eed1"]},
        version="3.0",
    ).json()
    assert body["fingerprints"] == {
        "matching": [KELLY_SHA1],
        "non_matching": ["d511850d569bcd7802c30f54de34bb9f2b31eed1"],
    }


def test_v3_templates_are_found_if_any_expansion_matches_and_echo_as_sent(sandbox):
    cert = sandbox.mint(
        page_text="You agree to be called on behalf of Acme Mortgage at the telephone number given."
    )
    found = {
        "template": "on behalf of {{company}} at the telephone number",
        "variables": [{"company": "Mortgage Acme"}, {"company": "Acme Mortgage"}],
    }
    missing = {
        "template": "on behalf of {{company}} at the telephone number",
        "variables": [{"company": "Acme Co."}],
    }
    body = post(sandbox, cert["cert_id"], {"required_scan_terms": [found, missing]}, version="3.0").json()
    assert body["scans"]["required_found"] == [found]
    assert body["scans"]["required_not_found"] == [missing]


def test_v3_consent_plus_insights_adds_the_cert_block(sandbox):
    cert = sandbox.mint(email=KELLY, age_hours=2)
    body = post(sandbox, cert["cert_id"], {"email": KELLY}, version="3.0").json()
    expected = {"age_seconds", "approx_ip_geo", "browser", "cert_id", "created_at", "domain", "event_duration_ms", "expires_at",
                "form_input_method", "ip", "is_framed", "is_mobile", "kpm", "operating_system", "page_id", "page_url",
                "parent_page_url", "user_agent", "wpm"}  # fmt: skip
    assert set(body["cert"]) == expected
    assert body["cert"]["cert_id"] == cert["cert_id"]
    assert body["cert"]["expires_at"] == cert["expires_at"]


def test_v3_without_the_insights_product_has_no_cert_block(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_account(products=["retain"])
    body = post(sandbox, cert["cert_id"], {"email": KELLY}, version="3.0").json()
    assert "cert" not in body and body["outcome"] == "success"


def test_v3_retained_copy_expiry_is_the_top_level_expires_at_and_cert_expires_at_is_the_claim_window(sandbox):
    cert = sandbox.mint(email=KELLY)
    body = post(sandbox, cert["cert_id"], {"email": KELLY}, version="3.0").json()
    claimed_at = parse_time(body["created_at"])
    assert parse_time(body["expires_at"]) - claimed_at == timedelta(days=5 * 365)
    assert parse_time(body["cert"]["expires_at"]) == parse_time(cert["created_at"]) + timedelta(hours=72)
    assert re.fullmatch(r"[0-9a-f]{24}", body["id"])


def test_viewing_an_unclaimed_certificate_is_404_and_a_claimed_one_shows_the_last_claim(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = get(sandbox, cert["cert_id"], version="3.0")
    assert (answer.status_code, answer.json()) == (404, NOT_FOUND_V3)
    post(sandbox, cert["cert_id"], {"email": KELLY, "reference": "first"}, version="3.0")
    last = post(sandbox, cert["cert_id"], {"email": KELLY, "reference": "second"}, version="3.0").json()
    viewed = get(sandbox, cert["cert_id"])
    assert viewed.status_code == 200 and viewed.json() == last


# --- §3.9: check-in, ping, validate ------------------------------------------------------------------------


def test_check_in_answers_200_empty_object_and_extends_the_window_to_90_days(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = post(sandbox, f"{cert['cert_id']}/check_in", None, version=None)
    assert (answer.status_code, answer.json()) == (200, {})
    expires = parse_time(sandbox.certificate(cert["cert_id"])["expires_at"])
    assert abs(expires - (parse_time(sandbox.now()) + timedelta(days=90))) < timedelta(seconds=5)
    assert sandbox.certificate(cert["cert_id"])["claims"] == []


def test_check_in_accepts_a_bare_post_without_body_or_content_type(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = requests.post(
        f"{sandbox.base_url}/{cert['cert_id']}/check_in", auth=("API", sandbox.api_key), timeout=10
    )
    assert (answer.status_code, answer.json()) == (200, {})


def test_a_certificate_checked_in_at_60_hours_can_be_claimed_at_80_hours(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.advance(hours=60)
    assert post(sandbox, f"{cert['cert_id']}/check_in", None).status_code == 200
    sandbox.advance(hours=20)
    answer = post(sandbox, cert["cert_id"], retain_body())
    assert answer.status_code == 200 and answer.json()["outcome"] == "success"


def test_a_certificate_not_checked_in_is_404_at_80_hours(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.advance(hours=80)
    answer = post(sandbox, cert["cert_id"], retain_body())
    assert (answer.status_code, answer.json()) == (404, NOT_FOUND_V4)


def test_check_in_of_an_expired_certificate_is_404(sandbox):
    cert = sandbox.mint(email=KELLY, age_hours=73)
    assert post(sandbox, f"{cert['cert_id']}/check_in", None).status_code == 404


def test_a_masked_certificate_cannot_be_checked_in(sandbox):
    cert = sandbox.mint(type="masked", email=KELLY)
    answer = post(sandbox, f"{cert['cert_id']}/check_in", None)
    assert (answer.status_code, answer.json()) == (
        405,
        {"outcome": "error", "reason": "Masked certificates cannot be extended"},
    )
    sandbox.advance(hours=73)
    assert alive(sandbox, cert["cert_id"]) == 404


def test_check_in_needs_a_valid_key(sandbox):
    cert = sandbox.mint(email=KELLY)
    assert post(sandbox, f"{cert['cert_id']}/check_in", None, key="wrong").status_code == 401


def test_ping_url_is_unauthenticated_and_new_on_every_call(sandbox):
    cert = sandbox.mint()
    urls = [
        requests.get(f"{sandbox.base_url}/{cert['cert_id']}/ping_url", timeout=10).json()["url"]
        for _ in range(2)
    ]
    assert urls[0] != urls[1]
    assert all(re.fullmatch(r"https://ping\.trustedform\.com/0(\.[-_A-Za-z0-9]+){3}", u) for u in urls)


def test_legacy_get_ping_has_millisecond_ages_and_a_type(sandbox):
    cert = sandbox.mint(age_hours=1, insights={"seconds_on_page": 30})
    body = get(sandbox, f"{cert['cert_id']}/ping").json()
    assert set(body) == {"age", "client", "created_at", "location", "time_on_page", "type"}
    assert body["time_on_page"] == 30_000 and body["type"] == "standard"
    assert abs(body["age"] - (3600 - 30) * 1000) < 5000


def test_post_ping_evaluates_like_consent_without_claiming(sandbox):
    cert = sandbox.mint(email=KELLY)
    answer = post(sandbox, f"{cert['cert_id']}/ping", {"email": KELLY}, version="3.0")
    assert answer.status_code == 200
    assert answer.json()["fingerprints"]["matching"] == [KELLY_SHA1]
    assert sandbox.certificate(cert["cert_id"])["claims"] == []


@pytest.mark.parametrize(
    ("mint", "reason", "outcome"),
    [
        ({}, "This is a valid Web certificate id", "success"),
        ({"type": "mobile"}, "This is a valid Mobile certificate id", "success"),
        ({"type": "meta"}, "This is a valid Facebook certificate id", "success"),
        ({"type": "mobile", "age_hours": 24 * 91}, "Certificate is more than 90 days old", "failure"),
    ],
)
def test_validate_checks_format_and_age_only(sandbox, mint, reason, outcome):
    cert = sandbox.mint(**mint)
    answer = get(sandbox, f"{cert['cert_id']}/validate")
    assert (answer.status_code, answer.json()) == (200, {"outcome": outcome, "reason": reason})


def test_validate_calls_an_unknown_id_invalid(sandbox):
    answer = get(sandbox, f"{'ab' * 20}/validate")
    assert answer.json() == {"outcome": "failure", "reason": "This is an invalid certificate id"}


# --- §4: ids and lifetimes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "pattern"),
    [
        ("web", r"[0-9a-f]{40}"),
        ("masked", r"[0-9a-f]{40}"),
        ("mobile", r"[-_A-Za-z0-9]{80}"),
        ("meta", r"0\.[-_A-Za-z0-9]+\.[-_A-Za-z0-9]+\.[-_A-Za-z0-9]+"),
    ],
)
def test_certificate_ids_and_urls_look_like_production(sandbox, kind, pattern):
    cert = sandbox.mint(type=kind)
    assert re.fullmatch(pattern, cert["cert_id"]) and len(cert["cert_id"]) <= 255
    assert cert["cert_url"] == f"https://cert.trustedform.com/{cert['cert_id']}"


def test_an_upper_case_web_id_is_the_same_certificate(sandbox):
    cert = sandbox.mint(email=KELLY)
    assert post(sandbox, cert["cert_id"].upper(), retain_body()).status_code == 200


@pytest.mark.parametrize(
    ("mint", "open_hours", "closed_hours"),
    [
        ({}, 71.9, 72.1),
        ({"form_submitted": True}, 24 * 90 - 0.1, 24 * 90 + 0.1),
        ({"type": "mobile"}, 24 * 90 - 0.1, 24 * 90 + 0.1),
        ({"type": "meta"}, 24 * 90 - 0.1, 24 * 90 + 0.1),
        ({"type": "masked"}, 71.9, 72.1),
    ],
)
def test_each_certificate_type_answers_until_its_window_closes_and_404_after(
    sandbox, mint, open_hours, closed_hours
):
    cert = sandbox.mint(**mint)
    sandbox.set_clock(open_hours * HOUR)
    assert alive(sandbox, cert["cert_id"]) == 200
    sandbox.set_clock(closed_hours * HOUR)
    assert alive(sandbox, cert["cert_id"]) == 404


def test_a_retained_copy_can_be_viewed_after_the_claim_window_for_five_years(sandbox):
    cert = sandbox.mint(email=KELLY)
    post(sandbox, cert["cert_id"], retain_body())
    sandbox.advance(hours=24 * 100)
    assert post(sandbox, cert["cert_id"], retain_body()).status_code == 404
    assert get(sandbox, cert["cert_id"]).status_code == 200
    sandbox.advance(hours=24 * 5 * 365)
    assert get(sandbox, cert["cert_id"]).status_code == 404


def test_the_masked_cert_url_is_a_claimable_masked_certificate_that_never_matches(sandbox):
    cert = sandbox.mint(email=KELLY)
    masked_url = post(sandbox, cert["cert_id"], retain_body()).json()["retain"]["results"]["masked_cert_url"]
    masked_id = masked_url.rsplit("/", 1)[1]
    body = post(sandbox, masked_id, {"email": KELLY}, version="3.0").json()
    assert body["is_masked"] is True and body["fingerprints"]["matching"] == []
    assert body["outcome"] == "failure"
    properties = post(
        sandbox, masked_id, {"insights": {"properties": ["is_masked", "domain", "page_url"]}}
    ).json()
    assert properties["insights"]["properties"]["is_masked"] is True
    assert properties["insights"]["properties"]["page_url"] is None


def test_the_clock_moves_and_reports_the_sandbox_now(sandbox):
    before = parse_time(sandbox.now())
    sandbox.advance(hours=5)
    assert parse_time(sandbox.now()) - before >= timedelta(hours=5)
    sandbox.set_clock(0)
    assert parse_time(sandbox.now()) - before < timedelta(minutes=1)


# --- §5: fingerprints ----------------------------------------------------------------------------------------------


def test_the_documented_fingerprint_vectors_reproduce(sandbox):
    vectors = json.loads((FIXTURES / "scan-and-fingerprint-vectors.json").read_text())["fingerprint_vectors"]
    checked = 0
    for vector in vectors:
        if (
            not vector.get("matches_source")
            or "@" not in vector["input"]
            and not vector["input"][0].isdigit()
        ):
            continue
        raw = vector["input"].split(" ")[0]
        field = "email" if "@" in raw else "phone"
        cert = sandbox.mint(**{field: raw})
        stored = sandbox.certificate(cert["cert_id"])[f"{field}_fingerprints"]
        assert stored == [vector["sha1_in_source"]], vector
        checked += 1
    assert checked >= 5
    cert = sandbox.mint(email="Kelly@TheThings.biz ", phone=PHONE)
    stored = sandbox.certificate(cert["cert_id"])
    assert stored["email_fingerprints"] == [KELLY_SHA1] and stored["phone_fingerprints"] == [PHONE_SHA1]


@pytest.mark.parametrize(
    "phone", ["(513) 555-6719", "513 555 6719", "513-555-6719", "[513]5556719", "5135556719"]
)
def test_match_lead_normalises_phones_like_the_certificate(sandbox, phone):
    cert = sandbox.mint(phone="5135556719")
    result = post(sandbox, cert["cert_id"], {"match_lead": {"phone": phone}}).json()["match_lead"]["result"]
    assert result == {"email_match": None, "phone_match": True, "success": True}


@pytest.mark.parametrize("phone", ["+1 513 555 6719", "15135556719", "513.555.6719"])
def test_phone_country_codes_and_dots_are_normalised_away(sandbox, phone):
    cert = sandbox.mint(phone=PHONE)
    assert (
        post(sandbox, cert["cert_id"], {"match_lead": {"phone": phone}}).json()["match_lead"]["result"][
            "success"
        ]
        is True
    )


@pytest.mark.parametrize("phone", ["5135556718", "25135556719", "513555671"])
def test_a_different_phone_does_not_match(sandbox, phone):
    cert = sandbox.mint(phone=PHONE)
    assert (
        post(sandbox, cert["cert_id"], {"match_lead": {"phone": phone}}).json()["match_lead"]["result"][
            "success"
        ]
        is False
    )


def test_match_lead_accepts_prehashed_values_and_lists(sandbox):
    cert = sandbox.mint(email=KELLY, phone=PHONE)
    body = post(
        sandbox,
        cert["cert_id"],
        {"match_lead": {"email": [KELLY_SHA1.upper()], "phone": ["000", PHONE_SHA1]}},
    ).json()
    assert body["match_lead"]["result"] == {"email_match": True, "phone_match": True, "success": True}
    assert body["match_lead"]["email"] == [KELLY_SHA1.upper()]


def test_emails_are_trimmed_and_lower_cased_before_matching(sandbox):
    cert = sandbox.mint(email=KELLY)
    body = post(sandbox, cert["cert_id"], {"match_lead": {"email": "  KELLY@thethings.BIZ "}}).json()
    assert body["match_lead"]["result"]["email_match"] is True


# --- §6: page scan -------------------------------------------------------------------------------------------------

PAGE = "By clicking below, I agree to receive Telemarketing calls and pre-recorded telemarketing calls! from Acme Solar."


@pytest.mark.parametrize(
    ("term", "delimiter", "found"),
    [
        ("telemarketing CALLS", None, True),
        ("TelemarketingCALLS", None, False),
        ("i   agree\nto receive", None, True),
        ("prerecorded telemarketing calls.", None, False),
        ("pre-recorded telemarketing calls!", None, True),
        ("solar", None, True),
        ("I agree to {{*}} from Acme", None, True),
        ("I agree to {{*}} from Initech", None, False),
        ("I agree to |*| from Acme", "|", True),
        ("I agree to {{*}} from Acme", "|", False),
        ("receive ==*== calls", "==", True),
    ],
)
def test_page_scan_is_case_and_whitespace_insensitive_but_otherwise_exact(sandbox, term, delimiter, found):
    cert = sandbox.mint(page_text=PAGE)
    scans = {"required": [term], **({"delimiter": delimiter} if delimiter else {})}
    result = post(sandbox, cert["cert_id"], {"insights": {"scans": scans}}).json()["insights"]["scans"]
    assert result["result"]["required"]["found"] == ([term] if found else [])
    assert result["required"] == [term]
    if delimiter:
        assert result["delimiter"] == delimiter


def test_page_scan_takes_a_single_string_and_echoes_it(sandbox):
    cert = sandbox.mint(page_text=PAGE)
    scans = post(sandbox, cert["cert_id"], {"insights": {"scans": {"forbidden": "free ipad"}}}).json()[
        "insights"
    ]["scans"]
    assert scans["forbidden"] == "free ipad"
    assert scans["result"]["forbidden"] == {"found": [], "not_found": ["free ipad"]}
    assert scans["result"]["success"] is True


def test_the_documented_wildcard_example_is_found(sandbox):
    semantics = json.loads((FIXTURES / "scan-and-fingerprint-vectors.json").read_text())["scan_semantics"]
    example = next(s for s in semantics if s["kind"] == "wildcard")
    cert = sandbox.mint(page_text=example["page_text"])
    body = post(sandbox, cert["cert_id"], {"insights": {"scans": {"required": [example["pattern"]]}}}).json()
    assert body["outcome"] == "success"


def test_v3_custom_delimiter_variables_in_templates(sandbox):
    cert = sandbox.mint(page_text="Calls on behalf of Acme Co. at the telephone number you gave")
    term = {"template": "on behalf of |company| at |*| number", "variables": [{"company": "Acme Co."}]}
    body = post(
        sandbox, cert["cert_id"], {"required_scan_terms": [term], "scan_delimiter": "|"}, version="3.0"
    ).json()
    assert body["scans"]["required_found"] == [term]


def test_v3_invalid_delimiter_is_400(sandbox):
    cert = sandbox.mint()
    answer = post(
        sandbox, cert["cert_id"], {"required_scan_terms": "x", "scan_delimiter": "a b"}, version="3.0"
    )
    assert (
        answer.status_code == 400
        and answer.json()["reason"] == "Invalid delimiter contains whitespace characters"
    )


# --- knobs: latency, 5xx, timeout, reset, 429, redirect ---------------------------------------------------------


def test_the_latency_knob_delays_every_api_answer(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_faults(latency_ms=300)
    started = time.monotonic()
    assert post(sandbox, cert["cert_id"], retain_body()).status_code == 200
    assert time.monotonic() - started >= 0.3
    sandbox.clear_faults()
    assert sandbox.requests()[-1]["duration_ms"] >= 300


def test_the_error_rate_knob_answers_5xx_with_json_or_html(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_faults(error_rate=1.0, seed=7)
    answers = [post(sandbox, cert["cert_id"], retain_body()) for _ in range(12)]
    assert all(a.status_code in (500, 502, 503) for a in answers)
    kinds = {a.headers["Content-Type"].split(";")[0] for a in answers}
    assert kinds == {"application/json", "text/html"}
    assert sandbox.certificate(cert["cert_id"])["claims"] == []  # nothing was claimed
    sandbox.set_faults(error_rate=1.0, error_body="html")
    assert post(sandbox, cert["cert_id"], retain_body()).text.startswith("<!DOCTYPE html>")


def test_the_timeout_knob_hangs_then_answers_after_claiming(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_faults(timeout_rate=1.0, hang_seconds=1.5)
    with pytest.raises(requests.ReadTimeout):
        post(sandbox, cert["cert_id"], retain_body(), timeout=0.5)
    time.sleep(1.5)
    sandbox.clear_faults()
    assert len(sandbox.certificate(cert["cert_id"])["claims"]) == 1
    assert (
        post(sandbox, cert["cert_id"], retain_body()).json()["retain"]["results"]["previously_retained"]
        is True
    )


def test_the_reset_knob_aborts_the_connection(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_faults(reset_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        post(sandbox, cert["cert_id"], retain_body())
    sandbox.clear_faults()
    log = sandbox.requests(cert_id=cert["cert_id"])
    assert [(r["status"], r["fault"]) for r in log] == [(0, "reset")]
    assert post(sandbox, cert["cert_id"], retain_body()).status_code == 200


def test_the_rate_limit_knob_answers_429_with_retry_after(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_faults(rate_limit_rate=1.0, retry_after=7)
    answer = post(sandbox, cert["cert_id"], retain_body())
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"


def test_fault_knobs_can_be_set_by_environment_at_start(tmp_path):
    server = start_sandbox(tmp_path, env={"SANDBOX_RATE_LIMIT_RATE": "1", "SANDBOX_API_KEY": "env-key"})
    try:
        admin = server.admin()
        assert admin.api_key == "env-key" and admin.account()["api_key"] == "env-key"
        cert = admin.mint(email=KELLY)
        assert post(admin, cert["cert_id"], retain_body()).status_code == 429
        admin.reset()  # back to the environment's defaults, not to no knobs at all
        assert admin.api_key == "env-key"
        assert post(admin, cert["cert_id"], retain_body()).status_code == 429
        admin.clear_faults()
        assert post(admin, cert["cert_id"], retain_body()).status_code == 404  # reset wiped the certificate
    finally:
        assert server.stop() == 0


def test_fail_next_is_consumed_in_order_then_answers_normally(sandbox):
    cert = sandbox.mint(email=KELLY)
    sandbox.cert_faults(cert["cert_id"], fail_next=["503", "429", "html500", "json502"], retry_after=3)
    answers = [post(sandbox, cert["cert_id"], retain_body()) for _ in range(5)]
    assert [a.status_code for a in answers] == [503, 429, 500, 502, 200]
    assert answers[0].json() == {"errors": {"detail": "Internal Server Error"}}
    assert answers[1].headers["Retry-After"] == "3"
    assert answers[2].headers["Content-Type"].startswith("text/html")
    assert [r["fault"] for r in sandbox.requests(cert_id=cert["cert_id"])] == [
        "503",
        "429",
        "html500",
        "json502",
        "",
    ]


def test_fail_next_timeout_and_reset_hit_only_that_certificate(sandbox):
    cert, other = sandbox.mint(email=KELLY), sandbox.mint(email=KELLY)
    sandbox.cert_faults(cert["cert_id"], fail_next=["reset", "timeout"], hang_seconds=1)
    with pytest.raises(requests.ConnectionError):
        post(sandbox, cert["cert_id"], retain_body())
    assert post(sandbox, other["cert_id"], retain_body()).status_code == 200
    with pytest.raises(requests.ReadTimeout):
        post(sandbox, cert["cert_id"], retain_body(), timeout=0.3)
    time.sleep(1)
    assert post(sandbox, cert["cert_id"], retain_body()).status_code == 200


def test_respond_replays_a_canned_answer_the_given_number_of_times(sandbox):
    cert = sandbox.mint(email=KELLY)
    canned = {"status": 410, "body": "", "content_type": "text/plain", "headers": {"X-Runtime": "0.5"}}
    sandbox.cert_faults(cert["cert_id"], respond=canned, times=2)
    answers = [post(sandbox, cert["cert_id"], retain_body()) for _ in range(3)]
    assert [a.status_code for a in answers] == [410, 410, 200]
    assert answers[0].text == "" and answers[0].headers["X-Runtime"]


def test_respond_replays_json_bodies_for_unknown_ids_too(sandbox):
    cert_id = "cd" * 20
    sandbox.cert_faults(cert_id, respond={"status": 201, "body": {"outcome": "success", "id": "x"}})
    answer = post(sandbox, cert_id, {}, version="3.0")
    assert (answer.status_code, answer.json()) == (201, {"outcome": "success", "id": "x"})
    sandbox.clear_cert_faults(cert_id)
    assert post(sandbox, cert_id, {}, version="3.0").status_code == 404


def test_redirect_to_answers_302_and_the_trap_records_clients_that_follow(sandbox):
    cert = sandbox.mint(email=KELLY)
    trap = f"{sandbox.base_url}/_sandbox/trap"
    sandbox.cert_faults(cert["cert_id"], redirect_to=trap)
    answer = requests.post(
        f"{sandbox.base_url}/{cert['cert_id']}", json=retain_body(), auth=("API", sandbox.api_key),
        headers={"Api-Version": "4.0"}, allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert (answer.status_code, answer.headers["Location"]) == (302, trap)
    assert sandbox.requests(endpoint="trap") == []
    requests.post(f"{sandbox.base_url}/{cert['cert_id']}", json={}, timeout=10)  # a client that follows
    assert len(sandbox.requests(endpoint="trap")) == 1


def test_the_request_log_records_calls_without_the_key(sandbox):
    cert = sandbox.mint(email=KELLY)
    post(sandbox, cert["cert_id"], retain_body())
    post(sandbox, cert["cert_id"], retain_body(), key="wrong-secret")
    log = sandbox.requests()
    assert [(r["method"], r["endpoint"], r["api_version"], r["auth_ok"], r["status"]) for r in log] == [
        ("POST", "certificate", "4.0", True, 200),
        ("POST", "certificate", "4.0", False, 401),
    ]
    assert json.loads(log[0]["body"]) == retain_body()
    assert sandbox.api_key not in json.dumps(log) and "wrong-secret" not in json.dumps(log)


def test_reset_wipes_certificates_faults_log_clock_and_account(sandbox, sandbox_server):
    cert = sandbox.mint(email=KELLY)
    sandbox.set_account(active=False, claim_limit=1, products=["retain"])
    sandbox.set_faults(latency_ms=5)
    sandbox.advance(hours=10)
    post(sandbox, cert["cert_id"], retain_body())
    sandbox.reset()
    assert sandbox.account() == {
        "active": True, "products": ["retain", "insights", "verify"], "default_api_version": "3.0",
        "claim_limit": 5, "api_key": sandbox_server.api_key,
    }  # fmt: skip
    assert sandbox.requests() == []
    assert requests.get(f"{sandbox.base_url}/_sandbox/faults", timeout=10).json() == {"faults": {}}
    assert abs(parse_time(sandbox.now()) - datetime.now(UTC)) < timedelta(minutes=1)
    assert post(sandbox, cert["cert_id"], retain_body()).status_code == 404


def test_unknown_knobs_are_rejected(sandbox):
    answer = requests.post(f"{sandbox.base_url}/_sandbox/faults", json={"latency": 5}, timeout=10)
    assert answer.status_code == 400 and "unknown fault knob" in answer.json()["error"]
    cert = sandbox.mint()
    answer = requests.post(
        f"{sandbox.base_url}/_sandbox/certificates/{cert['cert_id']}/faults",
        json={"fail_next": ["explode"]},
        timeout=10,
    )
    assert answer.status_code == 400


# --- issuing certificates --------------------------------------------------------------------------------------


def test_bulk_minting_ten_thousand_certificates_gives_distinct_claimable_ids(sandbox):
    certs = sandbox.mint_many(10_000, email="lead{n}@example.com", form_submitted=True)
    assert len({c["cert_id"] for c in certs}) == 10_000
    body = post(sandbox, certs[41]["cert_id"], retain_body(email="lead42@example.com")).json()
    assert body["outcome"] == "success"


def test_mint_rejects_unknown_fields(sandbox):
    answer = requests.post(f"{sandbox.base_url}/_sandbox/certificates", json={"colour": "red"}, timeout=10)
    assert answer.status_code == 400 and "colour" in answer.json()["error"]


def test_the_demo_form_issues_a_submitted_certificate_with_its_page_text(sandbox):
    page = requests.get(f"{sandbox.base_url}/demo/", timeout=10)
    assert page.status_code == 200 and "I agree that Acme Insurance Inc." in page.text
    assert "http://" not in page.text.replace(sandbox.base_url, "") and "https://" not in page.text  # no CDN
    answer = requests.post(
        f"{sandbox.base_url}/demo/", data={"name": "Kelly", "email": KELLY, "phone": PHONE}, timeout=10
    )
    cert_id = re.search(r"https://cert\.trustedform\.com/([0-9a-f]{40})", answer.text)[1]
    stored = sandbox.certificate(cert_id)
    assert stored["form_submitted"] is True and "Email address" in stored["page_text"]
    assert stored["email_fingerprints"] == [KELLY_SHA1] and stored["phone_fingerprints"] == [PHONE_SHA1]
    body = post(
        sandbox, cert_id,
        retain_body(insights={"scans": {"required": ["I agree that {{*}} and its partners may contact me"]}},
                    verify={"advertiser_name": "Acme Insurance Inc"}),
    ).json()  # fmt: skip
    assert body["outcome"] == "success", body
    assert body["verify"]["result"]["one_to_one"] is True


def test_the_mint_command_prints_urls_of_certificates_the_server_serves(sandbox, sandbox_server):
    env = {"SANDBOX_DB_PATH": str(sandbox_server.db_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "manage.py", "sandbox_mint", "--count", "2", "--email", "a{n}@b.co", "--type", "web", "--json"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    minted = json.loads(out)
    assert len(minted) == 2 and all(m["cert_url"].startswith("https://cert.trustedform.com/") for m in minted)
    assert post(sandbox, minted[1]["cert_id"], retain_body(email="a2@b.co")).json()["outcome"] == "success"
    plain = subprocess.run(
        [sys.executable, "manage.py", "sandbox_mint", "--sandbox", "--age-hours", "1"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(plain) == 1
    assert post(sandbox, plain[0].rsplit("/", 1)[1], retain_body()).status_code == 405


def test_run_sandbox_prints_its_url_and_stops_cleanly_on_sigterm(tmp_path):
    server = start_sandbox(tmp_path)
    assert f"Sandbox listening on {server.base_url}" in server.log()
    assert server.stop() == 0
    with (
        pytest.raises(OSError),
        socket.create_connection(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])), 1),
    ):
        pass


def test_concurrent_claims_of_one_certificate_never_exceed_the_limit(sandbox):
    from concurrent.futures import ThreadPoolExecutor

    cert = sandbox.mint(email=KELLY)
    with ThreadPoolExecutor(16) as pool:
        statuses = list(
            pool.map(lambda _: post(sandbox, cert["cert_id"], retain_body()).status_code, range(16))
        )
    assert statuses.count(200) == 5 and statuses.count(422) == 11


@pytest.mark.parametrize(("kind", "masked_url"), [("mobile", True), ("meta", False)])
def test_retain_of_mobile_gives_a_masked_url_and_meta_none(sandbox, kind, masked_url):
    cert = sandbox.mint(type=kind)
    results = post(sandbox, cert["cert_id"], {"retain": {}}).json()["retain"]["results"]
    assert (results["masked_cert_url"] is not None) is masked_url


def test_the_demo_form_asks_for_an_email_or_a_phone(sandbox):
    answer = requests.post(f"{sandbox.base_url}/demo/", data={"name": "Nobody"}, timeout=10)
    assert answer.status_code == 200 and "Please give an email address or a phone number." in answer.text
    assert "cert.trustedform.com" not in answer.text

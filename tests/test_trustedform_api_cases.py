"""Every error status, every recorded TrustedForm answer, and v3 vs v4, through the client over HTTP.

Recorded answers (tests/fixtures/trustedform/cases.json, from public client test suites and the vendor's
knowledge base) are replayed by the sandbox as canned responses, so the client reads them off a socket.
"""

import json
from pathlib import Path

import pytest

from trustedform import V3, V4, Lead, ScanTerms, TrustedFormClient, TrustedFormError

CASES = json.loads((Path(__file__).parent / "fixtures" / "trustedform" / "cases.json").read_text())
ANSWERED = [c for c in CASES if c.get("response_status") not in (None, 0)]


@pytest.fixture
def client(sandbox, api_key):
    def build(version: str = V4, key: str | None = None) -> TrustedFormClient:
        return TrustedFormClient(
            api_key=key or api_key,
            api_base=sandbox.base_url,
            allowed_hosts=["cert.trustedform.com"],
            api_version=version,
            read_timeout=5,
        )

    return build


@pytest.fixture
def cert(sandbox):
    return sandbox.mint(
        email="jane@example.com", phone="5125551212", page_text="I agree to be called by Acme."
    )


def canned(sandbox, cert_id: str, status: int, body, content_type: str | None = None) -> None:
    if body is None:
        text, kind = "", content_type or "application/json"
    elif isinstance(body, dict | list):
        text, kind = json.dumps(body), content_type or "application/json"
    else:
        text, kind = str(body), content_type or "text/html"
    sandbox.cert_faults(cert_id, respond={"status": status, "body": text, "content_type": kind}, times=1)


@pytest.mark.parametrize("case", ANSWERED, ids=[c["id"] for c in ANSWERED])
def test_every_recorded_answer_gives_a_result_or_a_clear_error(client, sandbox, cert, case):
    status, body = case["response_status"], case["response_body"]
    canned(sandbox, cert["cert_id"], status, body, case.get("response_content_type"))
    version = V4 if str(case.get("api_version", "")).startswith("4") else V3

    try:
        result = client(version).claim(cert["cert_url"], Lead(email="jane@example.com"))
    except TrustedFormError as error:
        assert error.message  # says what happened
        assert error.call is not None and error.call.status == status
        if status >= 400:
            assert error.status == status
            assert error.retryable == (status >= 500 or status == 429)
            assert error.pauses_account == (status in (401, 402, 403))
        else:  # a 2xx that is not a JSON object: unreadable, and said so
            assert not isinstance(body, dict)
            assert "not the JSON object expected" in error.message
    else:
        assert status in (200, 201) and isinstance(body, dict)
        assert result.outcome in ("success", "failure", "error")
        expected = case.get("client_expected") or {}
        if expected.get("outcome") in ("success", "failure"):
            assert result.outcome == expected["outcome"]
        if "city" in expected:
            assert result.insights.geo.city == expected["city"]


def test_the_recorded_v4_full_success_is_read_field_by_field(client, sandbox, cert):
    [case] = [c for c in CASES if c["id"] == "C022"]
    canned(sandbox, cert["cert_id"], 200, case["response_body"])

    result = client(V4).claim(cert["cert_url"], Lead(email="superman@activeprospect.com"))

    assert result.outcome == "success"
    assert result.email_matched is True and result.phone_matched is False
    assert result.previously_retained is True
    assert result.expires_at.isoformat() == "2023-08-29T20:43:31+00:00"
    assert result.scans.required_found == ["make a claim on Staging"]
    assert result.insights.browser == "Firefox 112.0."
    assert result.insights.seconds_on_page == 8374
    assert result.verify["result"]["one_to_one"] is True


@pytest.mark.parametrize(
    ("status", "body", "retryable", "pauses"),
    [
        (400, {"outcome": "error", "reason": "No valid products detected"}, False, False),
        (401, {"outcome": "error", "reason": "Unauthorized"}, False, True),
        (402, {"outcome": "error", "reason": "Account is inactive"}, False, True),
        (403, {"outcome": "error", "reason": "Unavailable product requested: Retain"}, False, True),
        (
            404,
            {"outcome": "error", "reason": "TrustedForm certificate has expired or could not be found"},
            False,
            False,
        ),
        (405, {"outcome": "error", "reason": "Certificate is not claimable"}, False, False),
        (410, None, False, False),
        (422, {"outcome": "error", "reason": "Certificate has been claimed too many times"}, False, False),
        (429, {"outcome": "error", "reason": "Too many requests"}, True, False),
        (500, {"errors": {"detail": "Internal Server Error"}}, True, False),
        (502, "<html><head><title>502 Bad Gateway</title></head></html>", True, False),
        (503, "<h1>This website is under heavy load</h1>", True, False),
    ],
)
def test_each_error_status_says_whether_a_retry_can_help(
    client, sandbox, cert, status, body, retryable, pauses
):
    canned(sandbox, cert["cert_id"], status, body)

    with pytest.raises(TrustedFormError) as caught:
        client(V4).claim(cert["cert_url"], Lead(email="jane@example.com"))

    error = caught.value
    assert (error.status, error.retryable, error.pauses_account) == (status, retryable, pauses)
    assert f"HTTP {status}" in error.message
    if isinstance(body, dict) and "reason" in body:
        assert error.reason == body["reason"]


@pytest.mark.parametrize("version", [V3, V4])
def test_real_account_errors_from_the_sandbox(client, sandbox, cert, version):
    sandbox.set_account(active=False)
    with pytest.raises(TrustedFormError) as inactive:
        client(version).claim(cert["cert_url"], Lead(email="jane@example.com"))
    sandbox.set_account(active=True, products=["insights"])
    with pytest.raises(TrustedFormError) as not_contracted:
        client(version).claim(cert["cert_url"], Lead(email="jane@example.com"))

    assert inactive.value.status == 402 and inactive.value.pauses_account
    assert not_contracted.value.status == 403 and not_contracted.value.pauses_account


def test_too_many_claims_is_a_final_422(client, sandbox, cert):
    sandbox.set_account(claim_limit=1)
    client(V4).claim(cert["cert_url"], Lead(email="jane@example.com"))

    with pytest.raises(TrustedFormError) as caught:
        client(V4).claim(cert["cert_url"], Lead(email="jane@example.com"))

    assert caught.value.status == 422
    assert not caught.value.retryable


def test_a_429_carries_its_retry_after(client, sandbox, cert):
    sandbox.cert_faults(cert["cert_id"], fail_next=["429"], retry_after=42)

    with pytest.raises(TrustedFormError) as caught:
        client(V4).claim(cert["cert_url"], Lead(email="jane@example.com"))

    assert caught.value.retry_after == 42


def test_a_connection_reset_is_retryable_and_may_have_landed(client, sandbox, cert):
    sandbox.cert_faults(cert["cert_id"], fail_next=["reset"])

    with pytest.raises(TrustedFormError) as caught:
        client(V4).claim(cert["cert_url"], Lead(email="jane@example.com"))

    assert caught.value.retryable
    assert caught.value.status is None
    assert caught.value.unknown  # the request was sent: the next attempt looks before claiming again


def test_a_refused_connection_is_retryable_and_certainly_did_not_land(api_key):
    closed = TrustedFormClient(
        api_key=api_key, api_base="http://127.0.0.1:9", allowed_hosts=["cert.trustedform.com"]
    )

    with pytest.raises(TrustedFormError) as caught:
        closed.claim("https://cert.trustedform.com/" + "a" * 40, Lead(email="jane@example.com"))

    assert caught.value.retryable
    assert not caught.value.unknown
    assert caught.value.call.outcome == "error"


@pytest.mark.parametrize("body", ["", "{not json", "<html>Oops</html>", "[1, 2]"])
def test_an_unreadable_success_body_is_a_clear_error_not_a_traceback(client, sandbox, cert, body):
    sandbox.cert_faults(
        cert["cert_id"], respond={"status": 200, "body": body, "content_type": "application/json"}
    )

    with pytest.raises(TrustedFormError) as caught:
        client(V4).claim(cert["cert_url"], Lead(email="jane@example.com"))

    assert "not the JSON object expected" in caught.value.message
    assert caught.value.unknown  # it may have been claimed: the next attempt views it before re-claiming
    assert caught.value.retryable


def test_the_same_claim_in_v3_and_v4_gives_the_same_typed_result(client, sandbox):
    page = "I agree that Acme Mortgage may call me. Free iPhone for every caller!"
    scans = ScanTerms(required=("Acme Mortgage may call me", "prerecorded"), forbidden=("free iphone",))
    results = {}
    for version in (V3, V4):
        cert = sandbox.mint(email="jane@example.com", phone="5125551212", page_text=page)
        lead = Lead(email="Jane@Example.com ", phone="512-555-1213", reference="L-1", vendor="Acme")
        results[version] = client(version).claim(cert["cert_url"], lead, scans=scans)

    def comparable(r):
        return (
            r.outcome,
            r.email_matched,
            r.phone_matched,
            r.fingerprint_summary,
            r.scans.as_dict(),
            r.retained,
        )

    assert comparable(results[V3]) == comparable(results[V4])
    assert results[V3].outcome == "failure"
    assert results[V3].scans.forbidden_found == ["free iphone"]
    assert results[V3].api_version == V3 and results[V4].api_version == V4
    assert results[V3].status == 201 and results[V4].status == 200


@pytest.mark.parametrize("version", [V3, V4])
def test_differently_written_phones_match_the_same_consumer(client, sandbox, version):
    cert = sandbox.mint(email="kelly@thethings.biz", phone="(513) 555-6719")

    result = client(version).claim(cert["cert_url"], Lead(phone="513.555.6719"))

    assert result.phone_matched is True


def test_a_check_in_at_60_hours_lets_a_claim_at_80_hours_succeed(client, sandbox):
    kept = sandbox.mint(email="jane@example.com")
    lost = sandbox.mint(email="jane@example.com")
    sandbox.advance(hours=60)
    client(V4).check_in(kept["cert_url"])
    sandbox.advance(hours=20)

    result = client(V4).claim(kept["cert_url"], Lead(email="jane@example.com"))
    with pytest.raises(TrustedFormError) as caught:
        client(V4).claim(lost["cert_url"], Lead(email="jane@example.com"))

    assert result.outcome == "success"
    assert caught.value.status == 404


def test_view_validate_insights_and_ping_url(client, sandbox, cert):
    tf = client(V4)
    tf.claim(cert["cert_url"], Lead(email="jane@example.com"))

    viewed = tf.view(cert["cert_url"], Lead(email="jane@example.com"))
    validation = tf.validate(cert["cert_url"])
    insights = tf.insights(cert["cert_url"], ["approx_ip_geo", "seconds_on_page"])
    ping = tf.ping_url(cert["cert_url"])

    assert viewed.outcome == "success" and viewed.email_matched is True
    assert validation.valid and "valid" in validation.reason
    assert insights.insights.geo is not None and insights.insights.seconds_on_page is not None
    assert insights.insights.browser == ""  # only the requested properties come back (and are billed)
    assert ping.url.startswith("https://ping.trustedform.com/")


def test_an_unknown_insights_property_is_refused_before_any_request(client, sandbox, cert):
    with pytest.raises(ValueError, match="Unknown insights properties: shoe_size"):
        client(V4).insights(cert["cert_url"], ["shoe_size"])

    assert sandbox.requests() == []

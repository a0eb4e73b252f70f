"""The TrustedForm client, over real sockets against the sandbox (never a mocked `requests`)."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from trustedform import (
    V3,
    V4,
    InvalidCertificateUrl,
    Lead,
    ScanTerms,
    TrustedFormClient,
    TrustedFormError,
    fingerprint,
    normalise_email,
    normalise_phone,
    parse_certificate_url,
)

EMAIL = "Kelly@TheThings.biz"
PHONE = "(513) 555-6719"
CONSENT = (
    "By clicking Get Quotes I agree that Acme Mortgage may call me at the telephone number provided, "
    "including with prerecorded messages. Consent is not a condition of purchase."
)


@pytest.fixture
def client_for(sandbox, api_key):
    def build(version: str = V3, *, key: str | None = None, read_timeout: float = 5.0) -> TrustedFormClient:
        return TrustedFormClient(
            api_key=key if key is not None else api_key,
            api_base=sandbox.base_url,
            allowed_hosts=["cert.trustedform.com"],
            api_version=version,
            read_timeout=read_timeout,
            pool_size=4,
        )

    return build


@pytest.fixture
def minted(sandbox):
    return sandbox.mint(email="kelly@thethings.biz", phone="5135556719", page_text=CONSENT)


@pytest.mark.parametrize("version", [V3, V4])
def test_claim_with_the_consumers_email_and_phone_matches_both(client_for, minted, version):
    result = client_for(version).claim(minted["cert_url"], Lead(email=EMAIL, phone=PHONE, vendor="Acme"))

    assert result.outcome == "success"
    assert result.email_matched is True
    assert result.phone_matched is True
    assert result.fingerprint_summary == "all"
    assert result.masked_cert_url.startswith("https://cert.trustedform.com/")
    assert result.api_version == version


@pytest.mark.parametrize("version", [V3, V4])
def test_claim_with_another_email_is_a_failure_that_still_retains(client_for, minted, version):
    result = client_for(version).claim(minted["cert_url"], Lead(email="someone@else.com", vendor="Acme"))

    assert result.outcome == "failure"
    assert result.retained
    assert result.email_matched is False
    assert result.fingerprint_summary == "none"


def test_v3_reports_fingerprints_as_sha1_of_the_normalised_values(client_for, minted):
    result = client_for(V3).claim(minted["cert_url"], Lead(email=EMAIL, phone="513.555.6719"))

    assert fingerprint("kelly@thethings.biz") == "c4a8e7fe184993964ae81380e91579015306838a"
    assert fingerprint("5135556719") == "d511850d569bcd7802c30f54de34bb9f2b31eede"
    assert set(result.fingerprints_matching) == {
        "c4a8e7fe184993964ae81380e91579015306838a",
        "d511850d569bcd7802c30f54de34bb9f2b31eede",
    }


@pytest.mark.parametrize("version", [V3, V4])
def test_a_missing_required_term_and_a_found_forbidden_term_fail_the_scan(client_for, minted, version):
    scans = ScanTerms(required=("Acme Mortgage may call me", "free iPhone offer"), forbidden=("prerecorded",))

    result = client_for(version).claim(minted["cert_url"], Lead(email=EMAIL), scans=scans)

    assert result.outcome == "failure"
    assert result.scans.required_found == ["Acme Mortgage may call me"]
    assert result.scans.required_not_found == ["free iPhone offer"]
    assert result.scans.forbidden_found == ["prerecorded"]
    assert result.scans.success is False


def test_a_wildcard_term_matches_whatever_stands_in_its_place(client_for, minted):
    scans = ScanTerms(required=("I agree that {{*}} may call me",))

    result = client_for(V3).claim(minted["cert_url"], Lead(email=EMAIL), scans=scans)

    assert result.scans.required_found == ["I agree that {{*}} may call me"]


@pytest.mark.parametrize("version", [V3, V4])
def test_an_unknown_certificate_is_a_final_404(client_for, version):
    with pytest.raises(TrustedFormError) as caught:
        client_for(version).claim("https://cert.trustedform.com/" + "ab" * 20, Lead(email=EMAIL))

    assert caught.value.status == 404
    assert not caught.value.retryable
    assert "expired or could not be found" in caught.value.message


def test_a_certificate_older_than_72_hours_has_expired(client_for, sandbox):
    old = sandbox.mint(email="a@b.com", age_hours=73)

    with pytest.raises(TrustedFormError) as caught:
        client_for(V4).claim(old["cert_url"], Lead(email="a@b.com"))

    assert caught.value.status == 404


@pytest.mark.parametrize("version", [V3, V4])
def test_a_wrong_api_key_pauses_the_account_rather_than_failing_the_certificate(client_for, minted, version):
    with pytest.raises(TrustedFormError) as caught:
        client_for(version, key="not-the-key").claim(minted["cert_url"], Lead(email=EMAIL))

    assert caught.value.status == 401
    assert caught.value.pauses_account
    assert "not-the-key" not in str(caught.value) + caught.value.call.response_body


def test_a_sandbox_certificate_cannot_be_claimed(client_for, sandbox):
    test_cert = sandbox.mint(email="a@b.com", sandbox=True)

    with pytest.raises(TrustedFormError) as caught:
        client_for(V4).claim(test_cert["cert_url"], Lead(email="a@b.com"))

    assert caught.value.status == 405
    assert not caught.value.retryable


def test_a_server_error_is_retryable(client_for, sandbox, minted):
    sandbox.cert_faults(minted["cert_id"], fail_next=["503"])

    with pytest.raises(TrustedFormError) as caught:
        client_for(V3).claim(minted["cert_url"], Lead(email=EMAIL))

    assert caught.value.status == 503
    assert caught.value.retryable
    assert caught.value.call.status == 503


def test_an_html_error_page_is_read_as_an_error_not_a_crash(client_for, sandbox, minted):
    sandbox.cert_faults(minted["cert_id"], fail_next=["html500"])

    with pytest.raises(TrustedFormError) as caught:
        client_for(V3).claim(minted["cert_url"], Lead(email=EMAIL))

    assert caught.value.status == 500
    assert "HTML error page" in caught.value.reason
    assert caught.value.retryable


def test_a_read_timeout_is_recorded_as_unknown_and_retryable(client_for, sandbox, minted):
    sandbox.cert_faults(minted["cert_id"], fail_next=["timeout"])

    with pytest.raises(TrustedFormError) as caught:
        client_for(V3, read_timeout=0.5).claim(minted["cert_url"], Lead(email=EMAIL))

    assert caught.value.status is None
    assert caught.value.unknown
    assert caught.value.retryable
    assert caught.value.call.outcome == "unknown"


def test_a_request_held_up_past_its_send_by_time_is_not_sent(client_for, sandbox, minted):
    """A caller that cleared a request under a lease gives it a time to leave by; a sender stopped past
    it (a stall between the check and the send) must not send: someone else may have taken over."""
    client = client_for(V4)

    def cleared_then_stopped(call):
        call.send_by = time.time() + 0.05
        time.sleep(0.1)

    with pytest.raises(TrustedFormError) as caught:
        client.claim(minted["cert_url"], Lead(email=EMAIL), before_send=cleared_then_stopped)

    assert caught.value.not_sent and caught.value.retryable and not caught.value.unknown
    assert caught.value.call.outcome == "error" and caught.value.call.status is None
    assert sandbox.requests(cert_id=minted["cert_id"]) == []
    # The connection it had taken is discarded, not returned half-used: the next request goes through.
    result = client.claim(minted["cert_url"], Lead(email=EMAIL), before_send=_send_by_in(5))
    assert result.outcome == "success" and len(sandbox.requests(cert_id=minted["cert_id"])) == 1


def test_a_request_within_its_send_by_time_is_sent_on_every_connection_of_the_pool(
    client_for, sandbox, minted
):
    client = client_for(V4)
    client.claim(minted["cert_url"], Lead(email=EMAIL))
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda _: client.view(minted["cert_url"], Lead(email=EMAIL), before_send=_send_by_in(5)),
                range(8),
            )
        )
    assert [r.outcome for r in results] == ["success"] * 8
    assert len(sandbox.requests(cert_id=minted["cert_id"])) == 9


def _send_by_in(seconds: float):
    def before_send(call):
        call.send_by = time.time() + seconds

    return before_send


def test_a_redirect_is_never_followed(client_for, sandbox, minted):
    trap = f"{sandbox.base_url}/_sandbox/trap"
    sandbox.cert_faults(minted["cert_id"], redirect_to=trap)

    with pytest.raises(TrustedFormError) as caught:
        client_for(V3).claim(minted["cert_url"], Lead(email=EMAIL))

    assert caught.value.status == 302
    assert "not followed" in caught.value.message
    assert not [r for r in sandbox.requests() if "trap" in r["path"]]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://cert.trustedform.com.evil.example/" + "a" * 40, "not a TrustedForm certificate host"),
        ("https://evilcert.trustedform.com/" + "a" * 40, "not a TrustedForm certificate host"),
        ("http://cert.trustedform.com/" + "a" * 40, "https://"),
        ("https://user:pw@cert.trustedform.com/" + "a" * 40, "user name or password"),
        ("https://cert.trustedform.com:8443/" + "a" * 40, "port"),
        ("https://cert.staging.trustedform.com/" + "a" * 40, "staging"),
        (
            "https://cert.trustedform.com/" + "a" * 40 + ",https://cert.trustedform.com/" + "b" * 40,
            "more than one",
        ),
        ("https://cert.trustedform.com/not-an-id", "unknown shape"),
        ("", "empty"),
    ],
)
def test_a_suspicious_url_is_refused_before_any_request(client_for, sandbox, url, reason):
    with pytest.raises(InvalidCertificateUrl) as caught:
        client_for(V3).claim(url, Lead(email=EMAIL))

    assert reason in caught.value.reason
    assert sandbox.requests() == []


def test_web_ids_are_lower_cased_and_trailing_slashes_trimmed():
    ref = parse_certificate_url(
        "  https://CERT.trustedform.com/" + "AB" * 20 + "/ ", ["cert.trustedform.com"]
    )

    assert ref.cert_id == "ab" * 20
    assert ref.url == "https://cert.trustedform.com/" + "ab" * 20
    assert ref.cert_type == "web"


def test_the_request_goes_to_the_configured_base_not_the_url_host(client_for, sandbox, minted):
    client_for(V3).claim(minted["cert_url"], Lead(email=EMAIL))

    [seen] = sandbox.requests()
    assert seen["path"] == "/" + minted["cert_id"]
    assert seen["auth_ok"] is True


def test_an_api_base_over_plain_http_is_refused_unless_it_is_loopback(api_key):
    with pytest.raises(ValueError, match="https"):
        TrustedFormClient(api_key=api_key, api_base="http://cert.trustedform.com", allowed_hosts=[])


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("(513) 555-6719", "5135556719"), ("513.555.6719", "5135556719"), ("+1 513 555 6719", "5135556719")],
)
def test_phones_are_normalised_to_ten_digits(raw, normalised):
    assert normalise_phone(raw) == normalised


def test_emails_are_trimmed_and_lower_cased():
    assert normalise_email("  Kelly@TheThings.biz ") == "kelly@thethings.biz"

"""`manage.py claim_certificate`: the same client and log, a typed result, and clean errors."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from certificates.models import ApiCall, Certificate

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[CommandError | None, dict]:
    """Run the command with --json; returns the CommandError (if it failed) and its last line as JSON."""
    out, failure = StringIO(), None
    try:
        call_command("claim_certificate", *args, "--json", stdout=out)
    except CommandError as exc:
        failure = exc
    return failure, json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.parametrize("version", ["3", "4"])
def test_it_prints_the_typed_result_as_json(tf_api, version):
    cert = tf_api.mint(email="jane@example.com", page_text="I agree to be called by Acme.")

    _, result = run(cert["cert_url"], "--email", "jane@example.com", "--api-version", version)

    assert result["outcome"] == "success"
    assert result["email_matched"] is True
    assert set(result["scans"]) == {
        "required_found",
        "required_not_found",
        "forbidden_found",
        "forbidden_not_found",
    }
    assert result["masked_cert_url"].startswith("https://cert.trustedform.com/")
    assert result["expires_at"]
    assert result["api_version"] == f"{version}.0"
    assert ApiCall.objects.get().trigger == "command"


def test_it_updates_a_certificate_that_tfdash_already_holds(tf_api):
    from tests.factories import make_certificate

    cert = tf_api.mint(email="jane@example.com")
    make_certificate(cert["cert_url"], email="jane@example.com")

    run(cert["cert_url"], "--email", "jane@example.com")

    assert Certificate.objects.get().state == "claimed"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ("", "application/json", "an empty answer"),
        ("<html><title>Oops</title></html>", "text/html", "HTML error page"),
        ('{"outcome": ', "application/json", '{"outcome":'),
    ],
)
def test_any_broken_body_gives_a_json_error_and_exit_1(tf_api, body, content_type, reason):
    cert = tf_api.mint(email="jane@example.com")
    tf_api.cert_faults(cert["cert_id"], respond={"status": 502, "body": body, "content_type": content_type})

    failure, printed = run(cert["cert_url"], "--email", "jane@example.com")

    assert failure is not None and failure.returncode == 1
    error = printed["error"]
    assert error["status"] == 502
    assert error["retryable"] is True
    assert reason in error["reason"]


def test_a_bad_url_is_a_json_error_before_any_request(tf_api):
    failure, printed = run("http://cert.trustedform.com/" + "a" * 40)

    assert failure is not None and failure.returncode == 1
    assert printed["error"] == {
        "status": None,
        "reason": "Certificate URLs must use https://, not http://.",
        "retryable": False,
    }
    assert tf_api.requests() == []

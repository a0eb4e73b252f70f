"""The JSON intake API: bearer tokens and scopes, one lead or many, per-lead errors, read-back, rate limit."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certificates import claiming
from certificates.exporting import FORMULA_LIKE_NAME
from certificates.intake import api_views, leads, tokens
from certificates.models import Certificate, ImportBatch, ImportRowError
from tests.factories import make_certificate, make_vendor
from tests.support.databases import subprocess_database_url

pytestmark = pytest.mark.django_db

LEADS = "/api/leads"


def url(n: int) -> str:
    return f"https://cert.trustedform.com/{n:040x}"


@pytest.fixture
def token() -> str:
    return tokens.issue_intake_token(name="Lead system", scopes=["leads:write", "leads:read"])[1]


def post(client, body, token: str | None = None, raw: bool = False):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if raw else json.dumps(body)
    return client.post(LEADS, data=data, content_type="application/json", headers=headers)


def get(client, cert_id: str, token: str):
    return client.get(f"{LEADS}/{cert_id}", headers={"Authorization": f"Bearer {token}"})


def lead(n: int, **fields) -> dict:
    return {"cert_url": url(n), "vendor": "Acme", "email": "jane@example.com", **fields}


def test_it_refuses_a_request_without_a_token(client):
    response = post(client, lead(1))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"
    assert not Certificate.objects.exists()


@pytest.mark.parametrize("header", ["Bearer tfi_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer", "tfi_x"])
def test_it_refuses_a_bad_token(client, header):
    response = client.post(
        LEADS, data=json.dumps(lead(1)), content_type="application/json", headers={"Authorization": header}
    )

    assert response.status_code == 401
    assert response.json()["reason"]


def test_it_refuses_a_revoked_token(client, token):
    tokens.revoke_intake_token(tokens.token_for(token))

    response = post(client, lead(1), token)

    assert response.status_code == 401
    assert "revoked" in response.json()["reason"]


def test_it_refuses_a_token_without_the_scope(client):
    read_only = tokens.issue_intake_token(name="Reports", scopes=["leads:read"])[1]
    write_only = tokens.issue_intake_token(name="Pusher", scopes=["leads:write"])[1]
    make_certificate(url(1))

    assert post(client, lead(2), read_only).status_code == 403
    response = get(client, f"{1:040x}", write_only)
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "reason": "The token lacks the scope leads:read."}


def test_it_accepts_one_lead_and_answers_201(client, token):
    body = lead(1, phone="(513) 555-6719", reference="L-1", lead_time="2024-05-01T12:00:00Z")

    response = post(client, body, token)

    assert response.status_code == 201
    [result] = response.json()["results"]
    assert result == {
        "index": 0,
        "status": "accepted",
        "cert_id": f"{1:040x}",
        "errors": [],
        "state": "pending",
        "url": f"/api/leads/{1:040x}",
    }
    certificate = Certificate.objects.get()
    assert (certificate.reference, certificate.phone_normalised) == ("L-1", "5135556719")
    assert certificate.batch.source == ImportBatch.Source.API
    assert certificate.batch.intake_token == tokens.token_for(token)


def test_a_list_gets_a_result_per_lead_and_207_when_some_fail(client, token):
    make_certificate(url(1), vendor=make_vendor("Acme"))
    body = [
        lead(1),  # known, same vendor
        lead(2),
        lead(3, vendor="Bolt"),
        lead(3),  # same certificate, another vendor
        {"cert_url": "http://cert.trustedform.com/abc", "email": "nope", "vendor": "Acme"},
        "not an object",
        {"cert_url": url(4), "vendor": {"name": "Acme"}},
    ]

    response = post(client, body, token)

    assert response.status_code == 207
    data = response.json()
    assert [r["status"] for r in data["results"]] == [
        "duplicate",
        "accepted",
        "accepted",
        "reused",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert data["counts"] == {"accepted": 2, "duplicate": 1, "reused": 1, "rejected": 3}
    assert data["results"][4]["errors"] == [
        {"field": "cert_url", "reason": "Certificate URLs must use https://, not http://."},
        {"field": "email", "reason": "Not a valid email address."},
    ]
    assert data["results"][5]["errors"] == [{"field": "", "reason": "Each lead must be a JSON object."}]
    assert data["results"][6]["errors"] == [{"field": "vendor", "reason": "Must be text, not dict."}]
    assert Certificate.objects.get(cert_id=f"{3:040x}").reused is True
    assert ImportRowError.objects.count() == 4  # one per bad field


def test_all_leads_rejected_answers_422(client, token):
    response = post(client, [{"cert_url": "", "vendor": "Acme"}, {"cert_url": url(1)}], token)

    assert response.status_code == 422
    assert [r["errors"][0]["field"] for r in response.json()["results"]] == ["cert_url", "vendor"]


def test_requests_of_a_day_share_a_batch_and_number_their_leads_on(client, token):
    post(client, [lead(1), {"cert_url": "x", "vendor": "Acme"}], token)
    post(client, [{"cert_url": "y", "vendor": "Acme"}], token)

    batch = ImportBatch.objects.get()
    assert (batch.total_rows, batch.accepted, batch.rejected) == (3, 1, 2)
    assert list(batch.row_errors.values_list("line", flat=True)) == [2, 3]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ("{not json", 400, "bad_json"),
        ("[" * 100_000 + "]" * 100_000, 400, "bad_json"),
        ('"a string"', 400, "bad_request"),
        ("[]", 400, "bad_request"),
        ("\udcff", 400, "bad_json"),
        ("NaN", 400, "bad_request"),
    ],
)
def test_bad_json_gets_a_400_with_a_reason(client, token, body, status, error):
    response = post(client, body.encode("utf-8", "surrogateescape"), token, raw=True)

    assert response.status_code == status
    assert response.json()["error"] == error


def test_too_many_leads_in_one_request_is_refused(client, token):
    response = post(client, [lead(1)] * 1001, token)

    assert response.status_code == 413
    assert not Certificate.objects.exists()


def test_a_value_that_cannot_be_stored_is_rejected_not_a_500(client, token):
    # These JSON escapes decode to a NUL and a lone surrogate: text that no database column can hold.
    body = '[{"cert_url": "URL", "vendor": "Ac\\u0000me", "email": "\\ud800"}]'.replace("URL", url(1))

    response = post(client, body, token, raw=True)

    assert response.status_code == 422
    errors = response.json()["results"][0]["errors"]
    assert {e["field"] for e in errors} == {"vendor", "email"}


def test_it_reads_back_a_lead(client, token):
    post(client, lead(1, reference="L-1"), token)

    response = get(client, f"{1:040x}", token)

    assert response.status_code == 200
    data = response.json()
    assert (data["state"], data["vendor"], data["reference"], data["outcome"]) == (
        "pending",
        "Acme",
        "L-1",
        None,
    )
    assert data["claim_deadline"]


def test_it_reads_back_trustedforms_outcome_after_the_claim(client, token, tf_api):
    minted = tf_api.mint(email="jane@example.com")
    post(client, {"cert_url": minted["cert_url"], "vendor": "Acme", "email": "jane@example.com"}, token)
    claiming.claim_certificate(Certificate.objects.get(), trigger="test")

    data = get(client, minted["cert_id"], token).json()

    assert (data["state"], data["outcome"], data["fingerprint_result"]) == ("claimed", "success", "all")
    assert data["retained_until"]


def test_an_unknown_lead_is_a_json_404(client, token):
    response = get(client, "f" * 40, token)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_wrong_method_is_a_json_405(client, token):
    response = client.get(LEADS, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"


def test_it_needs_no_session_and_no_csrf_token(token):
    strict = Client(enforce_csrf_checks=True)

    response = post(strict, lead(1), token)

    assert response.status_code == 201
    assert "sessionid" not in response.cookies
    assert "csrftoken" not in response.cookies


def test_it_limits_each_token_per_minute(client, token, settings, monkeypatch):
    settings.INTAKE_RATE_LIMIT = 3
    monkeypatch.setattr(api_views, "time", SimpleNamespace(time=lambda: 1_800_000_030.0))  # mid-minute
    other = tokens.issue_intake_token(name="Other", scopes=["leads:write"])[1]

    statuses = [post(client, lead(n), token).status_code for n in range(4)]
    limited = post(client, lead(9), token)

    assert statuses == [201, 201, 201, 429]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["error"] == "rate_limited"
    assert post(client, lead(10), other).status_code == 201  # the limit is per token
    assert Certificate.objects.count() == 4


def test_the_rate_count_lives_on_the_token_not_in_a_process_cache(client, token, settings, monkeypatch):
    settings.INTAKE_RATE_LIMIT = 2
    # Mid-minute, so that the three requests share a window however long the test takes.
    monkeypatch.setattr(api_views, "time", SimpleNamespace(time=lambda: 1_800_000_030.0))
    statuses = [post(client, lead(n), token).status_code for n in range(2)]

    cache.clear()  # a restarted or different web process has an empty local cache

    assert statuses == [201, 201]
    assert post(client, lead(3), token).status_code == 429


def test_a_new_minute_starts_a_new_window(client, token, settings, monkeypatch):
    settings.INTAKE_RATE_LIMIT = 1
    clock = {"now": 1_800_000_000.0}  # the first second of a minute
    monkeypatch.setattr(api_views, "time", SimpleNamespace(time=lambda: clock["now"]))

    first, second = post(client, lead(1), token), post(client, lead(2), token)
    clock["now"] += 60
    next_minute = post(client, lead(3), token)

    assert (first.status_code, second.status_code, next_minute.status_code) == (201, 429, 201)
    assert second["Retry-After"] == "60"


@pytest.mark.django_db(transaction=True)
def test_two_processes_count_against_one_limit(settings):
    """Each gunicorn worker is a process: a request counted in one must count in the others."""
    settings.INTAKE_RATE_LIMIT = 3
    token, _ = tokens.issue_intake_token(name="Lead system", scopes=["leads:write"])
    other_process = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from certificates.intake.api_views import rate_limit_wait as wait; from certificates.models import "
            f"IntakeToken as T; t = T.objects.get(pk={token.pk}); print([wait(t) for _ in range(2)])",
        ],
        cwd=Path(__file__).resolve().parents[1],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": subprocess_database_url(),
            "INTAKE_RATE_LIMIT": "3",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other_process.returncode == 0, other_process.stderr
    assert other_process.stdout.strip().splitlines()[-1] == "[0, 0]"

    here = [api_views.rate_limit_wait(token) for _ in range(2)]

    assert here[0] == 0 and here[1] > 0  # the third request is the last one allowed this minute


def test_tokens_are_stored_only_as_a_hash(client):
    _, raw = tokens.issue_intake_token(name="Lead system", scopes=["leads:write"])
    post(client, lead(1), raw)

    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from introspection)
            for row in cursor.fetchall():
                assert raw not in repr(row), table
                assert raw[12:] not in repr(row), table


def test_using_a_token_records_when(client, token):
    post(client, lead(1), token)

    assert tokens.token_for(token).last_used_at is not None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(leads.FIELDS), children)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values)
def test_any_json_gets_an_answer_never_a_500(client, token, body):
    cache.clear()

    response = post(client, body, token)

    assert response.status_code in {201, 207, 400, 422}
    assert response["Content-Type"] == "application/json"
    if response.status_code in {201, 207, 422}:
        results = response.json()["results"]
        assert len(results) == (len(body) if isinstance(body, list) else 1)
        assert all(r["errors"] for r in results if r["status"] == "rejected")


def test_a_vendor_named_like_a_formula_is_rejected_per_lead(client, token):
    response = post(client, [lead(1, vendor="@SUM(A1)"), lead(2)], token)

    assert response.status_code == 207
    rejected = response.json()["results"][0]
    assert rejected["status"] == "rejected"
    assert rejected["errors"] == [{"field": "vendor", "reason": FORMULA_LIKE_NAME}]
    assert list(Certificate.objects.values_list("vendor__name", flat=True)) == ["Acme"]

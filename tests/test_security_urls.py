"""Every URL needs a login: an anonymous GET or POST of any pattern, admin included, gets no page.

The patterns are walked from the root URLconf, so a URL added later is checked without touching this
file; one that cannot be given a concrete path, or that answers an anonymous visitor, fails the test.
"""

import re

import pytest
from axes.models import AccessAttempt
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.utils.regex_helper import normalize

from certificates.apilog import models as api_log
from certificates.intake import tokens
from certificates.models import EvidenceExport, ImportBatch
from scanning.models import ScanProfile, ScanTemplate, ScanTerm
from tests.factories import make_certificate, make_user, make_vendor

pytestmark = pytest.mark.django_db

# The only views an anonymous visitor reaches, each with what it must answer (method -> statuses).
# Static files are served by whitenoise before any URL pattern; the axes lockout page is not a URL but
# the answer of a locked-out login POST (tests/test_security_login.py). Log-out needs no exception: an
# anonymous visitor has no session to end and is sent to log in like everywhere else.
ALLOWED = {
    "login": {"GET": {200}, "POST": {200}},  # the form, then the form with its error
    "healthz": {"GET": {200}, "POST": {405}},
    "admin:login": {"GET": {200}, "POST": {200}},
    # An invitation's one-time link (tfdash/people.py): the token in the URL is the credential; a wrong
    # one answers "this link no longer works".
    "password-set": {"GET": {200}, "POST": {200}},
    "password-set-done": {"GET": {200}, "POST": {405}},
}
# The token API answers JSON: 401 without a token, 405 for a method it does not take.
TOKEN_API = {"api:leads", "api:lead", "api:revocations"}
TOKEN_API_STATUSES = {401, 403, 404, 405}


def walk(patterns=None, prefix: str = "", namespace: str = ""):
    """(qualified name, regex of the full path, pattern) of every URL pattern, nested ones included."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        regex = prefix + entry.pattern.regex.pattern.removeprefix("^")
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, regex.removesuffix("$").removesuffix(r"\Z"), inner)
        elif isinstance(entry, URLPattern):
            yield (f"{namespace}{entry.name}" if entry.name else f"{namespace}<unnamed>", regex, entry)


def objects() -> dict[str, str]:
    """Real rows for the paths' arguments, so that a view which forgot its check would show one."""
    admin = make_user("admin")
    certificate = make_certificate(email="jane@example.com", phone="5125551212")
    batch = ImportBatch.objects.create(source=ImportBatch.Source.CSV, filename="leads.csv")
    token, _ = tokens.issue_intake_token(name="lead system", scopes=["leads:read"], user=admin)
    call = api_log.append_api_call(
        trigger="web",
        certificate=certificate,
        operation="claim",
        method="POST",
        url="https://x",
        outcome="ok",
    )
    attempt = AccessAttempt.objects.create(
        username="someone", ip_address="203.0.113.7", user_agent="", failures_since_start=5
    )
    return {
        "certificates:detail": certificate.pk,
        "certificates:claim-now": certificate.pk,
        "certificates:check-in": certificate.pk,
        "certificates:view-again": certificate.pk,
        "certificates:review": certificate.pk,
        "certificates:evidence": certificate.pk,
        "certificates:export-download": EvidenceExport.objects.create(created_by=admin).pk,
        "certificates:api-call": call.pk,
        "certificates:vendor": make_vendor().pk,
        "reports:vendor": certificate.vendor_id,
        "intake:batch": batch.pk,
        "intake:batch-progress": batch.pk,
        "intake:batch-retry": batch.pk,
        "intake:batch-cancel": batch.pk,
        "intake:token-revoke": token.pk,
        "scanning:term": ScanTerm.objects.create(text="I agree").pk,
        "scanning:term-delete": ScanTerm.objects.create(text="I consent").pk,
        "scanning:template": ScanTemplate.objects.create(text="on behalf of {{*}}").pk,
        "scanning:template-delete": ScanTemplate.objects.create(text="by {{*}}").pk,
        "scanning:profile": ScanProfile.objects.create(name="Acme").pk,
        "scanning:profile-delete": ScanProfile.objects.create(name="Other").pk,
        "unlock": attempt.pk,
        "api:lead": certificate.cert_id,
        # The admin's object pages: any existing object; its app pages: a real app label.
        "object_id": str(certificate.vendor_id),
        "app_label": "certificates",
        "content_type_id": "1",
        "url": "no-such-admin-page/",
        "token": "dummy-upload-token",
    }


def concrete_path(name: str, regex: str, values: dict) -> str:
    """A path that the pattern matches: its arguments filled from `values` (by URL name, then by
    argument name), checked to resolve back to this very pattern."""
    (template, params), *_ = normalize(regex)
    filled = {p: str(values.get(name, values.get(p, "1"))) for p in params}
    return "/" + template % filled


def anonymous_findings(client, values: dict) -> list[str]:
    """Every URL pattern that an anonymous GET or POST gets more than a login redirect from."""
    findings = []
    for name, regex, pattern in walk():
        path = concrete_path(name, regex, values)
        try:
            match = resolve(path)
        except Resolver404:
            findings.append(f"{name}: no concrete path built ({path}); give its argument a value")
            continue
        if match.func is not pattern.callback:
            findings.append(f"{name}: {path} resolves to another view; give its argument a value")
            continue
        for method in ("GET", "POST"):
            response = client.generic(method, path)
            expected = ALLOWED.get(name, {}).get(method)
            if expected is not None:
                if response.status_code not in expected:
                    findings.append(f"{name}: allow-listed {method} {path} answered {response.status_code}")
            elif name in TOKEN_API:
                if (
                    response.status_code not in TOKEN_API_STATUSES
                    or response["Content-Type"] != "application/json"
                ):
                    findings.append(
                        f"{name}: {method} {path} answered {response.status_code} without a token"
                    )
            elif not login_redirect(response):
                findings.append(f"{name}: anonymous {method} {path} answered {response.status_code}")
    return findings


def login_redirect(response) -> bool:
    """To the log-in page (the admin's own for some admin views), coming back here afterwards."""
    location = response.get("Location", "")
    return response.status_code == 302 and location.startswith(("/login/?next=", "/admin/login/?next="))


def test_every_url_refuses_an_anonymous_get_and_post(client):
    findings = anonymous_findings(client, objects())

    assert findings == []


def test_the_walk_reaches_every_app_and_the_admin():
    names = [name for name, _, _ in walk()]

    assert len(names) > 60
    for prefix in ("certificates:", "intake:", "api:", "scanning:", "reports:", "admin:"):
        assert any(n.startswith(prefix) for n in names), prefix
    assert {
        "audit",
        "audit-verify",
        "lockouts",
        "unlock",
        "settings",
        "settings-resume",
        "home",
        "logout",
    } <= set(names)
    assert set(ALLOWED) <= set(names)


def test_an_unprotected_url_added_later_is_caught(client, settings):
    """The check above bites: a view marked @login_not_required in a new URLconf is reported."""
    settings.ROOT_URLCONF = "tests.support.leaky_urls"
    values = objects()

    findings = anonymous_findings(client, values)

    assert findings == [
        "leaky-page: anonymous GET /leaky/1/ answered 200",
        "leaky-page: anonymous POST /leaky/1/ answered 200",
    ]


def test_healthz_tells_an_anonymous_visitor_nothing_about_customers(client):
    make_certificate(email="jane@example.com")

    body = client.get("/healthz").json()

    assert set(body) == {"database", "worker", "last_seen", "alerts"}
    assert body["alerts"] in {"ok", "undelivered"}  # a state, never a count, an address or a summary


def test_static_files_are_served_without_a_login(client):
    response = client.get("/static/css/tfdash.css")

    assert response.status_code == 200
    assert re.search(rb"\.badge", b"".join(response.streaming_content))

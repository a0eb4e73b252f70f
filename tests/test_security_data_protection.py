"""The API key is never in the database, a page, an export, a log or an error.

A full claim cycle runs against the sandbox with the tests' distinctive key; then every page an admin can
reach, every export, every log record and every text column of every row are searched for it.
"""

import base64
import io
import logging
import re
import zipfile

import pytest
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from certificates.models import AccountStatus, ApiCall, Certificate
from tests.factories import make_user

pytestmark = pytest.mark.django_db

CONSENT = "I agree that Acme Mortgage may call me at the number provided, including by autodialer."
# POST-only actions that change state; everything else is fetched.
SKIP = {"logout"}


def forms_of(key: str) -> list[str]:
    """The key as it could leak: itself, and inside a Basic auth header."""
    basic = base64.b64encode(f"API:{key}".encode()).decode()
    return [key, basic, basic.rstrip("=")]


def argument_free_paths(patterns=None, prefix: str = "") -> list[tuple[str, str]]:
    """(name, path) of every URL pattern in tfdash.urls that takes no argument."""
    found = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = str(entry.pattern).removeprefix("^").removesuffix("$").removesuffix(r"\Z")
        if re.search(r"[<(\[\\?*+]", route):
            continue  # takes arguments (or is a catch-all)
        if isinstance(entry, URLResolver):
            found += argument_free_paths(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            found.append((entry.name or "", "/" + prefix + route))
    return found


def unpacked(response) -> str:
    """A response's text; zip files (XLSX, evidence packages) are opened and every member read."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return "\n".join(archive.read(name).decode(errors="replace") for name in archive.namelist())
    return body.decode(errors="replace") + "\n" + "\n".join(f"{k}: {v}" for k, v in response.items())


def claim(client, cert_url: str) -> str:
    form = {"cert_url": cert_url, "vendor": "Acme Leads", "email": "jane@example.com", "phone": "5125551212"}
    return unpacked(client.post(reverse("certificates:claim"), form, follow=True))


def every_text_in_the_database() -> dict[str, str]:
    texts = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - table names
            texts[table] = "\n".join(repr(row) for row in cursor.fetchall())
    return texts


def test_the_api_key_appears_nowhere_after_a_full_claim_cycle(client, tf_api, api_key, caplog):
    caplog.set_level(logging.DEBUG)
    admin = make_user("admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    client.raise_request_exception = False  # a page that fails renders the 500 page; its traceback is logged
    success = tf_api.mint(email="jane@example.com", phone="5125551212", page_text=CONSENT)
    failure = tf_api.mint(email="someone-else@example.com", page_text=CONSENT)
    server_error = tf_api.mint(email="jane@example.com")
    refused = tf_api.mint(email="jane@example.com")
    tf_api.cert_faults(server_error["cert_id"], fail_next=["503"])
    tf_api.cert_faults(refused["cert_id"], respond={"status": 403, "body": {"message": "Forbidden"}})

    texts = {
        f"claim {name}": claim(client, minted["cert_url"])
        for name, minted in [
            ("success", success),
            ("failure", failure),
            ("5xx", server_error),
            ("403", refused),
        ]
    }
    outcomes = dict(Certificate.objects.values_list("cert_id", "outcome"))
    statuses = {}
    for name, path in argument_free_paths():
        if name not in SKIP:
            response = client.get(path)
            statuses[path], texts[path] = response.status_code, unpacked(response)
    for certificate in Certificate.objects.all():
        texts[certificate.get_absolute_url()] = unpacked(client.get(certificate.get_absolute_url()))
        evidence = reverse("certificates:evidence", args=[certificate.pk])
        texts[evidence] = unpacked(client.get(evidence))
    for call in ApiCall.objects.all():
        texts[call.get_absolute_url()] = unpacked(client.get(call.get_absolute_url()))
        admin_page = reverse("admin:certificates_apicall_change", args=[call.pk])
        texts[admin_page] = unpacked(client.get(admin_page))
    for export in ("csv", "xlsx"):
        texts[f"export {export}"] = unpacked(client.get(reverse("certificates:list"), {"_export": export}))
    texts["log records"] = caplog.text + "\n".join(repr(vars(r)) for r in caplog.records)
    texts.update(every_text_in_the_database())

    # The cycle really happened: each kind of answer is in the log, and the 403 paused claiming.
    assert outcomes[success["cert_id"]] == "success" and outcomes[failure["cert_id"]] == "failure"
    assert {201, 200} & set(ApiCall.objects.values_list("status", flat=True))
    assert {503, 403} <= set(ApiCall.objects.values_list("status", flat=True))
    assert AccountStatus.current().claiming_paused
    assert "Claiming is paused" in texts["claim 403"]
    assert len(texts) > 40 and "/healthz" in texts and "/admin/" in texts
    assert "Acme Leads" in texts["export csv"] and "Acme Leads" in texts["export xlsx"]
    # Other features' pages failing is not this test's business, but most pages must have rendered.
    assert sum(code == 200 for code in statuses.values()) > 20, statuses
    leaks = {where: form for where, text in texts.items() for form in forms_of(api_key) if form in text}
    assert leaks == {}


def test_the_search_would_find_the_key_if_it_leaked(api_key):
    """The check above is only worth something if a leak in any of these places would be seen."""
    basic = base64.b64encode(f"API:{api_key}".encode()).decode()

    assert any(form in f"Authorization: Basic {basic}" for form in forms_of(api_key))
    assert ("/healthz" in dict((p, n) for n, p in argument_free_paths())) is True

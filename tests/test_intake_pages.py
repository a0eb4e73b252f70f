"""The intake pages: upload or paste, dry run, confirm, batches and their progress, retry and cancel."""

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from certificates import claiming, leasing
from certificates.intake import tokens
from certificates.models import Certificate, ImportBatch, IntakeToken, Vendor
from tests.factories import PASSWORD, make_certificate, make_user, make_vendor
from trustedform import CallRecord

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def upload_dir(settings, tmp_path):
    settings.INTAKE_UPLOAD_DIR = tmp_path / "uploads"
    return settings.INTAKE_UPLOAD_DIR


def url(n: int) -> str:
    return f"https://cert.trustedform.com/{n:040x}"


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def upload(client, text: str, name: str = "leads.csv", vendor: str = "", **extra):
    data = {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv"), "vendor": vendor}
    return client.post(reverse("intake:import"), data, **extra)


def make_batch(*states: str, deadline_in: timedelta = timedelta(hours=60)) -> ImportBatch:
    batch = ImportBatch.objects.create(source=ImportBatch.Source.CSV, filename="x.csv")
    vendor = make_vendor()
    for n, state in enumerate(states):
        certificate = make_certificate(vendor=vendor, email=f"lead{n}@example.com")
        certificate.batch, certificate.state = batch, state
        certificate.claim_deadline = timezone.now() + deadline_in + timedelta(minutes=n)
        if state == Certificate.State.CLAIMED:
            certificate.claimed_at = timezone.now() - timedelta(minutes=1)
        certificate.save()
    return batch


@pytest.mark.parametrize("name", ["intake:import", "intake:batches", "intake:tokens"])
def test_every_intake_page_needs_a_login(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_viewer_may_not_import(client):
    login(client, "viewer")

    assert client.get(reverse("intake:import")).status_code == 403
    assert upload(client, f"cert_url,vendor\n{url(1)},Acme\n").status_code == 403


def test_the_nav_shows_import_to_analysts_only(client):
    nav_link = re.compile(r'<a href="/intake/"\s*(aria-current="page")?>Import</a>')
    login(client, "analyst")
    assert nav_link.search(client.get(reverse("home")).content.decode())

    login(client, "viewer")
    assert not nav_link.search(client.get(reverse("home")).content.decode())


def test_an_upload_shows_a_dry_run_and_saves_nothing(client, upload_dir):
    login(client, "analyst")
    text = f"xxTrustedFormCertUrl,Source,zip\n{url(1)},Acme,45202\nhttp://cert.trustedform.com/x,Acme,1\n"

    response = upload(client, text, follow=True)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Check before importing" in page
    assert 'data-testid="count-new">1<' in page
    assert 'data-testid="count-rejected">1<' in page
    assert "Certificate URLs must use https://, not http://." in page
    assert '<td class="mono">zip</td><td><span class="muted">not used</span>' in page
    assert not Certificate.objects.exists()
    assert len(list(upload_dir.glob("*.csv"))) == 1  # kept on disk, not in the session


def test_confirming_imports_the_rows_and_opens_the_batch(
    client, upload_dir, django_capture_on_commit_callbacks
):
    user = login(client, "analyst")
    dry = upload(client, f"cert_url,email\n{url(1)},jane@example.com\nnot a url,\n", vendor="Acme")
    token = dry["Location"].rstrip("/").split("/")[-1]

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("intake:confirm", args=[token]))

    batch = ImportBatch.objects.get()
    assert response["Location"] == reverse("intake:batch", args=[batch.pk])
    assert (batch.created_by, batch.source, batch.filename) == (user, "csv", "leads.csv")
    assert (batch.accepted, batch.rejected) == (1, 1)
    assert Certificate.objects.get().vendor.name == "Acme"
    assert len(callbacks) == 1  # the claim worker is woken
    assert list(upload_dir.iterdir()) == []  # the temp file is gone


def test_a_large_file_is_read_in_the_background_while_the_batch_page_shows_progress(
    client, settings, upload_dir, django_capture_on_commit_callbacks
):
    settings.INTAKE_INLINE_IMPORT_BYTES = 10  # every file counts as large
    login(client, "analyst")
    rows = "".join(f"{url(n)},Acme\n" for n in range(1, 6)) + "not a url,Acme\n"
    token = upload(client, "cert_url,vendor\n" + rows)["Location"].rstrip("/").split("/")[-1]

    confirmed = {"new_vendor": "Acme", "confirm_new_vendors": "1"}
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("intake:confirm", args=[token]), confirmed, follow=True)
    batch = ImportBatch.objects.get()
    page = response.content.decode()
    progress = client.get(reverse("intake:batch-progress", args=[batch.pk])).json()

    assert batch.still_reading
    assert not Certificate.objects.exists()
    assert "Importing in the background" in page and 'data-testid="still-reading"' in page
    assert progress["reading"] and not progress["done"]

    for callback in callbacks:  # what the worker does once the request has committed
        callback()
    batch.refresh_from_db()

    assert not batch.still_reading
    assert (batch.accepted, batch.rejected) == (5, 1)
    assert Certificate.objects.filter(batch=batch).count() == 5
    assert list(upload_dir.iterdir()) == []
    assert client.get(reverse("intake:batch-progress", args=[batch.pk])).json()["reading"] is False


def test_confirming_twice_imports_once(client):
    login(client, "analyst")
    token = upload(client, f"cert_url,vendor\n{url(1)},Acme\n")["Location"].rstrip("/").split("/")[-1]

    client.post(reverse("intake:confirm", args=[token]))
    again = client.post(reverse("intake:confirm", args=[token]), follow=True)

    assert ImportBatch.objects.count() == 1
    assert "already imported or discarded" in again.content.decode()


def test_another_user_cannot_open_or_confirm_my_upload(client):
    login(client, "analyst")
    dry_run_url = upload(client, f"cert_url,vendor\n{url(1)},Acme\n")["Location"]
    token = dry_run_url.rstrip("/").split("/")[-1]

    login(client, "analyst")

    assert client.get(dry_run_url).status_code == 404
    client.post(reverse("intake:confirm", args=[token]))
    assert not Certificate.objects.exists()


def test_pasted_rows_go_through_the_same_dry_run(client):
    login(client, "analyst")

    response = client.post(
        reverse("intake:import"), {"text": f"{url(1)}\n{url(2)}\n", "vendor": "Acme"}, follow=True
    )

    page = response.content.decode()
    assert "pasted rows" in page
    assert 'data-testid="count-new">2<' in page


def test_the_form_asks_for_a_file_or_rows(client):
    login(client, "analyst")

    response = client.post(reverse("intake:import"), {"text": "  ", "vendor": ""})

    assert response.status_code == 200
    assert "Choose a CSV file or paste rows" in response.content.decode()


def test_discarding_removes_the_upload(client, upload_dir):
    login(client, "analyst")
    token = upload(client, f"cert_url,vendor\n{url(1)},Acme\n")["Location"].rstrip("/").split("/")[-1]

    client.post(reverse("intake:discard", args=[token]))

    assert list(upload_dir.iterdir()) == []
    assert client.post(reverse("intake:confirm", args=[token])).status_code == 302
    assert not ImportBatch.objects.exists()


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe\x00\x00garbage\x00\x01",
        b'"unclosed,quote\n' + b"x" * 5000,
        b"cert_url;vendor\n=cmd|' /C calc'!A0;@SUM(1)\n",
        b"\n\n\n",
    ],
)
def test_any_bytes_get_a_dry_run_not_a_500(client, content):
    login(client, "analyst")
    data = {"file": SimpleUploadedFile("odd.csv", content), "vendor": ""}

    response = client.post(reverse("intake:import"), data, follow=True)

    assert response.status_code == 200
    assert "Check before importing" in response.content.decode()


def test_an_empty_file_is_refused_by_the_form(client):
    login(client, "analyst")

    response = client.post(reverse("intake:import"), {"file": SimpleUploadedFile("e.csv", b""), "vendor": ""})

    assert response.status_code == 200
    assert "The submitted file is empty." in response.content.decode()


def test_the_batch_page_shows_progress_counts_and_row_errors(client):
    login(client, "viewer")
    batch = make_batch("claimed", "claimed", "pending", "error")
    batch.row_errors.create(line=7, field="email", value="nope", reason="Not a valid email address.")

    response = client.get(reverse("intake:batch", args=[batch.pk]))

    page = response.content.decode()
    assert 'data-testid="percent-done">75%<' in page
    assert 'data-testid="count-pending">1<' in page
    assert 'data-testid="count-claimed">2<' in page
    assert "Not a valid email address." in page
    assert 'src="/static/js/vendor/htmx.min.js"' in page
    assert 'hx-trigger="every 2s"' in page  # not done: the progress section polls itself
    assert "<script>" not in page  # nothing inline: the CSP allows only our own files
    assert "Cancel batch" not in page  # a viewer sees no buttons


def test_the_progress_endpoint_answers_json(client):
    login(client, "viewer")
    with time_machine.travel(timezone.now(), tick=False):
        batch = make_batch("claimed", "pending", "pending", "expired", deadline_in=timedelta(hours=3))

        data = client.get(reverse("intake:batch-progress", args=[batch.pk])).json()

    assert data["counts"] == {"pending": 2, "held": 0, "claimed": 1, "error": 0, "expired": 1, "cancelled": 0}
    assert (data["total"], data["percent_done"], data["done"]) == (4, 50, False)
    assert data["claims_per_minute"] == 1.0  # one claim, a minute ago
    assert data["eta_seconds"] == 120
    assert data["next_deadline_at_risk"] is True


def test_htmx_polls_the_progress_section_rendered_by_the_server_until_the_batch_is_done(client):
    login(client, "viewer")
    batch = make_batch("claimed", "pending")
    url = reverse("intake:batch-progress", args=[batch.pk])

    running = client.get(url, headers={"HX-Request": "true"})

    section = running.content.decode()
    assert running["Content-Type"].startswith("text/html")
    assert 'data-testid="percent-done">50%<' in section
    assert f'hx-get="{url}"' in section and 'hx-trigger="every 2s"' in section
    assert 'class="seg seg-claimed" data-segment="claimed" x="0.0%" width="50.0%"' in section
    assert "#1e7a46" not in section  # colours come from the stylesheet's classes

    Certificate.objects.filter(batch=batch).update(state=Certificate.State.CLAIMED)
    done = client.get(url, headers={"HX-Request": "true"}).content.decode()

    assert 'data-testid="percent-done">100%<' in done and "finished" in done
    assert "hx-get" not in done  # nothing left to wait for: polling stops


def test_a_page_that_waited_for_a_background_read_reloads_once_the_read_is_over(client):
    login(client, "viewer")
    batch = make_batch("pending")
    url = reverse("intake:batch-progress", args=[batch.pk])

    response = client.get(f"{url}?reading=1", headers={"HX-Request": "true"})

    assert not batch.still_reading
    assert response["HX-Refresh"] == "true"
    assert "HX-Refresh" not in client.get(url, headers={"HX-Request": "true"})


def test_a_batch_with_nothing_pending_is_done(client):
    login(client, "viewer")
    batch = make_batch("claimed", "error")

    data = client.get(reverse("intake:batch-progress", args=[batch.pk])).json()

    assert (data["percent_done"], data["done"], data["next_deadline"]) == (100, True, None)


def test_retry_puts_failed_certificates_back_in_the_queue(client, django_capture_on_commit_callbacks):
    login(client, "analyst")
    batch = make_batch("error", "error", "claimed")
    Certificate.objects.filter(state="error").update(attempts=3, last_error="TrustedForm: 400")

    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("intake:batch-retry", args=[batch.pk]))

    retried = Certificate.objects.filter(batch=batch).exclude(state="claimed")
    assert [(c.state, c.attempts, c.last_error) for c in retried] == [("pending", 0, "")] * 2
    assert Certificate.objects.filter(state="claimed").count() == 1
    assert len(callbacks) == 1


def test_cancel_stops_pending_certificates_and_keeps_claimed_ones(client):
    user = login(client, "analyst")
    batch = make_batch("pending", "pending", "claimed")
    other = make_certificate()

    response = client.post(reverse("intake:batch-cancel", args=[batch.pk]), follow=True)

    states = sorted(Certificate.objects.filter(batch=batch).values_list("state", flat=True))
    assert states == ["cancelled", "cancelled", "claimed"]
    other.refresh_from_db()
    assert other.state == "pending"
    batch.refresh_from_db()
    assert batch.cancelled_at is not None and batch.cancelled_by == user
    assert "Cancelled 2 certificates of this batch: they will not be claimed." in response.content.decode()


def test_cancel_asks_first_with_the_count(client):
    login(client, "analyst")
    batch = make_batch("pending", "pending", "pending", "claimed")

    page = client.get(reverse("intake:batch-cancel", args=[batch.pk])).content.decode()

    assert 'data-testid="cancel-count">3<' in page and "Cancel 3 certificates" in page
    assert Certificate.objects.filter(batch=batch, state="pending").count() == 3  # asking changed nothing


def test_cancel_leaves_a_certificate_whose_request_is_out_to_its_answer(client, tf_api):
    login(client, "analyst")
    batch = make_batch("pending", "pending")
    out, waiting = Certificate.objects.filter(batch=batch).order_by("pk")
    for certificate in (out, waiting):
        lease = leasing.take(certificate, owner="worker w")
        if certificate is out:  # its request was logged and sent; waiting's was not sent yet
            leasing.guard(lease, certificate_id=certificate.pk, trigger="worker w")(
                CallRecord("claim", "POST", certificate.cert_url, "4.0", "{}", started_at=0)
            )

    page = client.get(reverse("intake:batch-cancel", args=[batch.pk])).content.decode()
    response = client.post(reverse("intake:batch-cancel", args=[batch.pk]), follow=True).content.decode()

    assert 'data-testid="cancel-in-flight">1 already has a request out' in page
    assert "Cancelled 1 certificate of this batch" in response and "1 had a request out" in response
    out.refresh_from_db()
    waiting.refresh_from_db()
    assert (out.state, waiting.state) == ("pending", "cancelled")
    # The waiting one's sender finds it cancelled at its fence check and sends nothing.
    job = claiming.job_for(
        waiting, leasing.Lease(waiting.pk, "worker w", waiting.lease_fence), trigger="worker w"
    )
    assert claiming.attempt_claim(claiming.get_client(), job).fenced is not None
    assert tf_api.requests(cert_id=waiting.cert_id) == []


def test_uncancel_puts_back_what_is_still_within_its_window(client, django_capture_on_commit_callbacks):
    login(client, "analyst")
    batch = make_batch("pending", "pending")
    late = Certificate.objects.filter(batch=batch).order_by("pk").last()
    client.post(reverse("intake:batch-cancel", args=[batch.pk]))
    Certificate.objects.filter(pk=late.pk).update(claim_deadline=timezone.now() - timedelta(minutes=1))

    page = client.get(reverse("intake:batch", args=[batch.pk])).content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("intake:batch-uncancel", args=[batch.pk]), follow=True)

    assert "Un-cancel (1 still within their window)" in page
    assert "1 certificate back in the queue" in response.content.decode()
    assert sorted(Certificate.objects.filter(batch=batch).values_list("state", flat=True)) == [
        "cancelled",
        "pending",
    ]
    batch.refresh_from_db()
    assert batch.cancelled_at is None and len(callbacks) == 1


def test_a_viewer_cannot_retry_or_cancel(client):
    login(client, "viewer")
    batch = make_batch("pending", "error")

    assert client.post(reverse("intake:batch-retry", args=[batch.pk])).status_code == 403
    assert client.post(reverse("intake:batch-cancel", args=[batch.pk])).status_code == 403
    assert Certificate.objects.filter(state="pending").count() == 1


def test_the_batch_list_links_each_batch(client):
    login(client, "viewer")
    batch = make_batch("pending")

    page = client.get(reverse("intake:batches")).content.decode()

    assert f'href="{reverse("intake:batch", args=[batch.pk])}"' in page
    assert "x.csv" in page


def test_a_manager_downloads_rejected_rows_with_formulas_defused(client):
    login(client, "manager")
    batch = make_batch()
    batch.row_errors.create(
        line=2, field="email", value="=cmd|' /C calc'!A0", reason="Not a valid email address."
    )

    response = client.get(reverse("intake:batch", args=[batch.pk]), {"_export": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode()
    assert "'=cmd|' /C calc'!A0" in body
    assert ",=cmd" not in body


def test_the_home_page_links_the_at_risk_card_to_the_at_risk_list(client):
    login(client, "analyst")
    make_batch("pending", deadline_in=timedelta(hours=2))

    page = client.get(reverse("home")).content.decode()

    assert f'href="{reverse("certificates:list")}?at_risk=yes"' in page
    assert "Check in all at risk (1)" in page


def test_check_in_all_at_risk_runs_in_the_background_and_says_so(client, tf_api):
    login(client, "analyst")
    minted = tf_api.mint(email="jane@example.com")
    certificate = make_certificate(minted["cert_url"])
    Certificate.objects.filter(pk=certificate.pk).update(claim_deadline=timezone.now() + timedelta(hours=1))

    response = client.post(reverse("intake:check-in-at-risk"), follow=True)

    assert "Checking in every certificate at risk in the background" in response.content.decode()
    certificate.refresh_from_db()
    assert certificate.checked_in_at is not None  # the test settings run tasks at once
    assert certificate.claim_deadline > timezone.now() + timedelta(days=80)


def test_an_admin_creates_a_token_and_sees_it_once(client):
    login(client, "admin")

    response = client.post(reverse("intake:tokens"), {"name": "Lead system", "scopes": ["leads:write"]})

    raw = response.content.decode().split('data-testid="raw-token">')[1].split("<")[0]
    token = IntakeToken.objects.get()
    assert raw.startswith(token.prefix) and token.prefix.startswith("tfi_")
    assert token.token_hash == tokens.hash_token(raw)
    assert token.scopes == ["leads:write"]
    assert response["Cache-Control"] == "no-store"
    assert raw not in client.get(reverse("intake:tokens")).content.decode()


def test_an_admin_revokes_a_token(client):
    login(client, "admin")
    token, _ = tokens.issue_intake_token(name="Old", scopes=["leads:write"])

    client.post(reverse("intake:token-revoke", args=[token.pk]))

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_an_analyst_may_not_manage_tokens(client):
    login(client, "analyst")

    assert client.get(reverse("intake:tokens")).status_code == 403
    assert client.post(reverse("intake:tokens"), {"name": "x", "scopes": ["leads:write"]}).status_code == 403
    assert not IntakeToken.objects.exists()


def test_the_progress_json_is_plain_json(client):
    login(client, "viewer")
    batch = make_batch("pending")

    response = client.get(reverse("intake:batch-progress", args=[batch.pk]))

    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["total"] == 1


def test_a_batch_page_leads_to_its_certificates_with_every_reason(client):
    login(client, "viewer")
    batch = make_batch("claimed", "error", "held", "pending")
    other = make_batch("error")
    Certificate.objects.filter(batch=batch, state="error").update(
        state_reason="TrustedForm: claimed too many times"
    )
    Certificate.objects.filter(batch=batch, state="held").update(
        state_reason="A v4 claim needs the lead's email"
    )

    page = client.get(reverse("intake:batch", args=[batch.pk])).content.decode()
    listed = client.get(reverse("certificates:list"), {"batch": batch.pk, "state": "error"}).content.decode()

    assert f'href="/certificates/?batch={batch.pk}&amp;state=error"' in page
    assert "TrustedForm: claimed too many times" in page and "needs the lead&#x27;s email" in page
    ours = Certificate.objects.get(batch=batch, state="error")
    assert f'href="{ours.get_absolute_url()}"' in listed
    assert f'href="{Certificate.objects.get(batch=other).get_absolute_url()}"' not in listed


def test_new_vendors_in_a_file_are_listed_and_created_only_once_confirmed(client, upload_dir):
    login(client, "analyst")
    make_vendor("Acme")
    rows = f"cert_url,vendor,email\n{url(1)},Acme,a@example.com\n{url(2)},Zenith Leads,b@example.com\n"
    dry = upload(client, rows)
    token = dry["Location"].rstrip("/").split("/")[-1]

    page = client.get(dry["Location"]).content.decode()
    refused = client.post(
        reverse("intake:confirm", args=[token]), {"new_vendor": "Zenith Leads"}, follow=True
    )

    assert 'data-testid="new-vendors"' in page and "Zenith Leads" in page and "Acme</li>" not in page
    assert "tick the box to create them" in refused.content.decode()
    assert not ImportBatch.objects.exists() and not Vendor.objects.filter(name="Zenith Leads").exists()


def test_a_vendor_the_dry_run_did_not_list_is_not_created_and_its_rows_say_why(client, upload_dir, settings):
    settings.INTAKE_INLINE_IMPORT_BYTES = 10**9
    login(client, "analyst")
    rows = f"cert_url,vendor,email\n{url(1)},Acme New,a@example.com\n{url(2)},Typo Leads,b@example.com\n"
    token = upload(client, rows)["Location"].rstrip("/").split("/")[-1]

    client.post(
        reverse("intake:confirm", args=[token]), {"new_vendor": "Acme New", "confirm_new_vendors": "1"}
    )

    batch = ImportBatch.objects.get()
    assert (batch.accepted, batch.rejected) == (1, 1)
    assert set(Vendor.objects.values_list("name", flat=True)) == {"Acme New"}
    assert "is not a vendor yet" in batch.row_errors.get().reason


def test_rejected_rows_download_as_a_file_to_fix_and_import_again(client, upload_dir):
    user = login(client, "manager")
    rows = (
        "cert_url,email,phone,vendor\n"
        f"{url(1)},jane@example.com,,Acme\n"
        f"{url(2)},not-an-email,123,Acme\n"
        "http://cert.trustedform.com/x,bob@example.com,,=HYPERLINK(1)\n"
    )
    token = upload(client, rows, vendor="Acme")["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("intake:confirm", args=[token]))
    batch = ImportBatch.objects.get()

    response = client.get(reverse("intake:batch", args=[batch.pk]), {"_export": "fix"})
    text = b"".join(response.streaming_content).decode()
    lines = text.strip().splitlines()

    assert lines[0] == "cert_url,email,phone,reference,vendor,lead_time,line,why rejected"
    assert len(lines) == 3  # one line per rejected row, whatever its number of errors
    assert "not-an-email,123" in lines[1] and "Not a valid email address.; Not a 10-digit" in lines[1]
    assert "'=HYPERLINK(1)" in lines[2]  # a formula stays text in a spreadsheet
    # Fixed and uploaded again, the good row imports.
    fixed = "\n".join([lines[0], lines[1].replace("not-an-email", "sam@example.com").replace(",123,", ",,")])
    token = upload(client, fixed + "\n")["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("intake:confirm", args=[token]))
    assert ImportBatch.objects.order_by("-pk").first().accepted == 1
    assert user.has_perm("certificates.view_lead_contact")


def test_rows_to_fix_need_the_contact_permission(client):
    login(client, "viewer")
    batch = make_batch("error")

    assert client.get(reverse("intake:batch", args=[batch.pk]), {"_export": "fix"}).status_code == 403

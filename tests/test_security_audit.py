"""The audit trail: who changed what (old -> new) across users, roles, vendors, tokens, reviews, settings,
thresholds and scan terms; never a password hash; the API-call log's chain checked on request."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certificates.apilog import models as api_log
from certificates.intake import tokens
from certificates.models import AccountStatus, ApiCall, Certificate, Review, Vendor
from tests.factories import PASSWORD, make_certificate, make_user
from tfdash.models import ApiLogVerification

pytestmark = pytest.mark.django_db


def audit_page(client, **query) -> str:
    response = client.get(reverse("audit"), query)
    assert response.status_code == 200
    return response.content.decode()


def test_a_vendor_renamed_by_a_manager_shows_who_and_old_to_new(client):
    manager = make_user("manager", username="mona")
    vendor = Vendor.objects.create(name="Acme Leads")
    client.force_login(manager)
    client.post(reverse("certificates:vendor", args=[vendor.pk]), {"name": "Acme Leads LLC"})
    client.force_login(make_user("admin"))

    page = audit_page(client, model="vendor")

    assert "Acme Leads LLC" in page and "changed" in page
    assert "Acme Leads → Acme Leads LLC" in page
    assert "mona" in page


def test_a_role_change_is_recorded_with_the_groups_by_name(client):
    admin = make_user("admin", username="ada")
    user = make_user("viewer", username="victor")
    client.force_login(admin)

    # As the Django admin's form saves it: the old role removed, the new one added.
    user.groups.set([Group.objects.get(name="manager")])
    page = audit_page(client, model="user")

    assert "victor" in page
    assert "groups</span>: viewer → —" in page
    assert "groups</span>: — → manager" in page


def test_a_user_history_never_holds_the_password_hash():
    user = make_user("analyst")
    user.set_password("a-new-long-password-42")
    user.save()

    columns = {f.name for f in User.history.model._meta.fields}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {User.history.model._meta.db_table}")  # noqa: S608
        rows = repr(cursor.fetchall())

    assert "password" not in columns
    assert user.password not in rows and "md5$" not in rows
    assert user.history.count() >= 2


def test_logging_in_adds_no_history_row(client):
    user = make_user("analyst")
    before = user.history.count()

    assert client.login(username=user.username, password=PASSWORD)

    user.refresh_from_db()
    assert user.last_login is not None
    assert user.history.count() == before


def test_tokens_reviews_settings_thresholds_and_scan_terms_are_audited(client):
    admin = make_user("admin")
    client.force_login(admin)
    client.post(reverse("intake:tokens"), {"name": "CRM", "scopes": "leads:write"})
    certificate = make_certificate()
    client.post(
        reverse("certificates:review", args=[certificate.pk]), {"decision": "rejected", "note": "Bot."}
    )
    AccountStatus.objects.update_or_create(pk=1, defaults={"claiming_paused": True, "paused_reason": "401"})
    client.post(reverse("settings-resume"))
    client.post(reverse("scanning:term-new"), {"text": "I agree to be called", "kind": "required"})

    page = audit_page(client)

    for label in ("intake token", "review", "account status", "scan term"):
        assert label in page, label
    assert "CRM" in page and "Bot." in page and "I agree to be called" in page
    assert "claiming_paused</span>: True → False" in page
    assert "token_hash</span>: — → (hidden)" in page  # the digest is not shown


def test_bulk_reviews_get_history_rows_too(client):
    analyst = make_user("analyst")
    first, second = make_certificate(), make_certificate()
    Certificate.objects.filter(pk__in=[first.pk, second.pk]).update(review_status="open")
    client.force_login(analyst)

    client.post(
        reverse("certificates:review-queue"),
        {"decision": "accepted", "note": "Looked fine.", "certificates": [first.pk, second.pk]},
    )

    assert Review.history.filter(history_user=analyst, note="Looked fine.").count() == 2


def test_certificates_have_no_history_table():
    assert not hasattr(Certificate, "history")
    assert not any("historicalcertificate" in t for t in connection.introspection.table_names())


def test_the_audit_page_filters_by_model_and_user(client):
    alice, bob = make_user("manager", username="alice"), make_user("manager", username="bob")
    for user, name in ((alice, "Alpha Leads"), (bob, "Beta Leads")):
        client.force_login(user)
        client.post(reverse("certificates:vendor-new"), {"name": name}, follow=True)
    tokens.issue_intake_token(name="Gamma token", scopes=["leads:read"])
    client.force_login(make_user("admin"))

    by_alice = audit_page(client, user=alice.pk)
    vendors_only = audit_page(client, model="vendor")
    tokens_only = audit_page(client, model="intaketoken")

    assert "Alpha Leads" in by_alice and "Beta Leads" not in by_alice
    assert (
        "Alpha Leads" in vendors_only and "Beta Leads" in vendors_only and "Gamma token" not in vendors_only
    )
    assert "Gamma token" in tokens_only and "Alpha Leads" not in tokens_only


def test_the_audit_page_pages_without_counting(client):
    for n in range(60):
        Vendor.objects.create(name=f"Vendor {n:02d}")
    client.force_login(make_user("admin"))

    with CaptureQueriesContext(connection) as queries:
        first = audit_page(client, model="vendor")
    history_queries = [q["sql"] for q in queries.captured_queries if "historical" in q["sql"]]
    second = audit_page(client, model="vendor", page=2)

    assert "Vendor 59" in first and "Vendor 00" not in first
    assert "Vendor 00" in second
    assert history_queries and not any("COUNT(" in sql for sql in history_queries)


def test_an_admin_checks_the_api_log_chain_and_sees_the_result(client):
    certificate = make_certificate()
    for _ in range(3):
        api_log.append_api_call(
            trigger="web",
            certificate=certificate,
            operation="claim",
            method="POST",
            url="https://x",
            outcome="ok",
        )
    admin = make_user("admin")
    client.force_login(admin)

    before = audit_page(client)
    response = client.post(reverse("audit-verify"), follow=True)

    assert "Not checked yet." in before
    assert f'href="{reverse("certificates:api-calls")}"' in before
    page = response.content.decode()
    assert "intact</span> 3 rows" in page
    verification = ApiLogVerification.objects.get()
    assert verification.requested_by == admin and verification.head_hash


def test_a_tampered_api_log_shows_as_broken_on_the_audit_page(client):
    certificate = make_certificate()
    for _ in range(2):
        api_log.append_api_call(
            trigger="web",
            certificate=certificate,
            operation="claim",
            method="POST",
            url="https://x",
            outcome="ok",
        )
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {ApiCall._meta.db_table} SET status = 500 WHERE seq = 3")  # noqa: S608
    client.force_login(make_user("admin"))

    page = client.post(reverse("audit-verify"), follow=True).content.decode()

    assert "broken</span> after 1 good row" in page
    assert "entry #4 (the answer to API call id" in page


def test_the_verify_command_records_its_result_for_the_audit_page(client):
    call_command("verify_api_log")
    client.force_login(make_user("admin"))

    page = audit_page(client)

    assert ApiLogVerification.objects.get().trigger == "command"
    assert "intact</span> 0 rows" in page and "by command" in page


def test_a_second_check_while_one_runs_is_not_queued(client):
    admin = make_user("admin")
    running = ApiLogVerification.objects.create(requested_by=admin, state=ApiLogVerification.State.RUNNING)
    client.force_login(admin)

    response = client.post(reverse("audit-verify"), follow=True)

    assert "already running" in response.content.decode()
    assert list(ApiLogVerification.objects.all()) == [running]

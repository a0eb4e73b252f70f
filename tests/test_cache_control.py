"""What a signed-in user is shown (leads' emails and phones) is never kept by a browser or proxy cache."""

import pytest
from django.urls import reverse

from certificates.intake import tokens
from certificates.models import ImportBatch
from tests.factories import make_certificate, make_user

pytestmark = pytest.mark.django_db


def not_stored(response) -> bool:
    return response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"


@pytest.fixture
def certificate():
    return make_certificate(email="jane@example.com", phone="5125551212")


@pytest.fixture
def manager(client):
    client.force_login(make_user("manager"))


def test_the_certificate_list_is_not_stored(client, manager, certificate):
    response = client.get(reverse("certificates:list"))

    assert "jane@example.com" in response.content.decode()
    assert not_stored(response)


def test_the_certificate_page_is_not_stored(client, manager, certificate):
    response = client.get(reverse("certificates:detail", args=[certificate.pk]))

    assert "jane@example.com" in response.content.decode()
    assert not_stored(response)


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_a_certificate_export_is_not_stored(client, manager, certificate, export_format):
    response = client.get(reverse("certificates:list"), {"_export": export_format})

    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert not_stored(response)


@pytest.mark.parametrize(
    "name",
    ["certificates:review-queue", "intake:batches", "reports:vendors", "certificates:exports", "home"],
)
def test_other_pages_that_name_leads_are_not_stored(client, manager, certificate, name):
    response = client.get(reverse(name))

    assert response.status_code == 200 and not_stored(response)


def test_a_batch_page_and_its_rejected_rows_export_are_not_stored(client, manager):
    batch = ImportBatch.objects.create(source=ImportBatch.Source.CSV, filename="x.csv")
    batch.row_errors.create(line=2, field="email", value="jane@", reason="Not a valid email address.")

    page = client.get(reverse("intake:batch", args=[batch.pk]))
    export = client.get(reverse("intake:batch", args=[batch.pk]), {"_export": "csv"})

    assert not_stored(page) and not_stored(export)


def test_the_intake_api_answer_to_a_token_is_not_stored(client, certificate):
    raw = tokens.issue_intake_token(name="Lead system", scopes=["leads:read"])[1]

    response = client.get(reverse("api:lead", args=[certificate.cert_id]), HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200 and not_stored(response)


def test_a_views_own_cache_control_is_kept(client):
    admin = make_user("admin")
    admin.is_staff = True
    admin.save()
    client.force_login(admin)

    response = client.get(reverse("admin:index"))

    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]  # never_cache's


def test_the_log_in_page_for_anyone_is_left_to_its_view(client):
    response = client.get(reverse("login"))

    assert "Pragma" not in response  # the middleware only marks what a signed-in user is shown

"""Leads' emails and phones: in full for analysts and up, masked for viewers wherever they appear."""

import io

import openpyxl
import pytest
from django.urls import reverse

from certificates.masking import mask_email, mask_phone
from certificates.models import Certificate, ImportBatch, ImportRowError
from tests.factories import make_certificate, make_user

pytestmark = pytest.mark.django_db

EMAIL, PHONE = "jane.doe@example.com", "(512) 555-1212"
MASKED_EMAIL, MASKED_PHONE = "j***@example.com", "***-***-1212"


@pytest.fixture
def certificate() -> Certificate:
    certificate = make_certificate(email=EMAIL, phone=PHONE)
    Certificate.objects.filter(pk=certificate.pk).update(review_status=Certificate.ReviewStatus.OPEN)
    return certificate


def pages(client, certificate) -> dict[str, str]:
    urls = {
        "list": reverse("certificates:list"),
        "search by email": reverse("certificates:list") + f"?q={EMAIL}",
        "search by phone": reverse("certificates:list") + "?q=5125551212",
        "detail": certificate.get_absolute_url(),
    }
    return {name: client.get(url).content.decode() for name, url in urls.items()}


def test_mask_email_keeps_the_first_letter_and_the_domain():
    assert mask_email("jane.doe@example.com") == "j***@example.com"
    assert mask_email("not-an-email") == "***"
    assert mask_email("") == ""


def test_mask_phone_keeps_the_last_four_digits():
    assert mask_phone("(512) 555-1212") == "***-***-1212"
    assert mask_phone("+1 512 555 1212") == "***-***-1212"
    assert mask_phone("555") == "***"
    assert mask_phone("") == ""


def test_a_viewer_sees_masked_contacts_on_the_list_search_and_detail(client, certificate):
    client.force_login(make_user("viewer"))

    seen = pages(client, certificate)

    for name, page in seen.items():
        # The search box and the "save this view" link echo what the viewer typed; nothing else may.
        rows = page.replace(f'value="{EMAIL}"', "").replace(f"q={EMAIL}", "")
        assert MASKED_EMAIL in page, name
        assert MASKED_PHONE in page, name
        assert EMAIL not in rows, name
        assert "555-1212" not in rows.replace(MASKED_PHONE, ""), name


@pytest.mark.parametrize("role", ["analyst", "manager", "admin"])
def test_analysts_and_up_see_contacts_in_full(client, certificate, role):
    client.force_login(make_user(role))

    seen = pages(client, certificate)

    for name, page in seen.items():
        assert EMAIL in page, name
        assert PHONE in page, name
        assert MASKED_EMAIL not in page, name


def test_the_review_queue_masks_for_a_role_without_the_contact_permission(client, certificate):
    from django.contrib.auth.models import Permission

    # No role reviews without seeing contacts; a custom group might, and must still see them masked.
    user = make_user(None)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["review_certificate", "view_certificate"])
    )
    client.force_login(user)
    masked = client.get(reverse("certificates:review-queue")).content.decode()
    client.force_login(make_user("analyst"))
    full = client.get(reverse("certificates:review-queue")).content.decode()

    assert MASKED_EMAIL in masked and EMAIL not in masked
    assert EMAIL in full and PHONE in full


def test_a_batchs_rejected_rows_mask_emails_and_phones_for_viewers(client):
    batch = ImportBatch.objects.create(source=ImportBatch.Source.CSV, filename="leads.csv", rejected=2)
    ImportRowError.objects.create(
        batch=batch, line=2, field="email", value="jane@example", reason="Not valid."
    )
    ImportRowError.objects.create(batch=batch, line=3, field="phone", value="512-555-12", reason="Too short.")
    ImportRowError.objects.create(
        batch=batch, line=4, field="cert_url", value="https://x.example/1", reason="Host."
    )
    client.force_login(make_user("viewer"))
    masked = client.get(reverse("intake:batch", args=[batch.pk])).content.decode()
    client.force_login(make_user("analyst"))
    full = client.get(reverse("intake:batch", args=[batch.pk])).content.decode()

    assert "jane@example" not in masked and "j***@example" in masked
    assert "512-555-12" not in masked and "***-***-5512" in masked
    assert "https://x.example/1" in masked  # not a contact: shown as sent
    assert "jane@example" in full and "512-555-12" in full


def test_only_analysts_and_up_hold_the_contact_permission():
    holders = {
        role: make_user(role).has_perm("certificates.view_lead_contact")
        for role in ("viewer", "analyst", "manager", "admin")
    }

    assert holders == {"viewer": False, "analyst": True, "manager": True, "admin": True}


def exporter_without_contacts():
    """A custom role that may export certificates but not see leads' contacts."""
    from django.contrib.auth.models import Permission

    user = make_user(None)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["export_certificate", "view_certificate"])
    )
    return user


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_exports_mask_contacts_for_a_role_without_the_contact_permission(client, certificate, export_format):
    def exported(user) -> str:
        client.force_login(user)
        response = client.get(reverse("certificates:list"), {"_export": export_format})
        assert response.status_code == 200
        if export_format == "csv":
            return b"".join(response.streaming_content).decode()
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        return "\n".join(",".join(str(c or "") for c in row) for row in sheet.iter_rows(values_only=True))

    masked = exported(exporter_without_contacts())
    full = exported(make_user("manager"))

    assert MASKED_EMAIL in masked and MASKED_PHONE in masked
    assert EMAIL not in masked and "5551212" not in masked
    assert EMAIL in full and PHONE in full


def test_evidence_packages_need_the_contact_permission_rather_than_carrying_masked_contacts(
    client, certificate
):
    client.force_login(exporter_without_contacts())

    single = client.get(reverse("certificates:evidence", args=[certificate.pk]))
    start = client.post(reverse("certificates:export-start"), {"query": ""})
    listing = client.get(reverse("certificates:exports"))
    detail = client.get(certificate.get_absolute_url()).content.decode()
    listed = client.get(reverse("certificates:list")).content.decode()

    assert (single.status_code, start.status_code, listing.status_code) == (403, 403, 403)
    assert reverse("certificates:evidence", args=[certificate.pk]) not in detail
    assert "Export CSV" in listed and reverse("certificates:export-start") not in listed

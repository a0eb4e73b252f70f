"""Vendors: managers add and rename them; a name is unique without regard to case."""

import pytest
from django.urls import reverse

from certificates.models import Vendor
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_manager_adds_and_renames_a_vendor(client):
    client.force_login(make_user("manager"))

    added = client.post(reverse("certificates:vendor-new"), {"name": "  Acme   Leads "}, follow=True)
    vendor = Vendor.objects.get()
    renamed = client.post(
        reverse("certificates:vendor", args=[vendor.pk]), {"name": "Acme Leads LLC"}, follow=True
    )

    assert "Saved the vendor “Acme Leads”." in added.content.decode()
    assert "Acme Leads LLC" in renamed.content.decode()
    assert Vendor.objects.get().name == "Acme Leads LLC"


def test_a_name_taken_in_another_case_is_refused_with_a_reason(client):
    Vendor.objects.create(name="Acme Leads")
    client.force_login(make_user("manager"))

    response = client.post(reverse("certificates:vendor-new"), {"name": "ACME LEADS"})

    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Vendor.objects.count() == 1


def test_viewers_see_the_list_without_rename_links(client):
    vendor = Vendor.objects.create(name="Acme Leads")
    client.force_login(make_user("viewer"))

    page = client.get(reverse("certificates:vendors")).content.decode()

    assert "Acme Leads" in page
    assert reverse("certificates:vendor", args=[vendor.pk]) not in page
    assert reverse("certificates:vendor-new") not in page

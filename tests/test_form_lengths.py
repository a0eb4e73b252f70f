"""An input longer than its field allows gets a form error; nothing is cut short, by the server or by the
browser's maxlength (which would cut a paste without a word)."""

import pytest
from django.urls import reverse

from certificates.models import Certificate, Vendor
from tests.factories import PASSWORD, make_user, make_vendor

pytestmark = pytest.mark.django_db

CERT_URL = f"https://cert.trustedform.com/{'b' * 40}"


def login(client, role: str) -> None:
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)


@pytest.mark.parametrize(
    "url_name", ["certificates:claim", "certificates:vendor-new", "intake:import", "intake:tokens"]
)
def test_form_inputs_carry_no_maxlength_for_the_browser_to_cut_with(client, url_name):
    login(client, "admin")

    page = client.get(reverse(url_name)).content.decode()

    assert "<input" in page
    assert "maxlength" not in page


def test_a_vendor_name_longer_than_200_characters_is_refused_with_a_form_error(client):
    login(client, "analyst")

    response = client.post(reverse("certificates:claim"), {"cert_url": CERT_URL, "vendor": "V" * 201})

    assert response.status_code == 200
    assert "at most 200 characters (it has 201)" in response.content.decode()
    assert not Vendor.objects.filter(name__startswith="V" * 200).exists()
    assert not Certificate.objects.exists()


def test_a_reference_longer_than_255_characters_is_refused_with_a_form_error(client):
    login(client, "analyst")

    response = client.post(
        reverse("certificates:claim"), {"cert_url": CERT_URL, "vendor": "Acme", "reference": "R" * 256}
    )

    assert "at most 255 characters (it has 256)" in response.content.decode()
    assert not Certificate.objects.exists()


def test_a_vendor_renamed_past_200_characters_keeps_its_name_and_says_why(client):
    login(client, "manager")
    vendor = make_vendor("Acme Leads")

    response = client.post(reverse("certificates:vendor", args=[vendor.pk]), {"name": "A" * 250})

    assert response.status_code == 400
    assert "at most 200 characters (it has 250)" in response.content.decode()
    vendor.refresh_from_db()
    assert vendor.name == "Acme Leads"

"""A vendor has one scan profile: choosing, in another profile, a vendor that a profile holds says so and
asks before saving moves it; the confirmation covers exactly the moves the page showed."""

import pytest
from django.urls import reverse

from scanning.models import ScanProfile, VendorScanProfile
from tests.factories import make_user, make_vendor
from tests.scanning_factories import make_profile, make_template, make_term

pytestmark = pytest.mark.django_db


def profile_post(vendors, **extra) -> dict:
    return {"name": "Mortgage", "delimiter": "", "terms": [make_term().pk], "vendors": vendors, **extra}


@pytest.fixture
def acme_in_solar(client):
    client.force_login(make_user("manager"))
    acme = make_vendor("Acme Leads")
    return acme, make_profile("Solar", vendors=[acme])


def test_choosing_a_vendor_of_another_profile_says_so_and_saves_nothing(client, acme_in_solar):
    acme, solar = acme_in_solar

    response = client.post(reverse("scanning:profile-new"), profile_post([acme.pk]))

    page = response.content.decode()
    assert 'data-testid="vendor-moves"' in page
    assert "Acme Leads is in profile “Solar” now; saving moves it here" in page
    assert "Tick the box to move them here" in page
    assert not ScanProfile.objects.filter(name="Mortgage").exists()
    assert VendorScanProfile.objects.get(vendor=acme).profile == solar


def test_the_confirmed_move_is_saved(client, acme_in_solar):
    acme, _ = acme_in_solar
    client.post(reverse("scanning:profile-new"), profile_post([acme.pk]))

    response = client.post(
        reverse("scanning:profile-new"),
        profile_post([acme.pk], confirm_moves=f"{acme.pk}:{acme_in_solar[1].pk}"),
    )

    assert response.status_code == 302
    assert VendorScanProfile.objects.get(vendor=acme).profile.name == "Mortgage"


def test_the_page_carries_the_confirmation_of_what_it_showed(client, acme_in_solar):
    acme, solar = acme_in_solar

    page = client.post(reverse("scanning:profile-new"), profile_post([acme.pk])).content.decode()

    assert f'name="confirm_moves" value="{acme.pk}:{solar.pk}"' in page


def test_a_confirmation_of_other_moves_than_now_is_asked_again(client, acme_in_solar):
    acme, solar = acme_in_solar
    bolt = make_vendor("Bolt Leads")
    make_profile("Auto", vendors=[bolt])

    # Confirmed Acme's move only; Bolt's (into another profile meanwhile) was never shown.
    response = client.post(
        reverse("scanning:profile-new"),
        profile_post([acme.pk, bolt.pk], confirm_moves=f"{acme.pk}:{solar.pk}"),
    )

    page = response.content.decode()
    assert "Bolt Leads is in profile “Auto” now; saving moves it here" in page
    assert not ScanProfile.objects.filter(name="Mortgage").exists()


def test_a_vendor_already_in_this_profile_or_in_none_is_not_asked_about(client):
    client.force_login(make_user("manager"))
    acme, fresh = make_vendor("Acme Leads"), make_vendor("Fresh Leads")
    profile = make_profile("Mortgage", vendors=[acme])

    response = client.post(profile.get_absolute_url(), profile_post([acme.pk, fresh.pk]))

    assert response.status_code == 302
    assert VendorScanProfile.objects.get(vendor=fresh).profile == profile


def test_the_move_and_the_v4_confirmation_are_asked_together(client, acme_in_solar, settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    acme, _ = acme_in_solar
    data = profile_post([acme.pk], templates=[make_template().pk])

    page = client.post(reverse("scanning:profile-new"), data).content.decode()

    assert 'data-testid="v4-warning"' in page and 'data-testid="vendor-moves"' in page
    assert not ScanProfile.objects.filter(name="Mortgage").exists()


def test_a_viewer_sees_no_move_question(client, acme_in_solar):
    acme, solar = acme_in_solar
    client.force_login(make_user("viewer"))

    page = client.get(solar.get_absolute_url()).content.decode()

    assert "Acme Leads (now: Solar)" in page
    assert 'data-testid="vendor-moves"' not in page

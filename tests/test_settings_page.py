"""The settings page: what tfdash sends and to whom, never the key; resuming a paused account."""

import pytest
from django.urls import reverse

from certificates import pausing
from certificates.models import AccountStatus
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def test_an_admin_sees_the_api_version_hosts_and_whether_a_key_is_set(client, settings, api_key):
    settings.TRUSTEDFORM_API_VERSION = "3.0"
    login(client, "admin")

    page = client.get(reverse("settings")).content.decode()

    assert "3.0" in page and "Consent; answers 201" in page
    assert "cert.trustedform.com" in page
    assert 'data-testid="key-status">set' in page
    assert api_key not in page


def test_only_an_admin_may_open_settings(client):
    login(client, "manager")

    assert client.get(reverse("settings")).status_code == 403
    assert client.post(reverse("settings-resume")).status_code == 403


def test_an_admin_resumes_a_paused_account(client):
    pausing.pause_claiming("TrustedForm refused the API key (HTTP 401)")
    admin = login(client, "admin")

    response = client.post(reverse("settings-resume"), follow=True)

    status = AccountStatus.current()
    assert not status.claiming_paused
    assert status.resumed_by == admin
    assert "Claiming resumed" in response.content.decode()


def test_the_paused_banner_shows_on_every_page_until_resumed(client):
    pausing.pause_claiming("TrustedForm refused the API key (HTTP 401)")
    login(client, "viewer")

    for name in ("home", "certificates:list"):
        assert "Claiming is paused for the whole account" in client.get(reverse(name)).content.decode()

"""Brute-force protection: five wrong passwords lock a user name out from one address; admins unlock."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")


def attempt(client, username: str, password: str, address: str = "203.0.113.7", **headers):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def fail_five_times(client, username: str, address: str = "203.0.113.7", **headers):
    return [attempt(client, username, "wrong-password", address, **headers) for _ in range(5)]


def test_four_wrong_passwords_still_let_the_right_one_in(client):
    user = make_user("analyst")
    for _ in range(4):
        assert attempt(client, user.username, "wrong-password").status_code == 200

    response = attempt(client, user.username, PASSWORD)

    assert response.status_code == 302
    assert response.wsgi_request.user == user


def test_five_wrong_passwords_lock_the_account_and_the_page_says_why_and_how_long(client):
    user = make_user("analyst")

    responses = fail_five_times(client, user.username)
    locked = attempt(client, user.username, PASSWORD)

    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    page = locked.content.decode()
    assert "This account is locked" in page
    assert f"5 failed log-in attempts for <strong>{user.username}</strong>" in page
    assert "try again in <strong>30 minutes</strong>" in page


def test_a_lockout_is_for_one_user_name_from_one_address(client):
    victim, colleague = make_user("analyst"), make_user("analyst")
    fail_five_times(client, victim.username, "203.0.113.7")

    assert attempt(client, colleague.username, PASSWORD, "203.0.113.7").status_code == 302
    client.logout()
    assert attempt(client, victim.username, PASSWORD, "198.51.100.20").status_code == 302


def test_a_forged_forwarded_for_header_does_not_dodge_the_lockout_without_a_trusted_proxy(client):
    user = make_user("analyst")
    for n in range(5):
        attempt(client, user.username, "wrong-password", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    response = attempt(client, user.username, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")

    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_client_address_comes_from_the_header(client, settings):
    settings.AXES_IPWARE_PROXY_COUNT = 1  # one proxy (10.0.0.2) that appends the address it saw
    user = make_user("analyst")
    for n in range(5):  # the client forges a different left-most entry each time
        attempt(
            client,
            user.username,
            "wrong-password",
            "10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7",
        )

    same_client = attempt(client, user.username, PASSWORD, "10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    other_client = attempt(client, user.username, PASSWORD, "10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.20")

    assert same_client.status_code == 429
    assert other_client.status_code == 302
    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"


def test_an_admin_sees_the_lockout_and_unlocks_it(client):
    user = make_user("analyst")
    fail_five_times(client, user.username)
    admin = make_user("admin")
    client.force_login(admin)

    listing = client.get(reverse("lockouts"))
    lockout = AccessAttempt.objects.get(username=user.username)
    unlocked = client.post(reverse("unlock", args=[lockout.pk]), follow=True)
    client.logout()
    after = attempt(client, user.username, PASSWORD)

    assert user.username in listing.content.decode()
    assert "203.0.113.7" in listing.content.decode()
    assert f"Unlocked {user.username} from 203.0.113.7" in unlocked.content.decode()
    assert "No log-in is locked out right now." in unlocked.content.decode()
    assert after.status_code == 302


def test_only_user_administrators_may_see_or_lift_lockouts(client):
    user = make_user("analyst")
    fail_five_times(client, user.username)
    client.force_login(make_user("manager"))
    lockout = AccessAttempt.objects.get()

    assert client.get(reverse("lockouts")).status_code == 403
    assert client.post(reverse("unlock", args=[lockout.pk])).status_code == 403
    assert AccessAttempt.objects.filter(pk=lockout.pk).exists()


def test_the_lockout_page_links_from_the_admin_navigation_only(client):
    client.force_login(make_user("admin"))
    admin_page = client.get(reverse("home")).content.decode()
    client.force_login(make_user("manager"))
    manager_page = client.get(reverse("home")).content.decode()

    assert f'href="{reverse("lockouts")}"' in admin_page
    assert f'href="{reverse("lockouts")}"' not in manager_page


def test_axes_admin_lists_attempts_for_superusers(client, django_user_model):
    user = make_user("analyst")
    fail_five_times(client, user.username)
    client.force_login(django_user_model.objects.create_superuser("root", password=PASSWORD))

    response = client.get(reverse("admin:axes_accessattempt_changelist"))

    assert response.status_code == 200
    assert user.username in response.content.decode()


def test_passwords_must_be_long_and_uncommon():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("short1", "password123", "1234567890123"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("violet-anchor-mountain-42")

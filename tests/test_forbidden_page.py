"""The 403 page says what was refused, which role would open the page, and who can grant roles."""

import pytest
from django.urls import reverse

from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def login(client, role: str | None):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def test_a_user_without_a_role_is_told_so_and_who_can_grant_one(client):
    make_user("admin", username="grace")
    make_user("admin", username="alan")
    make_user("manager", username="not-an-admin")
    nobody = login(client, None)

    response = client.get(reverse("home"))

    page = response.content.decode()
    assert response.status_code == 403
    assert "Your account has no role yet" in page and nobody.username in page
    assert "<li>alan</li><li>grace</li>" in page
    assert "not-an-admin" not in page
    assert "Log out" in page and 'href="/certificates/"' not in page  # no links that lead back here


@pytest.mark.parametrize(
    ("role", "url_name", "needed"),
    [
        ("viewer", "certificates:claim", "analyst"),  # a function view under @permission_required
        ("analyst", "certificates:vendor-new", "manager"),
        ("manager", "certificates:api-calls", "admin"),
    ],
)
def test_a_refused_page_names_the_role_it_needs(client, role, url_name, needed):
    login(client, role)

    response = client.get(reverse(url_name))

    page = response.content.decode()
    assert response.status_code == 403
    assert f"It needs the <strong>{needed}</strong> role; you have {role}." in page


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("/certificates/?_export=csv", "Exporting certificates needs the export permission."),
        ("/scanning/terms/new/", "Your role cannot add scan terms."),
    ],
)
def test_a_refusal_from_inside_a_view_shows_its_reason(client, url, reason):
    login(client, "viewer")

    response = client.get(url)

    assert response.status_code == 403
    assert reason in response.content.decode()


def test_with_no_admin_yet_the_page_says_who_else_to_ask(client):
    login(client, None)

    page = client.get(reverse("home")).content.decode()

    assert "No one has the admin role yet" in page

"""The Django admin grants no more than the roles give: an admin manages users and roles, but cannot make
anyone (themselves included) a superuser or staff, nor grant single permissions; and no one, superusers
included, can move a certificate's state or edit its evidence there."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.test import RequestFactory
from django.urls import reverse

from certificates.models import ApiCall, Certificate, CheckIn, Claim
from tests.factories import make_certificate, make_user

pytestmark = pytest.mark.django_db


def staff_admin() -> User:
    user = make_user("admin")
    user.is_staff = True  # as `manage.py load_demo` sets up the admin
    user.save()
    return user


def superuser() -> User:
    return User.objects.create_superuser("root", password="correct-horse-battery")


def change_form(user: User, **extra) -> dict:
    """What the user change form posts, with the user's current values."""
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "groups": [g.pk for g in user.groups.all()],
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        **extra,
    }


ESCALATION = {
    "is_superuser": "on",
    "is_staff": "on",
    "user_permissions": lambda: [Permission.objects.get(codename="change_certificate").pk],
}


def escalation() -> dict:
    return {k: v() if callable(v) else v for k, v in ESCALATION.items()}


def test_an_admin_posting_superuser_status_for_a_colleague_does_not_set_it(client):
    analyst = make_user("analyst")
    client.force_login(staff_admin())

    response = client.post(
        reverse("admin:auth_user_change", args=[analyst.pk]),
        change_form(analyst, email="ana@example.com", **escalation()),
    )

    analyst.refresh_from_db()
    assert response.status_code == 302  # the rest of the form was saved
    assert analyst.email == "ana@example.com"
    assert not analyst.is_superuser and not analyst.is_staff
    assert not analyst.user_permissions.exists()


def test_an_admin_cannot_make_themselves_a_superuser(client):
    me = staff_admin()
    client.force_login(me)

    client.post(reverse("admin:auth_user_change", args=[me.pk]), change_form(me, **escalation()))

    me.refresh_from_db()
    assert not me.is_superuser
    assert not me.has_perm("certificates.change_certificate")


def test_an_admin_adding_a_user_cannot_make_it_a_superuser(client):
    client.force_login(staff_admin())

    client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "newcomer",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
            **escalation(),
        },
    )

    newcomer = User.objects.get(username="newcomer")
    assert not newcomer.is_superuser and not newcomer.is_staff


def test_an_admin_still_assigns_roles(client):
    viewer = make_user("viewer")
    client.force_login(staff_admin())

    client.post(
        reverse("admin:auth_user_change", args=[viewer.pk]),
        change_form(viewer, groups=[Group.objects.get(name="manager").pk]),
    )

    assert list(viewer.groups.values_list("name", flat=True)) == ["manager"]


def test_an_admin_may_not_change_a_superusers_password_or_details(client):
    root = superuser()
    client.force_login(staff_admin())

    page = client.get(reverse("admin:auth_user_change", args=[root.pk]))
    password = client.post(
        reverse("admin:auth_user_password_change", args=[root.pk]),
        {"password1": "taken-over-account-1", "password2": "taken-over-account-1"},
    )
    details = client.post(
        reverse("admin:auth_user_change", args=[root.pk]), change_form(root, email="x@evil.test")
    )

    root.refresh_from_db()
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert password.status_code == 403 and details.status_code == 403
    assert root.check_password("correct-horse-battery") and root.email == ""


def test_a_superuser_may_still_grant_staff_status(client):
    analyst = make_user("analyst")
    client.force_login(superuser())

    client.post(reverse("admin:auth_user_change", args=[analyst.pk]), change_form(analyst, is_staff="on"))

    analyst.refresh_from_db()
    assert analyst.is_staff and not analyst.is_superuser


def test_the_certificate_admin_cannot_change_state_even_for_a_superuser(client):
    certificate = make_certificate()
    Certificate.objects.filter(pk=certificate.pk).update(state=Certificate.State.CLAIMED, outcome="success")
    client.force_login(superuser())
    url = reverse("admin:certificates_certificate_change", args=[certificate.pk])

    page = client.get(url)
    posted = client.post(url, {"state": "pending", "outcome": "", "attempts": "0", "lease_owner": ""})

    certificate.refresh_from_db()
    assert page.status_code == 200
    assert 'name="state"' not in page.content.decode() and 'name="_save"' not in page.content.decode()
    assert posted.status_code == 403
    assert certificate.state == Certificate.State.CLAIMED and certificate.outcome == "success"


@pytest.mark.parametrize("model", [Certificate, Claim, CheckIn, ApiCall], ids=lambda m: m.__name__)
def test_certificates_and_their_evidence_are_read_only_in_the_admin_for_everyone(model):
    request = RequestFactory().get("/admin/")
    request.user = superuser()
    model_admin = admin.site._registry[model]

    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)

"""Admins run the team in tfdash: invitations, roles, deactivation; every change in the audit trail."""

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD, make_certificate, make_user
from tfdash import audit, people

pytestmark = pytest.mark.django_db(transaction=True)


def admin_client(client):
    admin = make_user("admin", email="boss@example.com")
    client.force_login(admin)
    return admin


def link_in(message) -> str:
    return re.search(r"https?://\S+/accounts/set-password/\S+/", message.body).group(0)


def test_an_invitation_emails_a_link_that_sets_the_password_once(client, settings):
    settings.TFDASH_BASE_URL = "https://tfdash.example.com"
    admin_client(client)

    response = client.post(
        reverse("people"), {"email": "new.analyst@example.com", "role": "analyst"}, follow=True
    )

    assert "Invited new.analyst@example.com as analyst" in response.content.decode()
    invited = User.objects.get(email="new.analyst@example.com")
    assert (invited.username, people.role_of(invited), invited.has_usable_password()) == (
        "new.analyst",
        "analyst",
        False,
    )
    (message,) = mail.outbox
    link = link_in(message)
    assert message.to == ["new.analyst@example.com"] and link.startswith("https://tfdash.example.com/")

    client.logout()
    path = link.removeprefix("https://tfdash.example.com")
    form = client.get(path, follow=True)
    assert "Choose your password" in form.content.decode()
    chosen = {"new_password1": "a long Passphrase 42!", "new_password2": "a long Passphrase 42!"}
    done = client.post(form.redirect_chain[-1][0] if form.redirect_chain else path, chosen, follow=True)
    assert "Your password is set" in done.content.decode()
    assert client.login(username="new.analyst", password="a long Passphrase 42!")

    client.logout()
    again = client.get(path, follow=True).content.decode()
    assert "This link no longer works" in again  # once


def test_an_invitation_for_a_taken_name_or_address_is_refused_with_why(client):
    admin_client(client)
    make_user("viewer", username="sam", email="sam@example.com")

    taken_name = client.post(reverse("people"), {"email": "sam@other.example", "role": "viewer"})
    taken_email = client.post(
        reverse("people"), {"email": "SAM@example.com", "username": "sammy", "role": "viewer"}
    )

    assert taken_name.status_code == 400 and "The user name “sam” is taken" in taken_name.content.decode()
    assert "sam@example.com already has an account" in taken_email.content.decode().lower()
    assert mail.outbox == []


def test_an_admin_changes_a_role_and_the_audit_trail_records_it(client):
    admin = admin_client(client)
    person = make_user("viewer")

    client.post(reverse("person-change", args=[person.pk, "role"]), {"role": "manager"})

    assert people.role_of(person) == "manager"
    changes = audit.describe(list(audit.recent_changes(model="user", user_id=admin.pk)))
    groups = [
        f for change in changes if change.object_id == person.pk for f in change.fields if f.field == "groups"
    ]
    # set() takes the old role away, then gives the new one: two recorded changes, both by the admin
    assert {(f.old, f.new) for f in groups} == {("viewer", "—"), ("—", "manager")}


def test_a_deactivated_person_is_signed_out_at_their_next_request_and_can_be_reactivated(client):
    person = make_user("analyst")
    theirs = client.__class__()
    theirs.force_login(person)
    assert theirs.get(reverse("certificates:list")).status_code == 200
    admin_client(client)

    client.post(reverse("person-change", args=[person.pk, "deactivate"]))

    assert theirs.get(reverse("certificates:list")).url.startswith(reverse("login"))
    assert not theirs.login(username=person.username, password=PASSWORD)
    client.post(reverse("person-change", args=[person.pk, "reactivate"]))
    assert theirs.login(username=person.username, password=PASSWORD)


def test_an_admin_can_neither_deactivate_themselves_nor_drop_their_own_admin_role(client):
    admin = admin_client(client)

    off = client.post(reverse("person-change", args=[admin.pk, "deactivate"]), follow=True).content.decode()
    down = client.post(reverse("person-change", args=[admin.pk, "role"]), {"role": "viewer"}, follow=True)

    admin.refresh_from_db()
    assert admin.is_active and people.role_of(admin) == "admin"
    assert "You cannot deactivate your own account" in off
    assert "You cannot take your own admin role away" in down.content.decode()


def test_a_password_reset_link_goes_to_the_persons_address(client):
    admin_client(client)
    person = make_user("viewer", email="viewer@example.com")

    client.post(reverse("person-change", args=[person.pk, "reset"]))

    (message,) = mail.outbox
    assert message.to == ["viewer@example.com"] and "/accounts/set-password/" in link_in(message)


def test_only_admins_see_or_change_people(client):
    make_certificate()
    person = make_user("viewer")
    client.force_login(make_user("manager"))

    assert client.get(reverse("people")).status_code == 403
    assert client.get(reverse("person", args=[person.pk])).status_code == 403
    assert client.post(reverse("person-change", args=[person.pk, "deactivate"])).status_code == 403
    person.refresh_from_db()
    assert person.is_active


def test_the_people_page_lists_roles_and_last_sign_in(client):
    admin_client(client)
    make_user("viewer", username="vera")

    page = client.get(reverse("people")).content.decode()

    assert "vera" in page and "viewer" in page and "never" in page
    assert "it works once, for 3 days" in page

"""Permissions and roles are kept per process for the request's auth version: a logged-in page reads the
session, the user and the account status (three queries), and a change of role applies at the next
request, in every process, because it bumps the version every request reads."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certificates.models import AccountStatus
from tests.factories import PASSWORD, make_user
from tfdash import authcache

pytestmark = pytest.mark.django_db


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def test_a_page_reads_permissions_and_roles_once_per_process(client):
    user = login(client, "manager")
    client.get(reverse("certificates:holds"))  # the first request of this user keeps what it read

    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("certificates:holds"))

    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert page.status_code == 200 and f"{user.username} · manager" in page.content.decode()
    assert 'FROM "auth_permission"' not in tables and 'FROM "auth_group"' not in tables
    assert tables.count('FROM "certificates_accountstatus"') == 1


@pytest.mark.parametrize("change", ["user_groups", "group_permissions", "user_permissions"])
def test_a_change_of_role_or_permission_applies_at_the_next_request(client, change):
    user = login(client, "analyst")
    url = reverse("certificates:holds")
    assert client.post(url, {"name": "Case", "phone": "5135556719"}).status_code == 403

    permission = Permission.objects.get(codename="manage_legal_hold")
    if change == "user_groups":
        user.groups.set([Group.objects.get(name="manager")])
    elif change == "group_permissions":
        Group.objects.get(name="analyst").permissions.add(permission)
    else:
        user.user_permissions.add(permission)

    assert client.post(url, {"name": "Case", "phone": "5135556719"}).status_code == 302
    user.groups.set([Group.objects.get(name="viewer")])
    user.user_permissions.clear()
    Group.objects.get(name="analyst").permissions.remove(permission)
    assert client.get(url).status_code == 403
    assert "· viewer" in client.get(reverse("home")).content.decode()


def test_saving_the_account_status_never_moves_the_version_back():
    status = AccountStatus.current()
    authcache.bump_auth_version()
    status.claiming_paused = True
    status.save()  # a copy read before the bump

    assert AccountStatus.objects.get(pk=1).auth_version == status.auth_version + 1


def test_outside_a_request_nothing_is_kept():
    user = make_user("analyst")

    assert user.has_perm("certificates.claim_certificate")
    user.groups.clear()
    user = type(user).objects.get(pk=user.pk)  # Django's own per-object cache aside
    assert not user.has_perm("certificates.claim_certificate")
    assert authcache.role_names(user) == ()

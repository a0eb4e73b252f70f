"""In a real browser: an admin edits a user in /admin/ and is offered no superuser or staff checkbox."""

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_admin_roles_user_page_offers_no_superuser_or_staff_checkbox(live_server, page: Page):
    admin = make_user("admin")
    admin.is_staff = True  # as `manage.py load_demo` sets up the admin
    admin.save()
    analyst = make_user("analyst")

    page.goto(f"{live_server.url}/admin/auth/user/{analyst.pk}/change/")
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name=analyst.username)).to_be_visible()
    expect(page.get_by_role("checkbox", name="Active")).to_be_visible()  # the form is there
    expect(
        page.locator("select[name=groups], [name=groups]").first
    ).to_be_attached()  # roles still assigned here
    expect(page.get_by_role("checkbox", name="Superuser status")).to_have_count(0)
    expect(page.get_by_role("checkbox", name="Staff status")).to_have_count(0)
    expect(page.locator("input[name=is_superuser], input[name=is_staff]")).to_have_count(0)
    expect(page.locator("[name=user_permissions]")).to_have_count(0)

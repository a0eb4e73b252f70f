"""In a real browser: an admin invites a colleague, who chooses a password from the emailed link and
works with their role's pages; deactivated, their next request lands on the login page."""

import re

import pytest
from django.core import mail
from playwright.sync_api import Browser, Page, expect

from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_an_admin_invites_a_colleague_who_sets_a_password_works_and_is_deactivated(
    live_server, page: Page, browser: Browser, settings
):
    settings.TFDASH_BASE_URL = live_server.url
    admin = make_user("admin")
    log_in(page, live_server.url, admin.username, PASSWORD)
    page.goto(f"{live_server.url}/people/")
    page.get_by_label("Email").fill("ana.lyst@example.com")
    page.get_by_label("Role").select_option("analyst")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invited ana.lyst@example.com as analyst")

    (invitation,) = mail.outbox
    link = re.search(r"https?://\S+/accounts/set-password/\S+/", invitation.body).group(0)
    colleague = browser.new_page()
    colleague.goto(link)
    colleague.get_by_label("New password", exact=True).fill("a long Passphrase 42!")
    colleague.get_by_label("New password confirmation").fill("a long Passphrase 42!")
    colleague.get_by_role("button", name="Set the password").click()
    expect(colleague.get_by_role("heading", name="Your password is set")).to_be_visible()
    log_in(colleague, live_server.url, "ana.lyst", "a long Passphrase 42!")
    expect(colleague.get_by_role("link", name="Import", exact=True)).to_be_visible()  # an analyst's page
    expect(colleague.get_by_role("link", name="People")).to_have_count(0)

    page.goto(f"{live_server.url}/people/")
    page.get_by_role("link", name="ana.lyst").click()
    page.get_by_test_id("deactivate").click()
    expect(page.get_by_role("status")).to_contain_text("Deactivated ana.lyst")

    colleague.goto(f"{live_server.url}/certificates/")
    expect(colleague).to_have_url(re.compile(r"/login/"))
    colleague.close()

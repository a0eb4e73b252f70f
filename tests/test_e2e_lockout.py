"""In a real browser: five wrong passwords lock the account, the page says so, the right one is refused."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_five_wrong_passwords_lock_the_account_and_the_page_says_so(live_server, page: Page, tmp_path):
    analyst = make_user("analyst")
    page.goto(f"{live_server.url}/login/")

    for _ in range(4):
        log_in(page, analyst.username, "not-the-password")
        expect(page.get_by_role("alert")).to_contain_text("enter a correct username and password")
    log_in(page, analyst.username, "not-the-password")

    locked = page.get_by_test_id("locked-out")
    expect(locked.get_by_role("heading")).to_have_text("This account is locked")
    expect(locked).to_contain_text(f"5 failed log-in attempts for {analyst.username}")
    expect(locked).to_contain_text(re.compile(r"try again in 30 minutes, after \d\d:\d\d \(UTC\)"))
    page.screenshot(path=tmp_path / "locked-out.png", full_page=True)

    page.goto(f"{live_server.url}/login/")
    log_in(page, analyst.username, PASSWORD)

    expect(page.get_by_test_id("locked-out")).to_be_visible()
    expect(page.get_by_role("link", name="Certificates")).to_have_count(0)
    page.goto(f"{live_server.url}/certificates/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))

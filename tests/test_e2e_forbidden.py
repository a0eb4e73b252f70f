"""In a real browser: a user with no role logs in and lands on a styled page that says so, names the
admins who can give a role, and keeps the navigation and the log-out."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: SCREENSHOT_DIR to keep them, else the test's temp dir."""
    path = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_a_user_with_no_role_is_told_so_and_who_can_grant_one(live_server, page: Page, shots):
    make_user("admin", username="grace.hopper")
    nobody = make_user(None, username="new.colleague")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(nobody.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Your account has no role yet")).to_be_visible()
    expect(page.get_by_test_id("no-role")).to_contain_text("new.colleague")
    expect(page.get_by_test_id("admins")).to_have_text("grace.hopper")
    # Styled like every other page: the stylesheet loaded and the page sits in a card under the top bar.
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex"
    assert page.evaluate("getComputedStyle(document.querySelector('.card')).borderTopStyle") == "solid"
    page.screenshot(path=shots / "forbidden-no-role.png", full_page=True)

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Username")).to_be_visible()

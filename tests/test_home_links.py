"""Every number on the home page is a link, and the list it opens holds exactly that many certificates."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from certificates import claiming
from certificates.models import Certificate
from tests.factories import make_certificate, make_user, make_vendor
from tests.test_reports_rollups import claim_result

pytestmark = pytest.mark.django_db

HOME = reverse("home")
LIST = reverse("certificates:list")
LINK = re.compile(r'<a\b[^>]*\bhref="([^"]*)"[^>]*>(.*?)</a>', re.S)
STAT = re.compile(r'<span class="stat-value">(.*?)</span>', re.S)


def in_state(state: str, **fields) -> Certificate:
    certificate = make_certificate(vendor=fields.pop("vendor", None))
    Certificate.objects.filter(pk=certificate.pk).update(state=state, **fields)
    return certificate


@pytest.fixture
def every_kind():
    """A few certificates in every state, some at risk, some waiting for review, some claimed today."""
    now = timezone.now()
    vendor = make_vendor("Every Kind")
    for outcome, n in (("success", 3), ("failure", 2), ("error", 1)):
        for _ in range(n):
            certificate = make_certificate(vendor=vendor)
            claiming.apply_claim_result(
                certificate, claim_result(outcome, "all", "passed", 0, 60, 30), trigger="t"
            )
    in_state("pending", claim_deadline=now + timedelta(hours=3))
    in_state("pending", claim_deadline=now - timedelta(minutes=30))  # overdue: the sweep has not run yet
    in_state("held", claim_deadline=now + timedelta(hours=5), state_reason="needs an email or phone")
    in_state("held")
    for state, n in (("error", 3), ("expired", 2), ("cancelled", 4)):
        for _ in range(n):
            in_state(state, state_reason=f"{state} for a reason")
    in_state("error", review_status="accepted")
    in_state("expired", review_status="rejected")


def numbered_links(html: str) -> list[tuple[str, int]]:
    """(url, number) for each link whose text starts with a number: a card, or a count inside a card."""
    found = []
    for url, inner in LINK.findall(html):
        text = re.sub(r"<[^>]+>", " ", inner).split()
        if text and text[0].isdigit():
            found.append((unescape(url), int(text[0])))
    return found


def test_every_home_number_opens_a_list_of_exactly_that_many(client, every_kind):
    client.force_login(make_user("manager"))  # sees the report cards too

    html = client.get(HOME).content.decode()

    links = numbered_links(html)
    checked = {}
    for url, number in links:
        if not url.startswith(LIST):
            continue  # the failure-rate card opens the vendor report, not a list
        listed = client.get(url)
        assert listed.status_code == 200, url
        rows = list(listed.context["table"].page.object_list)
        assert len(rows) == number, (url, number, len(rows))
        checked[url] = number
    expected = {
        f"{LIST}?at_risk=yes": 3,
        f"{LIST}?review=open": 2 + 3 + 2 + 2 + 4,  # failures, not claimable, expired, on hold, cancelled
        f"{LIST}?state=pending": 3,  # an "error" answer retains nothing: it stays pending
        f"{LIST}?state=held": 2,
        f"{LIST}?state=claimed": 5,
        f"{LIST}?state=error": 4,
        f"{LIST}?state=expired": 3,
        f"{LIST}?state=cancelled": 4,
    }
    assert {url: n for url, n in checked.items() if url in expected} == expected
    today = [n for url, n in checked.items() if "received_after" in url]
    assert sorted(today) == sorted([21, 3, 2, 1])  # received, success, failure, error today


def test_no_number_on_the_home_page_stands_without_a_link(client, every_kind):
    client.force_login(make_user("manager"))

    html = client.get(HOME).content.decode()

    for match in STAT.finditer(html):
        before = html[: match.start()]
        # The closest opening tag that is still open around the number must be a link.
        assert before.rfind("<a ") > before.rfind("</a>") or "<a " in match.group(1), match.group(0)

"""Every GET parameter of every page an admin can reach answers a page or a form error, never a 5xx.

The walk starts at the home page, follows the site's own links, and gathers each page's parameters
from its GET forms and from the query strings of links to it. Each parameter then gets each hostile
value, one at a time: alone, and in place of its value in the queries the site itself links to (so
`day` is also tried beside `period=day`, `period=week` ...).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.test import Client
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django_tables2 import RequestConfig

from certificates import claiming
from certificates.intake.tokens import issue_intake_token
from certificates.models import Certificate, ImportBatch
from certificates.paginators import LazyPaginator, Paginator
from certificates.reports import rollups
from certificates.tables import CertificateTable
from tests.factories import make_certificate, make_user, make_vendor
from tests.scanning_factories import make_profile, make_template, make_term
from tests.test_api_log_chain import log_calls
from tests.test_reports_rollups import claim_result
from trustedform import TrustedFormError

pytestmark = pytest.mark.django_db

LIST = reverse("certificates:list")

HOSTILE = [
    "",
    "0",
    "-1",
    "-100000000",
    "100000000",
    str(10**30),
    "1.5",
    "1e400",
    "nan",
    "inf",
    "abc",
    "2026-02-30",
    "9999-12-31",
    "0001-01-01",
    "x" * 3000,
    "<script>alert(1)</script>",
    "\u202eevil \U0001f600",
    "a\x00b",
]
# Parameters that django-tables2 reads on any page with a table, though no link spells them all out.
TABLE_PARAMETERS = ("page", "per_page", "sort")
NOT_WALKED = ("/logout/", "/admin/", "/static/", "/api/")
URLS_PER_ROUTE = 4  # a few certificates' pages tell as much as all of them; bounds the walk
BASES_PER_PARAMETER = 3


class PageParser(HTMLParser):
    """The links of a page and the fields of its GET forms (with the values they would submit)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.has_table = False
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._form: dict[str, str] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "table":
            self.has_table = True
        elif tag == "form" and a.get("method", "get").lower() == "get":
            self._form = {}
            self.forms.append((a.get("action", ""), self._form))
        elif self._form is not None and a.get("name"):
            if tag == "input" and a.get("type") not in ("submit", "button", "reset"):
                unchecked = a.get("type") in ("checkbox", "radio") and "checked" not in a
                self._form.setdefault(a["name"], "" if unchecked else a.get("value", ""))
            elif tag == "select":
                self._select = a["name"]
                self._form.setdefault(a["name"], "")
            elif tag == "textarea":
                self._form.setdefault(a["name"], "")
        elif tag == "option" and self._form is not None and self._select and "selected" in a:
            self._form[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def route_of(path: str) -> str | None:
    try:
        return resolve(path).route
    except Resolver404:
        return None


def walk(client: Client) -> tuple[dict[str, str], dict[str, list[dict[str, str]]]]:
    """The pages reachable from home (a path for each route) and, per route, the queries seen for it
    (with django-tables2's parameters for a page that shows a table)."""
    pages: dict[str, str] = {}  # route -> the first path seen for it
    queries: dict[str, list[dict[str, str]]] = defaultdict(list)
    fetched: dict[str, set[str]] = defaultdict(set)  # route -> URLs fetched
    todo = ["/"]
    fetched[""].add("/")
    while todo:
        url = todo.pop(0)
        response = client.get(url)
        assert response.status_code < 500, f"{url} answered {response.status_code}"
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        parser = PageParser()
        parser.feed(response.content.decode())
        table_query = dict.fromkeys(TABLE_PARAMETERS, "")
        if parser.has_table and table_query not in queries[route_of(urlsplit(url).path)]:
            queries[route_of(urlsplit(url).path)].append(table_query)
        found = [(href, None) for href in parser.links]
        found += [(action or url, form) for action, form in parser.forms]
        for href, form in found:
            parts = urlsplit(href)
            path = parts.path or urlsplit(url).path
            route = route_of(path)
            if parts.scheme or parts.netloc or route is None or path.startswith(NOT_WALKED):
                continue  # another site, or a page this test leaves alone
            query = form if form is not None else dict(parse_qsl(parts.query, keep_blank_values=True))
            if query and query not in queries[route]:
                queries[route].append(query)
            pages.setdefault(route, path)
            link = f"{path}?{parts.query}" if parts.query else path
            if form is None and link not in fetched[route] and len(fetched[route]) < URLS_PER_ROUTE:
                fetched[route].add(link)
                todo.append(link)
    return pages, queries


def hostile_requests(path: str, seen: list[dict[str, str]]):
    """(path, query) pairs: each parameter of the page, given each hostile value in turn.

    Each value goes alone, and beside the other parameters of links that carry the parameter (one
    link per set of other parameters: `day` beside `period`, `received_after` beside
    `received_before`...).
    """
    for name in sorted({name for query in seen for name in query}):
        bases = [{}]
        for query in seen:
            base = {k: v for k, v in query.items() if k != name and v}
            if name in query and base.keys() not in [b.keys() for b in bases]:
                bases.append(base)
        for base in bases[:BASES_PER_PARAMETER]:
            for value in HOSTILE:
                yield path, {**base, name: value}


def failures(client: Client, requests) -> list[str]:
    failed = []
    for path, query in requests:
        response = client.get(path, query)
        if response.status_code >= 500:
            failed.append(f"{response.status_code} {path}?{urlencode(query)[:120]}")
    return failed


@pytest.fixture
def populated() -> None:
    """A few of each kind of row, so that every page renders real rows and links to them."""
    now = timezone.now()
    vendors = [make_vendor("Good Leads"), make_vendor("Bad Leads")]
    outcomes = [("success", "all", "passed"), ("failure", "none", "forbidden"), ("error", "no_data", "none")]
    for n in range(16):
        certificate = make_certificate(vendor=vendors[n % 2], email=f"lead{n}@example.com")
        received = now - timedelta(days=n % 10, hours=n)
        Certificate.objects.filter(pk=certificate.pk).update(received_at=received)
        certificate.refresh_from_db()
        if n % 4 == 0:
            outcome, fingerprints, scan = outcomes[n % 3]
            result = claim_result(outcome, fingerprints, scan, n % 4, 90, 40)
            claiming.apply_claim_result(certificate, result, trigger="test")
        elif n % 4 == 1:
            claiming.apply_claim_error(certificate, TrustedFormError("gone", status=404), trigger="test")
    batch = ImportBatch.objects.create(source=ImportBatch.Source.CSV, filename="leads.csv")
    Certificate.objects.filter(pk__in=Certificate.objects.values("pk")[:5]).update(batch=batch)
    rollups.rebuild()
    log_calls(3)
    issue_intake_token(name="Landing pages", scopes=["leads"])
    terms = [make_term(), make_term("No sweepstakes here.", kind="forbidden")]
    make_profile("Mortgage", terms=terms, templates=[make_template()], vendors=vendors[:1])


def test_the_walk_reaches_every_section_with_its_parameters(client, populated):
    client.force_login(make_user("admin"))

    pages, queries = walk(client)

    for route in (
        "",
        "certificates/",
        "certificates/<int:pk>/",
        "certificates/vendors/",
        "certificates/api-calls/",
        "reports/vendors/",
        "reports/vendors/<int:pk>/",
        "scanning/terms/",
        "intake/batches/<int:pk>/",
        "audit/",
    ):
        assert route in pages, f"the walk never reached {route}: {sorted(pages)}"
    names = {name for query in queries["certificates/"] for name in query}
    assert {"q", "deadline_within", "received_after", "sort"} <= names
    assert {"period", "day", "start", "end"} <= {n for q in queries["reports/vendors/"] for n in q}


def test_no_parameter_value_makes_any_page_fail(populated):
    client = Client(raise_request_exception=False)  # an exception is a 500 here, as for a user
    client.force_login(make_user("admin"))
    pages, queries = walk(client)

    failed = []
    for route, path in sorted(pages.items()):
        failed += failures(client, hostile_requests(path, queries[route]))

    assert not failed, f"{len(failed)} requests failed:\n" + "\n".join(failed[:60])


def test_a_deadline_beyond_a_year_is_a_form_error(client):
    client.force_login(make_user("viewer"))
    make_certificate()

    response = client.get(LIST, {"deadline_within": "100000000"})

    assert response.status_code == 200
    assert "less than or equal to 8784" in response.content.decode()


@pytest.mark.parametrize("paginator", [LazyPaginator, Paginator])
@pytest.mark.parametrize(("page", "per_page"), [(10**30, 50), (1, -100000000), (1, 10**30), (-5, 0)])
def test_any_page_and_page_size_give_a_page(rf, paginator, page, per_page):
    for _ in range(3):
        make_certificate()
    table = CertificateTable(Certificate.objects.order_by("pk"))
    request = rf.get(LIST, {"page": page, "per_page": per_page})

    RequestConfig(request, paginate={"per_page": 50, "paginator_class": paginator}).configure(table)

    assert 1 <= len(table.page.object_list) <= 3
    assert 1 <= table.paginator.per_page <= 100


def test_a_huge_page_of_the_list_shows_its_rows(client):
    client.force_login(make_user("viewer"))
    wanted = make_certificate()

    response = client.get(LIST, {"page": str(10**30), "per_page": "-1"})

    assert response.status_code == 200
    assert wanted.get_absolute_url() in response.content.decode()


@pytest.mark.parametrize("name", ["vendors", "vendor"])
@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"period": "month", "day": "9999-12-31"}, "Day in the period: Choose a day from Jan 1, 2000"),
        ({"period": "week", "day": "0001-01-01"}, "Day in the period: Choose a day from Jan 1, 2000"),
        ({"period": "custom", "start": "0001-01-01", "end": "0001-01-05"}, "From: Choose a day from"),
        ({"period": "day", "day": "2026-02-30"}, "Day in the period: Enter a valid date."),
    ],
)
def test_a_report_day_out_of_range_is_a_form_error_and_the_default_period_shows(client, name, query, error):
    client.force_login(make_user("viewer"))
    vendor = make_vendor()
    url = reverse(f"reports:{name}", args=[vendor.pk] if name == "vendor" else [])

    response = client.get(url, query)

    assert response.status_code == 200
    assert error in response.content.decode()
    today = timezone.now().date()
    assert response.context["period"].start <= today <= response.context["period"].end

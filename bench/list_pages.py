"""The certificate list and detail pages on 1,000,000 certificates, against the bare SQL for the same rows.

Prints, for each page, the server time (a logged-in GET through tfdash.wsgi.application, the callable
gunicorn serves, with every middleware), the time of the bare SQL the page sends for its rows, run on a raw
cursor, and their ratio (goal: <= 3 x). Also the layout page (the base template with nothing in it): what
any logged-in page costs here before doing its own work, and its ratio to the same SQL, the floor under
each page's ratio. The three are timed in turns, so a slow spell of the machine hits them alike.

The data set is generated once (generate_certificates) into this bench's SQLite file in the temp directory
and reused by later runs (delete tfdash-bench-pages-*.sqlite3 there to start afresh); on PostgreSQL into a
fresh database, by COPY.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable

from bench import common
from bench.common import mark_filled, size, use_database

CERTIFICATES = size(1_000_000, 2_000)
REPEAT = size(60, 3)
VENDORS = size(200, 10)


def setup_django(rows: int, name: str = "pages") -> None:
    """Point Django at this bench's own database holding `rows` generated certificates (made on first
    use; on SQLite cached for later runs)."""
    fresh = use_database(f"{name}-{rows}")
    common.setup_django()
    from django.conf import settings
    from django.core.management import call_command

    # The test Client's host. Not setup_test_environment(): it instruments every template render to
    # record contexts for assertions, which would be measured as page time.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    if fresh:
        started = time.perf_counter()
        print(
            f"# generating {rows:,} certificates{'' if common.POSTGRES else ' (once; cached for later runs)'}",
            flush=True,
        )
        call_command("generate_certificates", rows, seed=1, vendors=VENDORS, stdout=sys.stderr)
        print(f"BENCH generate_seconds {time.perf_counter() - started:.1f} s", flush=True)
        mark_filled(f"{name}-{rows}")


def timed(*fns: Callable[[], object], repeat: int = REPEAT) -> list[float]:
    """Median seconds of each callable over `repeat` rounds, after one warm-up call each.

    The callables take turns within each round, so a slow spell of this shared machine slows them all
    alike instead of skewing one side of a ratio.
    """
    samples: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()
    for _ in range(repeat):
        for fn, times in zip(fns, samples, strict=True):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
    return [statistics.median(times) for times in samples]


def logged_in_session(role: str = "admin") -> str:
    """A session cookie for a user of `role`, made the way the login view makes one."""
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user, _ = User.objects.get_or_create(username=f"bench-{role}")
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def wsgi_page(path: str, query: str, session: str) -> Callable[[], None]:
    """A GET through tfdash.wsgi.application, the callable gunicorn serves: every middleware, no client."""
    from tfdash.wsgi import application

    def get() -> None:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "testserver",
            "HTTP_COOKIE": f"sessionid={session}",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
        }
        statuses = []
        response = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
        body = b"".join(response)
        response.close()
        assert statuses == ["200 OK"] and body, statuses

    return get


def page_queries(page: Callable[[], None]) -> list[str]:
    """The SQL a page runs, captured from one request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        page()
    return [q["sql"] for q in captured.captured_queries]


def bare_sql(statements: list[str]) -> Callable[[], None]:
    """Run these exact statements on a raw cursor and fetch every row: the floor under the page."""
    from django.db import connection

    def run_all() -> None:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()

    return run_all


def add_layout_page() -> None:
    """A bench-only page that renders the layout with nothing in it."""
    from django.urls import clear_url_caches, path
    from django.views.generic import TemplateView

    from tfdash import urls

    urls.urlpatterns.append(
        path("bench-layout/", TemplateView.as_view(template_name="base.html"), name="bench-layout")
    )
    clear_url_caches()


def run() -> None:
    setup_django(CERTIFICATES)
    from django.urls import reverse

    from certificates.models import Certificate, Claim, Vendor

    session = logged_in_session()
    add_layout_page()
    vendor = Vendor.objects.filter(name="Generated vendor 007").get()
    list_page = wsgi_page(
        reverse("certificates:list"), f"vendor={vendor.pk}&state=claimed&sort=claim_deadline", session
    )
    # The bare SQL is the statement that fetches the page's rows (a page and one more, by the
    # vendor/state/deadline index), exactly as the page sends it, without Django around it.
    (rows_sql,) = [
        q for q in page_queries(list_page) if q.startswith('SELECT "certificates_certificate"."id"')
    ]
    assert "LIMIT 51" in rows_sql and "COUNT(" not in rows_sql, rows_sql
    # What any logged-in page costs here before its own work: the layout alone, same middleware.
    layout = wsgi_page(reverse("bench-layout"), "", session)
    layout()  # warm: what is cached per process is cached
    layout_queries = page_queries(layout)
    print(f"BENCH layout_page_queries {len(layout_queries)} queries", flush=True)
    for sql in layout_queries:
        print(f"#   layout query: {sql[:140]}", flush=True)
    report("list_page", *timed(list_page, bare_sql([rows_sql]), layout))

    claim = Claim.objects.filter(certificate__vendor=vendor).order_by("id").first()
    certificate = Certificate.objects.get(pk=claim.certificate_id)
    detail_page = wsgi_page(certificate.get_absolute_url(), "", session)
    # The detail page's bare SQL: its certificate, claims, check-ins, reviews and API calls.
    tables = ("certificate", "claim", "checkin", "review", "apicall")
    detail_sql = [
        q for q in page_queries(detail_page) if any(f'FROM "certificates_{t}"' in q for t in tables)
    ]
    assert len(detail_sql) == len(tables), detail_sql
    report("detail_page", *timed(detail_page, bare_sql(detail_sql), layout))


def report(name: str, page: float, sql: float, layout: float) -> None:
    """The page against its SQL, and the empty layout page against the same SQL: the floor of that ratio."""
    print(f"BENCH {name}_seconds {page:.4f} s", flush=True)
    print(f"BENCH {name}_sql_seconds {sql:.4f} s", flush=True)
    print(f"BENCH {name}_ratio_vs_sql {page / sql:.1f} x", flush=True)
    print(f"BENCH {name}_layout_seconds {layout:.4f} s", flush=True)
    print(f"BENCH {name}_floor_ratio_vs_sql {layout / sql:.1f} x", flush=True)
    print(f"BENCH {name}_ratio_vs_layout {page / layout:.2f} x", flush=True)

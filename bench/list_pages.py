"""The certificate list and detail pages on 1,000,000 certificates, against the bare SQL for the same rows.

Prints, for each page, the server time through Django's test Client (a logged-in user, all middleware),
the time of the bare SQL that fetches the same rows, and their ratio (goal: <= 3 x).

The data set is generated once (generate_certificates) into a SQLite file in the temp directory and
reused by later runs; delete tfdash-bench-*.sqlite3 there to start afresh.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CERTIFICATES = 1_000_000
REPEAT = 30


def setup_django(rows: int) -> Path:
    """Point Django at a cached SQLite file holding `rows` generated certificates (made on first use)."""
    db = Path(tempfile.gettempdir()) / f"tfdash-bench-{rows}.sqlite3"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # The test Client's host. Not setup_test_environment(): it instruments every template render to
    # record contexts for assertions, which would be measured as page time.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    ready = db.with_suffix(".ready")
    if not ready.exists():
        started = time.perf_counter()
        print(f"# generating {rows:,} certificates into {db} (once; cached for later runs)", flush=True)
        call_command("generate_certificates", rows, seed=1, stdout=sys.stderr)
        print(f"BENCH generate_seconds {time.perf_counter() - started:.1f} s", flush=True)
        ready.touch()
    return db


def timed(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    """Median seconds of `repeat` calls, after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def logged_in_client(role: str = "admin"):
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user, _ = User.objects.get_or_create(username=f"bench-{role}")
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def run() -> None:
    setup_django(CERTIFICATES)
    from django.db import connection
    from django.urls import reverse

    from certificates.models import Certificate, Claim, Vendor

    client = logged_in_client()
    vendor = Vendor.objects.filter(name="Generated vendor 007").get()
    url = f"{reverse('certificates:list')}?vendor={vendor.pk}&state=claimed&sort=claim_deadline"

    def list_page() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    # The same 51 rows (a page and one to know there is a next) by the same index, without Django.
    list_sql = (
        "SELECT c.*, v.name FROM certificates_certificate c JOIN certificates_vendor v ON v.id = c.vendor_id "
        "WHERE c.vendor_id = %s AND c.state = %s ORDER BY c.claim_deadline, c.id LIMIT 51"
    )

    def list_query() -> None:
        with connection.cursor() as cursor:
            cursor.execute(list_sql, [vendor.pk, "claimed"])
            assert len(cursor.fetchall()) == 51

    report("list_page", timed(list_page), timed(list_query))

    claim = Claim.objects.filter(certificate__vendor=vendor).order_by("id").first()
    certificate = Certificate.objects.get(pk=claim.certificate_id)

    def detail_page() -> None:
        response = client.get(certificate.get_absolute_url())
        assert response.status_code == 200, response.status_code

    def detail_query() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.*, v.name FROM certificates_certificate c "
                "JOIN certificates_vendor v ON v.id = c.vendor_id WHERE c.id = %s",
                [certificate.pk],
            )
            cursor.fetchall()
            for table in ("claim", "checkin", "review", "apicall"):
                cursor.execute(
                    f"SELECT * FROM certificates_{table} WHERE certificate_id = %s", [certificate.pk]
                )
                cursor.fetchall()

    report("detail_page", timed(detail_page), timed(detail_query))


def report(name: str, page: float, sql: float) -> None:
    print(f"BENCH {name}_seconds {page:.4f} s", flush=True)
    print(f"BENCH {name}_sql_seconds {sql:.4f} s", flush=True)
    print(f"BENCH {name}_ratio_vs_sql {page / sql:.1f} x", flush=True)

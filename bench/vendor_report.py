"""The vendor report on 1,000,000 certificates over 200 vendors, against a GROUP BY over the certificate table.

Prints the server time of /reports/vendors/ for the last 30 days (Django test Client, a logged-in manager,
all middleware, rollups fresh), the time of the bare GROUP BY that counts the same month straight from the
certificate table (the counters only: the report also has medians and top domains), and their ratio
(goal: the report at least 10 x faster).

The data set is generated once into this bench's SQLite file in the temp directory, by one INSERT … SELECT
over a recursive sequence (about 5 minutes with every index and trigger in place), and reused by
later runs (delete tfdash-bench-reports-*.sqlite3 there to start afresh); on PostgreSQL, into a fresh
database by generate_certificates (COPY).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from bench import common
from bench.common import POSTGRES, mark_filled, size, use_database

CERTIFICATES = size(1_000_000, 2_000)
VENDORS = 200
DAYS = 35
REPEAT = size(7, 2)


def setup_django(rows: int) -> None:
    fresh = use_database(f"reports-{rows}")
    common.setup_django()
    from django.conf import settings
    from django.core.management import call_command

    # The test Client's host; not setup_test_environment(), which would instrument every render.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    if fresh:
        print(
            f"# generating {rows:,} certificates{'' if common.POSTGRES else ' (once; cached for later runs)'}",
            flush=True,
        )
        started = time.perf_counter()
        if POSTGRES:
            generate_by_copy(rows)
        else:
            generate(rows)
        print(f"BENCH vendor_report_generate_seconds {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        call_command("rebuild_rollups", verbosity=0)
        print(
            f"BENCH vendor_report_rebuild_rollups_seconds {time.perf_counter() - started:.1f} s", flush=True
        )
        mark_filled(f"reports-{rows}")


def generate_by_copy(rows: int) -> None:
    """PostgreSQL: generate_certificates (COPY) over VENDORS vendors, named as the report expects."""
    from django.core.management import call_command

    from certificates.models import Vendor

    call_command("generate_certificates", rows, vendors=VENDORS, days=DAYS, seed=3, stdout=sys.stderr)
    for vendor in Vendor.objects.filter(name__startswith="Generated vendor"):
        vendor.name = vendor.name.replace("Generated vendor", "Bench vendor")
        vendor.save(update_fields=["name"])


def _literal_columns(model, given: dict[str, str]) -> tuple[list[str], list[str], list[object]]:
    """Column names, SQL expressions and parameters: `given` expressions, each other field's default."""
    from django.db import connection

    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in given:
            expressions.append(given[field.column])
        else:
            expressions.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    return columns, expressions, params


def generate(rows: int) -> None:
    """One INSERT … SELECT per table; values spread by multiplicative hashes of the row number."""
    from django.db import connection, transaction
    from django.utils import timezone

    from certificates.models import Certificate, Claim, Vendor

    Vendor.objects.bulk_create(
        [Vendor(name=f"Bench vendor {i + 1:03d}") for i in range(VENDORS)], ignore_conflicts=True
    )
    vendor_ids = sorted(Vendor.objects.filter(name__startswith="Bench vendor").values_list("pk", flat=True))
    assert vendor_ids == list(range(vendor_ids[0], vendor_ids[0] + VENDORS)), "vendor ids must be consecutive"
    now = int(timezone.now().timestamp())
    roll = "((n * 40503) % 1000)"
    claimed = f"({roll} BETWEEN 80 AND 899)"
    failure = f"({claimed} AND (n * 16807) % 100 < 15)"
    received = f"datetime({now} - (n * 69621) % {DAYS * 86400}, 'unixepoch')"
    certificate = {
        "cert_id": "printf('%040x', n)",
        "cert_url": "'https://cert.trustedform.com/' || printf('%040x', n)",
        "vendor_id": f"{vendor_ids[0]} + (n * 48271) % {VENDORS}",
        "reference": "'REF-' || n",
        "received_at": received,
        "claim_deadline": f"datetime({now} - (n * 69621) % {DAYS * 86400} + 259200, 'unixepoch')",
        "next_attempt_at": received,
        "state": f"CASE WHEN {roll} < 80 THEN 'pending' WHEN {roll} < 900 THEN 'claimed' "
        f"WHEN {roll} < 950 THEN 'expired' WHEN {roll} < 980 THEN 'error' ELSE 'cancelled' END",
        "outcome": f"CASE WHEN {failure} THEN 'failure' WHEN {claimed} THEN 'success' "
        f"WHEN {roll} < 8 THEN 'error' ELSE '' END",
        "outcome_reason": f"CASE WHEN {failure} THEN 'Reason ' || (n % 4) ELSE '' END",
        "fingerprint_result": f"CASE WHEN NOT {claimed} THEN '' WHEN {failure} THEN "
        "CASE WHEN n % 2 THEN 'none' ELSE 'some' END WHEN n % 20 = 0 THEN 'no_data' "
        "WHEN n % 11 = 0 THEN 'some' ELSE 'all' END",
        "scan_success": f"CASE WHEN NOT {claimed} THEN NULL WHEN (n * 7919) % 100 < 70 THEN 1 "
        "WHEN (n * 7919) % 100 < 80 THEN 0 END",
        "is_masked": f"CASE WHEN {claimed} THEN (n * 104729) % 100 < 3 END",
        "bot_detected": f"CASE WHEN {claimed} THEN (n * 1299709) % 100 < 2 END",
        "reused": "(n * 15485863) % 100 = 0",
        "review_status": f"CASE WHEN {failure} THEN CASE WHEN n % 3 = 0 THEN 'rejected' ELSE 'open' END "
        "ELSE '' END",
        "claimed_at": f"CASE WHEN {claimed} THEN {received} END",
        "checked_in_at": f"CASE WHEN (n * 6700417) % 100 < 2 THEN {received} END",
        "attempts": f"CASE WHEN {claimed} THEN 1 ELSE 0 END",
    }
    claim = {
        "certificate_id": "id",
        "created_at": "claimed_at",
        "api_version": "'4.0'",
        "outcome": "outcome",
        "reason": "outcome_reason",
        "fingerprint_result": "fingerprint_result",
        "scan_success": "scan_success",
        "is_masked": "is_masked",
        "scans": "CASE WHEN scan_success = 0 THEN json_object('required_not_found', json_array('I agree'), "
        "'forbidden_found', json_array()) ELSE json_object('required_not_found', json_array(), "
        "'forbidden_found', json_array()) END",
        "insights": "json_object('age_seconds', 5 + (id * 7919) % 900, 'seconds_on_page', 8 + (id * 104729) % 600, "
        "'domain', 'site' || (id % 40) || '.example', 'bot_detected', bot_detected)",
    }
    table = connection.ops.quote_name
    columns, expressions, params = _literal_columns(Certificate, certificate)
    claim_columns, claim_expressions, claim_params = _literal_columns(Claim, claim)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size = -262144")
        cursor.execute(
            f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {rows}) "  # noqa: S608
            f"INSERT INTO {table(Certificate._meta.db_table)} ({', '.join(columns)}) "
            f"SELECT {', '.join(expressions)} FROM seq",
            params,
        )
        cursor.execute(
            f"INSERT INTO {table(Claim._meta.db_table)} ({', '.join(claim_columns)}) "  # noqa: S608
            f"SELECT {', '.join(claim_expressions)} FROM {table(Certificate._meta.db_table)} "
            "WHERE state = 'claimed'",
            claim_params,
        )


def timed(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    """Median seconds of `repeat` calls, after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


GROUP_BY = """
SELECT vendor_id, COUNT(*), SUM(state = 'claimed'), SUM(outcome = 'success'), SUM(outcome = 'failure'),
       SUM(outcome = 'error'), SUM(state = 'expired'), SUM(checked_in_at IS NOT NULL),
       SUM(fingerprint_result = 'all'), SUM(fingerprint_result = 'some'), SUM(fingerprint_result = 'none'),
       SUM(fingerprint_result = 'no_data'), SUM(scan_success = 1), SUM(scan_success = 0),
       SUM(is_masked = 1), SUM(bot_detected = 1), SUM(reused), SUM(review_status = 'rejected')
FROM certificates_certificate
WHERE received_at >= %s AND received_at < %s
GROUP BY vendor_id
"""
# The same counts in PostgreSQL's words (booleans neither sum nor compare to 1 there).
GROUP_BY_PG = """
SELECT vendor_id, COUNT(*), COUNT(*) FILTER (WHERE state = 'claimed'), COUNT(*) FILTER (WHERE outcome = 'success'),
       COUNT(*) FILTER (WHERE outcome = 'failure'), COUNT(*) FILTER (WHERE outcome = 'error'),
       COUNT(*) FILTER (WHERE state = 'expired'), COUNT(checked_in_at),
       COUNT(*) FILTER (WHERE fingerprint_result = 'all'), COUNT(*) FILTER (WHERE fingerprint_result = 'some'),
       COUNT(*) FILTER (WHERE fingerprint_result = 'none'), COUNT(*) FILTER (WHERE fingerprint_result = 'no_data'),
       COUNT(*) FILTER (WHERE scan_success), COUNT(*) FILTER (WHERE NOT scan_success),
       COUNT(*) FILTER (WHERE is_masked), COUNT(*) FILTER (WHERE bot_detected), COUNT(*) FILTER (WHERE reused),
       COUNT(*) FILTER (WHERE review_status = 'rejected')
FROM certificates_certificate
WHERE received_at >= %s AND received_at < %s
GROUP BY vendor_id
"""


def run() -> None:
    setup_django(CERTIFICATES)
    from datetime import UTC, datetime, timedelta
    from datetime import time as day_start

    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from certificates.reports import rollups, scorecards

    rollups.refresh_dirty()
    period = scorecards.last_days(30)
    start = datetime.combine(period.start, day_start.min, tzinfo=UTC)
    end = datetime.combine(period.end + timedelta(days=1), day_start.min, tzinfo=UTC)
    bounds = [connection.ops.adapt_datetimefield_value(start), connection.ops.adapt_datetimefield_value(end)]

    def group_by() -> None:
        with connection.cursor() as cursor:
            cursor.execute(GROUP_BY_PG if POSTGRES else GROUP_BY, bounds)
            assert len(cursor.fetchall()) == VENDORS

    user, _ = User.objects.get_or_create(username="bench-manager")
    user.groups.add(Group.objects.get(name="manager"))
    client = Client()
    client.force_login(user)
    url = (
        f"{reverse('reports:vendors')}?period=custom&start={period.start}&end={period.end}&sort=-failure_rate"
    )

    def report_page() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        assert response.content.count(b"Bench vendor") >= VENDORS

    group_by_seconds = timed(group_by)
    report_seconds = timed(report_page)
    print(f"BENCH vendor_report_groupby_seconds {group_by_seconds:.4f} s")
    print(f"BENCH vendor_report_seconds {report_seconds:.4f} s")
    print(f"BENCH vendor_report_speedup_vs_groupby {group_by_seconds / report_seconds:.1f} x")

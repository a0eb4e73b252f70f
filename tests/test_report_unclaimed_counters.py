"""The vendor report counts what was never claimed: not claimable, on hold and cancelled (expired already
was), each a link to exactly its certificates, and each in the CSV and XLSX exports."""

import csv
import importlib
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from openpyxl import load_workbook

from certificates import counters
from certificates.models import Certificate, RollupDirty, VendorDayRollup
from certificates.reports import rollups
from tests.factories import make_certificate, make_user, make_vendor

pytestmark = pytest.mark.django_db

REPORT = reverse("reports:vendors")
COUNTS = {"not_claimable": 3, "held": 2, "cancelled": 4, "expired": 1}
STATE_OF = {"not_claimable": "error", "held": "held", "cancelled": "cancelled", "expired": "expired"}
HEADERS = {"not_claimable": "Not claimable", "held": "On hold", "cancelled": "Cancelled"}


@pytest.fixture
def unclaimed_day():
    """One vendor's day: a pending certificate and a few that were never claimed, each kind a count."""
    vendor = make_vendor("Never Claimed")
    day = datetime.now(UTC) - timedelta(days=2)
    make_certificate(vendor=vendor)
    for counter, n in COUNTS.items():
        for _ in range(n):
            certificate = make_certificate(vendor=vendor)
            Certificate.objects.filter(pk=certificate.pk).update(state=STATE_OF[counter], received_at=day)
    Certificate.objects.filter(vendor=vendor, state="pending").update(received_at=day)
    return {"vendor": vendor, "query": {"period": "day", "day": day.date().isoformat()}}


def test_a_state_change_marks_its_day_and_the_refresh_counts_it():
    certificate = make_certificate()
    rollups.refresh_dirty()
    assert not RollupDirty.objects.exists()

    Certificate.objects.filter(pk=certificate.pk).update(state="held")

    day = certificate.received_at.astimezone(UTC).date()
    assert RollupDirty.objects.filter(vendor_id=certificate.vendor_id, day=day).exists()
    rollups.refresh_dirty()
    rollup = VendorDayRollup.objects.get(vendor_id=certificate.vendor_id, day=day)
    assert (rollup.held, rollup.not_claimable, rollup.cancelled) == (1, 0, 0)

    Certificate.objects.filter(pk=certificate.pk).update(state="cancelled")
    rollups.refresh_dirty()
    rollup = VendorDayRollup.objects.get(vendor_id=certificate.vendor_id, day=day)
    assert (rollup.held, rollup.not_claimable, rollup.cancelled) == (0, 0, 1)


def test_each_unclaimed_count_links_to_exactly_its_certificates(client, unclaimed_day):
    client.force_login(make_user("viewer"))

    response = client.get(REPORT, unclaimed_day["query"])

    [row] = response.context["table"].data.data
    html = response.content.decode()
    for counter, n in COUNTS.items():
        assert row[counter] == n, counter
        url = row["links"][counter]
        assert f"state={STATE_OF[counter]}" in url
        assert f'href="{url.replace("&", "&amp;")}" data-count="{counter}"' in html
        listed = client.get(url).context["table"].page.object_list
        assert len(listed) == n
        assert {r.record.state for r in listed} == {STATE_OF[counter]}


def test_the_vendor_page_shows_the_unclaimed_counts_as_links(client, unclaimed_day):
    client.force_login(make_user("viewer"))
    vendor = unclaimed_day["vendor"]

    response = client.get(reverse("reports:vendor", args=[vendor.pk]), unclaimed_day["query"])

    row = response.context["trend"].row
    html = response.content.decode()
    for counter in ("not_claimable", "held", "cancelled"):
        assert f'<a href="{row["links"][counter].replace("&", "&amp;")}">{COUNTS[counter]}' in html


def test_the_exports_carry_one_column_per_unclaimed_count(client, unclaimed_day):
    client.force_login(make_user("manager"))

    response = client.get(REPORT, {**unclaimed_day["query"], "_export": "csv"})
    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    workbook = load_workbook(
        io.BytesIO(client.get(REPORT, {**unclaimed_day["query"], "_export": "xlsx"}).content)
    )
    header, values = list(workbook.active.iter_rows(values_only=True))[:2]
    sheet = dict(zip(header, values, strict=True))

    for counter, title in HEADERS.items():
        assert row[title] == str(COUNTS[counter])
        assert int(sheet[title]) == COUNTS[counter]
    assert row["Vendor"] == "Never Claimed"


class Executor:
    """The one thing the migration's step uses of a schema editor (a real one cannot run in a test's
    transaction on SQLite)."""

    def execute(self, sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)


def test_the_migration_has_days_counted_before_it_recounted():
    migration = importlib.import_module("certificates.migrations.0013_rollup_unclaimed_counters")
    certificate = make_certificate()
    rollups.refresh_dirty()
    Certificate.objects.filter(pk=certificate.pk).update(state="error")
    rollups.refresh_dirty()
    # As a rollup stored before the counter existed would read.
    VendorDayRollup.objects.update(not_claimable=0)

    migration.mark_existing(None, Executor())
    migration.mark_existing(None, Executor())  # twice: marks already there are kept, not duplicated

    assert rollups.refresh_dirty() == 1
    assert VendorDayRollup.objects.get().not_claimable == 1
    assert counters.BY_NAME["not_claimable"].list_filter == {"state": "error"}

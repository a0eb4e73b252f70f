"""Reading lead files: header spellings, encodings, delimiters, every rejection reason, duplicates."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from certificates import worker
from certificates.exporting import FORMULA_LIKE_NAME
from certificates.intake import csvfile, importer, leads, uploads
from certificates.models import CLAIM_WINDOW, Certificate, ImportBatch, ImportRowError, Vendor
from tests.factories import make_certificate, make_vendor

pytestmark = pytest.mark.django_db


def url(n: int) -> str:
    return f"https://cert.trustedform.com/{n:040x}"


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "leads.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def dry_run(tmp_path: Path, text: str, **kwargs) -> csvfile.CsvReport:
    return csvfile.read_csv(write(tmp_path, text), **kwargs)


def outcomes(report: csvfile.CsvReport) -> list[tuple[int, str]]:
    return [(o.line, o.status) for o in report.importer.outcomes]


def errors(report: csvfile.CsvReport) -> list[tuple[int, str, str]]:
    return [(o.line, e.field, e.reason) for o in report.importer.rejected for e in o.errors]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("trustedform_cert_url", "cert_url"),
        ("xxTrustedFormCertUrl", "cert_url"),
        ("Cert URL", "cert_url"),
        ("certificate_url", "cert_url"),
        ("TrustedForm-URL", "cert_url"),
        ("Email", "email"),
        ("email_address", "email"),
        ("phone", "phone"),
        ("Phone_1", "phone"),
        ("phone1", "phone"),
        ("PHONE NUMBER", "phone"),
        ("reference", "reference"),
        ("lead_id", "reference"),
        ("LeadID", "reference"),
        ("vendor", "vendor"),
        ("Source", "vendor"),
        ("vendor_name", "vendor"),
        ("lead_time", "lead_time"),
        ("created_at", "lead_time"),
        ("Timestamp", "lead_time"),
        ("date", "lead_time"),
    ],
)
def test_it_maps_common_header_spellings(header, field):
    columns = leads.ColumnMap.from_header(["cert_url", header] if field != "cert_url" else [header])

    assert (header, field) in columns.mapping


def test_it_lists_the_columns_it_does_not_use(tmp_path):
    report = dry_run(tmp_path, f"cert_url,vendor,zip,notes\n{url(1)},Acme,45202,x\n")

    assert report.columns.unmapped == ["zip", "notes"]
    assert report.counts.new == 1


@pytest.mark.parametrize(("delimiter", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab")])
def test_it_sniffs_the_delimiter(tmp_path, delimiter, name):
    text = delimiter.join(["cert_url", "email", "vendor"]) + "\n"
    text += delimiter.join([url(1), "jane@example.com", "Acme, Inc."]) + "\n"
    if delimiter == ",":
        text = text.replace("Acme, Inc.", '"Acme, Inc."')

    report = dry_run(tmp_path, text)

    assert report.delimiter_name == name
    assert report.importer.outcomes[0].vendor == "Acme, Inc."
    assert report.counts.new == 1


def test_blank_lines_before_the_header_do_not_hide_the_delimiter(tmp_path):
    report = dry_run(tmp_path, f"\n\ncert_url;vendor\n{url(1)};Acme, Inc.\n")

    assert report.delimiter == ";"
    assert outcomes(report) == [(4, "new")]


@pytest.mark.parametrize(("prefix", "encoding"), [(b"", "utf-8"), (b"\xef\xbb\xbf", "utf-8-sig")])
def test_it_reads_utf8_with_or_without_a_bom(tmp_path, prefix, encoding):
    path = tmp_path / "leads.csv"
    path.write_bytes(prefix + f"cert_url,vendor\n{url(1)},Café Leads\n".encode())

    report = csvfile.read_csv(path)

    assert report.encoding == encoding
    assert report.columns.indexes == {"cert_url": 0, "vendor": 1}  # the BOM is not part of the header
    assert report.importer.outcomes[0].vendor == "Café Leads"


def test_it_falls_back_to_cp1252_and_says_so(tmp_path):
    report = csvfile.read_csv(write(tmp_path, f"cert_url,vendor\n{url(1)},Café “Leads”\n", "cp1252"))

    assert report.encoding == "cp1252"
    assert "Windows-1252" in report.encoding_note
    assert report.importer.outcomes[0].vendor == "Café “Leads”"


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("http://cert.trustedform.com/" + "a" * 40, "must use https://"),
        ("https://cert.example.com/" + "a" * 40, "not a TrustedForm certificate host"),
        (f'"{url(1)},{url(2)}"', "more than one URL"),
        ("https://cert.staging.trustedform.com/" + "a" * 40, "staging certificate"),
        ("https://cert.trustedform.com/" + "a" * 600, "too long"),
        ("", "empty"),
    ],
)
def test_it_rejects_a_bad_url_with_line_field_and_the_clients_reason(tmp_path, cell, reason):
    report = dry_run(tmp_path, f"cert_url,vendor\n{url(9)},Acme\n{cell},Acme\n")

    [(line, field, text)] = errors(report)
    assert (line, field) == (3, "cert_url")
    assert reason in text
    assert (report.counts.new, report.counts.rejected) == (1, 1)


@pytest.mark.parametrize(
    ("column", "cell", "reason"),
    [
        ("email", "jane@", "Not a valid email address."),
        ("email", "=cmd|' /C calc'!A0", "Not a valid email address."),
        ("phone", "555-12", "Not a 10-digit US phone number."),
        ("lead_time", "yesterday-ish", "Not a date and time we can read"),
        ("lead_time", "2999-01-01 00:00", "in the future"),
        ("reference", "r" * 300, "Longer than 255 characters"),
    ],
)
def test_it_rejects_a_bad_value_with_its_field(tmp_path, column, cell, reason):
    report = dry_run(tmp_path, f'cert_url,vendor,{column}\n{url(1)},Acme,"{cell}"\n')

    [(line, field, text)] = errors(report)
    assert (line, field) == (2, column)
    assert reason in text


def test_it_reports_every_bad_field_of_a_row(tmp_path):
    report = dry_run(tmp_path, "cert_url,vendor,email,phone\nhttp://x,Acme,nope,12\n")

    assert [field for _, field, _ in errors(report)] == ["cert_url", "email", "phone"]
    assert report.counts.rejected == 1


def test_it_rejects_rows_without_a_vendor_unless_one_is_chosen(tmp_path):
    text = f"cert_url,vendor\n{url(1)},\n{url(2)},Acme\n"

    without = dry_run(tmp_path, text)
    with_default = dry_run(tmp_path, text, default_vendor="House  List")

    assert errors(without) == [
        (2, "vendor", "No vendor: add a vendor column or choose a vendor for the file.")
    ]
    assert [o.vendor for o in with_default.importer.outcomes] == ["House List", "Acme"]


def test_a_file_without_a_vendor_column_says_so_up_front(tmp_path):
    report = dry_run(tmp_path, f"cert_url\n{url(1)}\n")

    assert any("No vendor column" in p for p in report.problems)
    assert report.counts.rejected == 1


def test_a_file_without_a_certificate_column_rejects_every_row_and_says_why(tmp_path):
    report = dry_run(tmp_path, "email,vendor\njane@example.com,Acme\njoe@example.com,Acme\n")

    assert any("No certificate URL column" in p for p in report.problems)
    assert errors(report) == [
        (2, "cert_url", "The file has no certificate URL column."),
        (3, "cert_url", "The file has no certificate URL column."),
    ]


def test_formula_like_cells_are_kept_as_plain_data(tmp_path):
    text = f"cert_url,vendor,reference\n{url(1)},Acme,@SUM(1)\n{url(2)},Acme,-2\n"

    report = uploads.import_file(write(tmp_path, text), source=ImportBatch.Source.CSV)[1]

    assert report.counts.new == 2
    assert sorted(Certificate.objects.values_list("reference", flat=True)) == ["-2", "@SUM(1)"]


def test_a_vendor_named_like_a_formula_is_rejected_with_why_and_nothing_is_created(tmp_path):
    text = f"cert_url,vendor\n{url(1)},\"=cmd|' /C calc'!A0\"\n{url(2)},+1\n{url(3)},Acme\n"

    report = uploads.import_file(write(tmp_path, text), source=ImportBatch.Source.CSV)[1]

    assert errors(report) == [(2, "vendor", FORMULA_LIKE_NAME), (3, "vendor", FORMULA_LIKE_NAME)]
    assert list(Vendor.objects.values_list("name", flat=True)) == ["Acme"]
    assert list(Certificate.objects.values_list("cert_id", flat=True)) == [f"{3:040x}"]


def test_a_file_of_bare_urls_needs_no_header(tmp_path):
    report = dry_run(tmp_path, f"{url(1)}\n{url(2)}\n", default_vendor="Acme")

    assert report.columns.has_header is False
    assert outcomes(report) == [(1, "new"), (2, "new")]
    assert "No header row found" in report.problems[0]


def test_line_numbers_count_physical_lines_and_skip_blank_ones(tmp_path):
    text = (
        f'cert_url,vendor,reference\n\n{url(1)},Acme,"two\nlines"\n{url(2)},Acme,x\n,,\nhttp://bad,Acme,y\n'
    )

    report = dry_run(tmp_path, text)

    assert outcomes(report) == [(3, "new"), (5, "new"), (7, "rejected")]
    assert report.blank_lines == 2


def test_the_same_certificate_twice_in_a_file_is_one_duplicate(tmp_path):
    text = f"cert_url,vendor\n{url(1)},Acme\n{url(1).upper().replace('HTTPS://CERT.TRUSTEDFORM.COM', 'https://cert.trustedform.com')},acme\n"

    report = dry_run(tmp_path, text)

    assert outcomes(report) == [(2, "new"), (3, "duplicate")]


def test_the_same_certificate_from_another_vendor_in_a_file_is_reused(tmp_path):
    report = dry_run(tmp_path, f"cert_url,vendor\n{url(1)},Acme\n{url(1)},Bolt\n")

    assert outcomes(report) == [(2, "new"), (3, "reused")]


def test_a_known_certificate_is_a_duplicate_or_reused_by_vendor(tmp_path):
    make_certificate(url(1), vendor=make_vendor("Acme"))
    make_certificate(url(2), vendor=make_vendor("Acme"))

    report = dry_run(tmp_path, f"cert_url,vendor\n{url(1)},ACME\n{url(2)},Bolt\n{url(3)},Bolt\n")

    assert outcomes(report) == [(2, "duplicate"), (3, "reused"), (4, "new")]


def test_a_dry_run_saves_nothing(tmp_path):
    dry_run(tmp_path, f"cert_url,vendor\n{url(1)},Acme\nhttp://bad,Acme\n")

    assert not Certificate.objects.exists()
    assert not ImportBatch.objects.exists()
    assert not ImportRowError.objects.exists()


def test_importing_saves_good_rows_reports_bad_ones_and_counts_them_on_the_batch(tmp_path):
    make_certificate(url(1), vendor=make_vendor("Acme"))
    text = (
        "cert_url,vendor,email,phone,lead_id,created_at\n"
        f"{url(1)},Bolt,,,,\n"  # reused
        f"{url(2)},Acme,jane@example.com,(513) 555-6719,L-2,2024-05-01 12:00\n"  # new
        f"{url(2)},Acme,,,,\n"  # duplicate
        "http://cert.trustedform.com/abc,Acme,,,,\n"  # rejected
    )

    batch, report = uploads.import_file(
        write(tmp_path, text), source=ImportBatch.Source.CSV, filename="a.csv"
    )

    assert (batch.total_rows, batch.accepted, batch.duplicates, batch.reused, batch.rejected) == (
        4,
        1,
        1,
        1,
        1,
    )
    new = Certificate.objects.get(cert_id=f"{2:040x}")
    assert (new.batch, new.vendor.name, new.reference) == (batch, "Acme", "L-2")
    assert (new.email_normalised, new.phone_normalised) == ("jane@example.com", "5135556719")
    assert new.lead_created_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert new.claim_deadline == new.lead_created_at + CLAIM_WINDOW
    assert Certificate.objects.get(cert_id=f"{1:040x}").reused is True
    [row_error] = batch.row_errors.all()
    assert (row_error.line, row_error.field, row_error.value) == (
        5,
        "cert_url",
        "http://cert.trustedform.com/abc",
    )
    assert "https://" in row_error.reason


def test_a_row_without_a_lead_time_gets_72_hours_from_receipt(tmp_path):
    uploads.import_file(
        write(tmp_path, f"cert_url,vendor,email\n{url(1)},Acme,jane@example.com\n"),
        source=ImportBatch.Source.CSV,
    )

    certificate = Certificate.objects.get()
    assert certificate.state == Certificate.State.PENDING
    assert certificate.claim_deadline == certificate.received_at + CLAIM_WINDOW
    assert certificate.next_attempt_at <= timezone.now()


def test_duplicates_across_chunks_are_found_in_the_database(tmp_path):
    rows = [(f"{n % 4}", "Acme" if n < 8 else "Bolt") for n in range(10)]
    batch = ImportBatch.objects.create(source=ImportBatch.Source.CSV)
    lead_importer = importer.LeadImporter(batch=batch, chunk_size=3)

    for line, (n, vendor) in enumerate(rows, start=2):
        lead_importer.add(line, {"cert_url": url(int(n)), "vendor": vendor})
    counts = lead_importer.finish()

    assert (counts.new, counts.duplicates, counts.reused) == (4, 4, 2)
    assert Certificate.objects.filter(batch=batch).count() == 4
    assert Certificate.objects.filter(reused=True).count() == 2
    batch.refresh_from_db()
    assert (batch.accepted, batch.duplicates, batch.reused) == (4, 4, 2)


def test_importing_wakes_the_claim_worker_after_commit(tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        uploads.import_file(write(tmp_path, f"cert_url,vendor\n{url(1)},Acme\n"), source="csv")

    assert callbacks == [worker.wake_claimer]


def test_a_file_with_only_rejected_rows_wakes_nobody(tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        uploads.import_file(write(tmp_path, "cert_url,vendor\nhttp://x,Acme\n"), source="csv")

    assert callbacks == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01 12:30:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T08:30:00-04:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("05/01/2024 12:30", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("5/1/2024 12:30:00 PM", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("05/01/2024", datetime(2024, 5, 1, tzinfo=UTC)),
        ("Wed, 01 May 2024 12:30:00 +0000", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("1714566600", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("1714566600000", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_it_reads_lead_times_leniently_as_utc_when_naive(text, expected):
    assert leads.parse_lead_time(text) == expected


def test_a_lead_time_a_little_ahead_is_fine_but_a_day_ahead_is_not():
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    assert leads.parse_lead_time("2024-05-01 12:10", now=now) == now + timedelta(minutes=10)
    with pytest.raises(ValueError, match="in the future"):
        leads.parse_lead_time("2024-05-02 12:00", now=now)


def test_a_url_only_row_is_kept_on_hold_with_its_reason_and_never_sent(tmp_path, settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    path = write(tmp_path, f"cert_url,vendor\n{url(1)},Acme\n{url(2)},Acme\n")

    report = uploads.dry_run_file(path)
    uploads.import_file(path, source=ImportBatch.Source.CSV)

    assert (report.counts.new, report.counts.held) == (2, 2)
    assert "needs the lead's email or phone" in report.importer.outcomes[0].note
    held = Certificate.objects.get(cert_id=url(1).rsplit("/", 1)[1])
    assert held.state == Certificate.State.HELD and "Nothing was sent" in held.state_reason
    assert not Certificate.objects.due().exists()  # the worker never takes it

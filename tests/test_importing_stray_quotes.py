"""A stray quote in a lead file is one rejected line, never the rest of the file swallowed into one cell;
and whatever the file holds, the dry run accounts for every one of its lines."""

import io

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certificates.intake import csvfile
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

HEADER = "cert_url,email,vendor,notes\n"


def url(n: int) -> str:
    return f"https://cert.trustedform.com/{n:040x}"


def row(n: int, vendor: str = "Acme", notes: str = "") -> str:
    return f"{url(n)},lead{n}@example.com,{vendor},{notes}\n"


def read(tmp_path, text: str) -> csvfile.CsvReport:
    path = tmp_path / "leads.csv"
    path.write_bytes(text.encode())
    return csvfile.read_csv(path)


def physical_lines(text: str) -> int:
    return len(io.StringIO(text, newline="").readlines())


# Line 1 the header, lines 2-10 the rows; line 3 opens a quote that nothing closes.
STRAY_TO_THE_END = HEADER + row(2) + row(3, vendor='"Acme special') + "".join(row(n) for n in range(4, 11))


def test_a_quote_never_closed_rejects_its_line_and_the_rows_after_it_are_read(tmp_path):
    report = read(tmp_path, STRAY_TO_THE_END)

    assert (report.counts.new, report.counts.rejected, report.counts.total) == (8, 1, 9)
    [rejected] = report.importer.rejected
    assert rejected.line == 3
    [error] = rejected.errors
    assert "quote" in error.reason and "to the end of the file (lines 4–10)" in error.reason
    assert '"Acme special' in error.value
    assert sorted(o.line for o in report.importer.outcomes) == list(range(2, 11))
    assert report.lines == physical_lines(STRAY_TO_THE_END) == 10


def test_a_quote_closed_by_a_later_quoted_cell_swallows_nothing(tmp_path):
    text = HEADER + row(2, vendor='"Acme special') + row(3) + row(4, vendor='"Beta, Inc"') + row(5)

    report = read(tmp_path, text)

    assert [(o.line, o.status) for o in report.importer.outcomes] == [
        (2, "rejected"),
        (3, "new"),
        (4, "new"),
        (5, "new"),
    ]
    assert "lines 3–4" in report.importer.rejected[0].errors[0].reason
    assert report.importer.outcomes[2].vendor == "Beta, Inc"


def test_a_properly_quoted_cell_may_hold_line_breaks(tmp_path):
    text = HEADER + row(2, notes='"called twice\nno answer\r\nleft a message"') + row(3)

    report = read(tmp_path, text)

    assert (report.counts.new, report.counts.rejected) == (2, 0)
    assert [o.line for o in report.importer.outcomes] == [2, 5]
    assert report.continued_lines == 2
    assert report.lines == physical_lines(text) == 5


def test_an_overlong_cell_rejects_its_line_and_reads_the_next(tmp_path):
    text = HEADER + row(2, notes='"' + "x" * 200_000) + row(3)

    report = read(tmp_path, text)

    assert [(o.line, o.status) for o in report.importer.outcomes] == [(2, "rejected"), (3, "new")]
    assert report.lines == 3


def test_the_dry_run_page_shows_the_stray_quote_and_counts_every_line(client, settings, tmp_path):
    settings.INTAKE_UPLOAD_DIR = tmp_path / "uploads"
    user = make_user("analyst")
    client.login(username=user.username, password=PASSWORD)

    response = client.post(
        reverse("intake:import"),
        {"text": STRAY_TO_THE_END, "vendor": ""},
        follow=True,
    )

    page = response.content.decode()
    assert response.context["report"].counts.total == 9
    assert 'data-testid="count-new">8<' in page and 'data-testid="count-rejected">1<' in page
    assert 'data-testid="count-lines">10<' in page
    assert "swallowed every line to the end of the file (lines 4–10)" in page


# Cells built from what breaks CSV readers: quotes, separators and line breaks, among plain text.
CELL = st.text(alphabet=st.sampled_from(list('ab9 "",;\t\r\n')), max_size=12)
LINE_END = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def raw_files(draw) -> str:
    """A header and rows joined by hand, not by csv.writer, so quotes may be stray and cells unquoted."""
    rows = draw(
        st.lists(
            st.one_of(
                st.builds(
                    lambda n, v, notes: f"{url(n)},x@example.com,{v},{notes}", st.integers(1, 99), CELL, CELL
                ),
                CELL,
            ),
            max_size=15,
        )
    )
    ends = [draw(LINE_END) for _ in range(len(rows) + 1)]
    text = "".join(line + end for line, end in zip(["cert_url,email,vendor,notes", *rows], ends, strict=True))
    return text if draw(st.booleans()) else text.rstrip("\r\n")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=raw_files())
def test_every_line_of_any_file_is_accounted_for_once(tmp_path, text):
    report = read(tmp_path, text)

    counts = report.counts
    assert counts.total == counts.new + counts.duplicates + counts.reused + counts.rejected
    assert report.lines == physical_lines(text)
    lines = [o.line for o in report.importer.outcomes]
    assert len(lines) == len(set(lines)) == counts.total
    assert all(1 <= line <= physical_lines(text) for line in lines)

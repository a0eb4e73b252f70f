"""Reading a CSV file row by row: its encoding, its delimiter, its header, and every line it cannot read."""

from __future__ import annotations

import codecs
import csv
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from certificates.intake.importer import SHOWN_REJECTIONS, ImportCounts, LeadImporter, RowOutcome, truncate
from certificates.intake.leads import HEADERLESS_FIELDS, ColumnMap, FieldError, looks_like_header
from certificates.models import (
    ImportBatch,
)

# --- Reading CSV files -----------------------------------------------------------------------------

DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
SNIFF_BYTES = 64 * 1024


@dataclass
class CsvReport:
    """A read file: how it was decoded and split, which columns mean what, and what each row does."""

    encoding: str = "utf-8"
    encoding_note: str = ""
    delimiter: str = ","
    columns: ColumnMap | None = None
    blank_lines: int = 0
    continued_lines: int = 0  # lines inside a quoted cell that holds a line break (a notes column, say)
    partial: bool = False  # a large file's dry run: only the first lines were read
    importer: LeadImporter | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def counts(self) -> ImportCounts:
        return self.importer.counts if self.importer else ImportCounts()

    @property
    def lines(self) -> int:
        """The lines read, each one accounted for: header, rows, blank lines and continued cells."""
        header = 1 if self.columns is not None and self.columns.has_header else 0
        return header + self.counts.total + self.blank_lines + self.continued_lines

    @property
    def delimiter_name(self) -> str:
        return DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))


def detect_encoding(path: Path) -> tuple[str, str]:
    """(codec, note): UTF-8 with or without a BOM, else Windows-1252, checked over the whole file."""
    with path.open("rb") as raw:
        bom = raw.read(3) == codecs.BOM_UTF8
        raw.seek(3 if bom else 0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := raw.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            note = (
                f"The file is not valid UTF-8 ({exc.reason}); it was read as Windows-1252 (cp1252). "
                "Check accented names before importing."
            )
            return "cp1252", note
    return ("utf-8-sig", "UTF-8 with a byte-order mark.") if bom else ("utf-8", "UTF-8.")


def sniff_delimiter(sample: str) -> str:
    """The separator of the header line: whichever of , ; tab it holds most (comma on a tie)."""
    first_line = next((line for line in sample.splitlines() if line.strip()), "")
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(
    path: Path,
    *,
    default_vendor: str = "",
    batch: ImportBatch | None = None,
    on_rejected: Callable[[RowOutcome], None] | None = None,
    keep_rejected: int | None = SHOWN_REJECTIONS,
    last_line: int | None = None,
    new_vendors: Iterable[str] | None = None,
) -> CsvReport:
    """Read a CSV file row by row into a LeadImporter: a dry run without a batch, the import with one.

    With `last_line`, no row starting after that line is read, and the report says it is partial.
    Raises OSError when the file cannot be opened; everything wrong inside the file is reported.
    """
    report = CsvReport()
    report.encoding, report.encoding_note = detect_encoding(path)
    importer = LeadImporter(
        batch=batch,
        default_vendor=default_vendor,
        on_rejected=on_rejected,
        keep_rejected=keep_rejected,
        new_vendors=new_vendors,
    )
    report.importer = importer
    with path.open(encoding=report.encoding, errors="replace", newline="") as stream:
        report.delimiter = sniff_delimiter(stream.read(SNIFF_BYTES))
        stream.seek(0)
        for line, cells in _csv_rows(stream, report.delimiter, report, importer, last_line):
            if report.columns is None:
                if looks_like_header(cells):
                    report.columns = ColumnMap.from_header(cells)
                    _note_missing_columns(report, default_vendor)
                    continue
                report.columns = ColumnMap.headerless(min(len(cells), len(HEADERLESS_FIELDS)))
                report.problems.append(
                    "No header row found: the first column is read as the certificate URL"
                    + (", then email, phone and reference." if len(cells) > 1 else ".")
                )
            importer.add(line, report.columns.values(cells))
    importer.finish()
    return report


class _Lines:
    """The file's lines as csv.reader pulls them, remembering which ones the current row came from, so
    that the lines an unclosed quote swallowed can be put back and read again."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._number = 0
        self._replay: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []
        self.at_end = False

    def __iter__(self) -> _Lines:
        return self

    @property
    def next_line(self) -> int:
        return self._replay[0][0] if self._replay else self._number + 1

    def more(self) -> bool:
        """Whether any line is left (read ahead and kept for the next row)."""
        if not self._replay:
            text = self._stream.readline()
            if not text:
                return False
            self._number += 1
            self._replay.append((self._number, text))
        return True

    def __next__(self) -> str:
        if self._replay:
            item = self._replay.popleft()
        else:
            text = self._stream.readline()
            if not text:
                self.at_end = True
                raise StopIteration
            self._number += 1
            item = (self._number, text)
        self.taken.append(item)
        return item[1]

    def take(self) -> list[tuple[int, str]]:
        taken, self.taken = self.taken, []
        return taken

    def replay(self, lines: list[tuple[int, str]]) -> None:
        self._replay.extendleft(reversed(lines))
        self.at_end = False


def _unclosed_quote(lines: list[tuple[int, str]], delimiter: str, *, to_the_end: bool) -> str:
    """Why a row that runs over several lines is a stray quote, or "" when its quotes are balanced.

    A cell may hold a line break when it is quoted and closed (a notes column); a quote that is never
    closed, or closed in the middle of a cell, has swallowed the rows on the lines after it.
    """
    try:
        for _ in csv.reader((text for _, text in lines), delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        first, last = lines[1][0], lines[-1][0]
        swallowed = "every line to the end of the file" if to_the_end else "the lines after it"
        return (
            f'A quote (") opens a cell on this line and is not closed on it, so the cell swallowed '
            f"{swallowed} (lines {first}–{last}). Remove the stray quote or close it; "
            "those lines are read on their own."
        )
    return ""


def _csv_rows(
    stream: IO[str], delimiter: str, report: CsvReport, importer: LeadImporter, last_line: int | None = None
) -> Iterator[tuple[int, list[str]]]:
    """(first line of the row, cells) for each non-blank row; unreadable rows go to the importer.

    Every line ends up counted once: as a row (read or rejected), a blank line, or a line inside a
    properly quoted cell. A stray quote is rejected on its own line and the lines it swallowed are read again.
    """
    lines = _Lines(stream)
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        if last_line is not None and lines.next_line > last_line and lines.more():
            report.partial = True
            return
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            taken = lines.take()
            reason = f"This row cannot be read as CSV: {exc}."
            importer.reject(taken[0][0], [FieldError("", reason, truncate(taken[0][1].rstrip("\r\n")))])
            lines.replay(taken[1:])
            continue
        taken = lines.take()
        if len(taken) > 1 and (reason := _unclosed_quote(taken, delimiter, to_the_end=lines.at_end)):
            importer.reject(taken[0][0], [FieldError("", reason, truncate(taken[0][1].rstrip("\r\n")))])
            lines.replay(taken[1:])
            continue
        report.continued_lines += len(taken) - 1
        if not any(cell.strip() for cell in cells):
            report.blank_lines += 1
            continue
        yield taken[0][0], cells


def _note_missing_columns(report: CsvReport, default_vendor: str) -> None:
    assert report.columns is not None  # called once the header is read
    missing = report.columns.missing
    if "cert_url" in missing:
        report.problems.append(
            "No certificate URL column: name one trustedform_cert_url, xxTrustedFormCertUrl, cert_url, "
            "certificate_url or trustedform_url. Every row is rejected until then."
        )
    if "vendor" in missing and not default_vendor:
        report.problems.append(
            "No vendor column (vendor, source or vendor_name), and no vendor was chosen for the file: "
            "every row is rejected until you choose one."
        )

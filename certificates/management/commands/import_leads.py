"""Import a CSV of leads from a script: the same reading, checks and counts as the upload page."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from certificates.intake import csvfile, importer, uploads
from certificates.models import ImportBatch


class Command(BaseCommand):
    help = (
        "Import leads from a CSV file (the upload page's columns). Prints the counts and every rejected "
        "row. Exits 0 when the file was read, even with rejected rows; 1 when it could not be read."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="the CSV file")
        parser.add_argument("--vendor", default="", help="vendor for rows that do not name one")
        parser.add_argument("--dry-run", action="store_true", help="check every row, save nothing")

    def handle(self, *args, file: Path, vendor: str, dry_run: bool, **options) -> None:
        vendor = " ".join(vendor.split())
        try:
            if dry_run:
                report = csvfile.read_csv(
                    file, default_vendor=vendor, on_rejected=self._print, keep_rejected=0
                )
                batch = None
            else:
                batch, report = uploads.import_file(
                    file,
                    source=ImportBatch.Source.COMMAND,
                    filename=file.name,
                    default_vendor=vendor,
                    on_rejected=self._print,
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from None
        for problem in report.problems:
            self.stderr.write(problem)
        counts = report.counts
        self.stdout.write(
            f"{'Dry run, nothing saved: ' if dry_run else ''}{counts.total} rows: {counts.new} new, "
            f"{counts.duplicates} duplicates, {counts.reused} reused, {counts.rejected} rejected"
            + (f" (batch {batch.pk})" if batch else "")
        )

    def _print(self, row: importer.RowOutcome) -> None:
        for error in row.errors:
            self.stdout.write(f"line {row.line}: {error.field or 'row'}: {error.reason}")

"""Anonymise certificates past RETENTION_YEARS after their last claim that are on no legal hold."""

from django.core.management.base import BaseCommand

from certificates.evidence import retention


class Command(BaseCommand):
    help = (
        "Anonymise the lead (email, phone, reference) and blank the API-call bodies and raw claim answers of "
        "certificates whose last claim is older than RETENTION_YEARS, unless a legal hold is on them. The "
        "API-call log still verifies afterwards. The scheduler runs this daily."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")

    def handle(self, *args, dry_run: bool, **options) -> None:
        run = retention.apply_retention(dry_run=dry_run)
        self.stdout.write(retention.describe(run))

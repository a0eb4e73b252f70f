"""Walk the API-call log's hash chain and name the first row that was altered or removed."""

from django.core.management.base import BaseCommand, CommandError

from tfdash import audit
from tfdash.models import ApiLogVerification


class Command(BaseCommand):
    help = "Check that no API-call log row was altered or removed since it was written (exit 1 if one was)."

    def handle(self, *args, **options) -> None:
        # Recorded like a check asked for on the audit page, which shows the last one.
        result = audit.run_verification(ApiLogVerification.objects.create(trigger="command"))
        if result.state != ApiLogVerification.State.INTACT:
            raise CommandError(f"API-call log broken after {result.rows} good rows: {result.problem}")
        self.stdout.write(f"API-call log intact: {result.rows} rows")
        if result.rows:
            self.stdout.write(f"Head hash: {result.head_hash} (keep it elsewhere to pin the log as of now)")

"""Walk the API-call log's hash chain and name the first entry that was altered or removed."""

import re

from django.core.management.base import BaseCommand, CommandError

from tfdash import audit
from tfdash.models import ApiLogVerification

HEAD = re.compile(r"^(\d+):([0-9a-f]{64})$")


class Command(BaseCommand):
    help = (
        "Check that no API-call log entry was altered or removed since it was written, and that claims and "
        "check-ins agree with the calls they came from (exit 1 if not)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--expect",
            metavar="SEQ:HASH",
            help="a head printed earlier and kept elsewhere: fail unless the log still extends it",
        )

    def handle(self, *args, expect: str | None, **options) -> None:
        expected = None
        if expect:
            match = HEAD.match(expect.strip().lower())
            if match is None:
                raise CommandError("--expect takes SEQ:HASH as printed by verify_api_log, e.g. 42:9f86d0…")
            expected = (int(match[1]), match[2])
        # Recorded like a check asked for on the audit page, which shows the last one.
        result = audit.run_verification(ApiLogVerification.objects.create(trigger="command"), expect=expected)
        if not result.intact:
            raise CommandError(f"API-call log broken after {result.rows} good rows: {result.problem}")
        self.stdout.write(f"API-call log intact: {result.rows} rows")
        if expected:
            self.stdout.write(f"It still extends the head {expected[0]}:{expected[1]}.")
        if result.head_seq:
            self.stdout.write(
                f"Head: {result.head} (keep it elsewhere; --expect it later to pin the log as of now)"
            )

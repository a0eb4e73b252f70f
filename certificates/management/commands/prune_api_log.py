"""Blank request/response bodies older than API_LOG_BODY_RETENTION_DAYS; the hash chain stays valid."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from certificates.apilog import pruning


class Command(BaseCommand):
    help = (
        "Blank the request and response bodies of API calls older than API_LOG_BODY_RETENTION_DAYS. "
        "The rows, their body digests and the hash chain stay."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="say what would be pruned, change nothing")

    def handle(self, *args, dry_run: bool, **options) -> None:
        days = settings.API_LOG_BODY_RETENTION_DAYS
        before = timezone.now() - timedelta(days=days)
        result = pruning.prune_bodies(before=before, dry_run=dry_run)
        verb = "Would blank" if dry_run else "Blanked"
        self.stdout.write(
            f"{verb} the bodies of {result.rows} API calls made before {before:%Y-%m-%d %H:%M} UTC "
            f"(retention {days} days)."
        )

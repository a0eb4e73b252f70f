"""Recount every vendor's daily rollups from the certificate rows."""

import time

from django.core.management.base import BaseCommand

from certificates.reports import rollups


class Command(BaseCommand):
    help = (
        "Recount the vendor reports' daily rollups from scratch. Not needed in normal running: database "
        "triggers mark what changes and the worker refreshes it. Use it after restoring a backup or "
        "after changing how a rollup is counted."
    )

    def handle(self, *args, **options) -> str:
        started = time.monotonic()
        made = rollups.rebuild()
        return f"Rebuilt {made:,} vendor-day rollups in {time.monotonic() - started:.1f} s."

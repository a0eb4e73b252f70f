from typing import Any

from django.core.management.base import BaseCommand

from sandbox.bootstrap import prepare_store


class Command(BaseCommand):
    help = "Create or migrate the sandbox's own SQLite store (SANDBOX_DB_PATH, default var/sandbox.sqlite3)."

    def handle(self, *args: object, **options: Any) -> None:
        path = prepare_store(verbosity=int(options.get("verbosity", 1)))
        self.stdout.write(f"Sandbox store ready at {path}")

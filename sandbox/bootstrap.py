"""Creating and migrating the sandbox's SQLite store."""

from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from sandbox import state as sandbox_state


def prepare_store(verbosity: int = 0) -> Path:
    """Create the store's directory, apply migrations and seed the state row; returns the file's path."""
    path = Path(settings.DATABASES["default"]["NAME"])
    path.parent.mkdir(parents=True, exist_ok=True)
    call_command("migrate", "sandbox", verbosity=verbosity, interactive=False)
    sandbox_state.load()
    return path

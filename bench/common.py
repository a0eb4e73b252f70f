"""What every bench shares: its own database on the engine asked for, and its size.

- `BENCH_DB=postgres` (set by `make bench DB=postgres`, inside scripts/with-postgres): each bench gets
  its own database on that throwaway server, created fresh; `bench/run.py` prints its figures with a
  `pg_` prefix. Otherwise each bench gets its own SQLite file in the temp directory, so the order of
  the benches never matters.
- `BENCH_SMOKE=1` (set by `make test`): every size is tiny, every database fresh: seconds per bench,
  to prove each still runs; its figures are printed but mean nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
POSTGRES = os.environ.get("BENCH_DB") == "postgres"
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def size(full: int, smoke: int) -> int:
    return smoke if SMOKE else full


def use_database(name: str, *, cached: bool = True) -> bool:
    """Point Django (not set up yet) at this bench's own database; True when it is new (to fill).

    SQLite: `tfdash-bench-<name>.sqlite3` in the temp directory, kept between runs when `cached` (a big
    generated data set is made once); PostgreSQL: database `bench_<name>` on the server of DATABASE_URL,
    dropped and made again (the server itself is thrown away after the run)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    tag = f"{name}{'-smoke' if SMOKE else ''}"
    if POSTGRES:
        import psycopg

        server = os.environ["DATABASE_URL"]
        database = "bench_" + tag.replace("-", "_")
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}"')
            connection.execute(f'CREATE DATABASE "{database}"')
        parts = urlsplit(server)
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{database}"))
        return True
    db = Path(tempfile.gettempdir()) / f"tfdash-bench-{tag}.sqlite3"
    ready = db.with_suffix(".ready")
    if SMOKE or not cached or not ready.exists():
        for stale in (db, ready, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            stale.unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    return not ready.exists()


def mark_filled(name: str) -> None:
    """Remember that the SQLite data set of `name` is complete (an interrupted fill is made again)."""
    if not POSTGRES and not SMOKE:
        (Path(tempfile.gettempdir()) / f"tfdash-bench-{name}.ready").touch()


def setup_django() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

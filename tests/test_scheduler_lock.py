"""One scheduler sweeps at a time on PostgreSQL (an advisory lock), and one that has finished lets the next."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from certificates.management.commands.run_scheduler import ADVISORY_LOCK_ID
from tests.support.databases import subprocess_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[1]


def sweep_in_another_process() -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": subprocess_database_url(),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "run_scheduler", "--once"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_second_scheduler_does_not_sweep_while_the_first_holds_the_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_ID])
    try:
        result = sweep_in_another_process()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_ID])

    assert "Another scheduler holds the sweep lock; not sweeping." in result.stderr


def test_a_scheduler_that_finished_in_a_long_lived_process_lets_the_next_one_sweep():
    # call_command runs on this process's database session, which outlives the command.
    call_command("run_scheduler", "--once", stdout=io.StringIO())

    result = sweep_in_another_process()

    assert result.returncode == 0, result.stderr
    assert "Another scheduler holds the sweep lock" not in result.stderr

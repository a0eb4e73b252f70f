"""Rows logged before the chain existed are numbered and hashed by the migration that adds it."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from certificates import apilog

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("certificates", "0003_workspace_indexes")]
AFTER = [("certificates", "0005_api_log_seq_unique")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_the_migration_chains_existing_rows_in_the_order_they_were_made():
    old_apps = migrate(BEFORE)
    OldApiCall = old_apps.get_model("certificates", "ApiCall")
    now = timezone.now()
    made = [
        OldApiCall.objects.create(
            created_at=now - timezone.timedelta(minutes=m),
            trigger="worker",
            operation="claim",
            method="POST",
            url=f"https://cert.trustedform.com/{m:040x}",
            request_body="{}",
            status=201,
            response_body='{"outcome": "success"}',
            outcome="ok",
        )
        for m in (3, 1, 2)  # ids 1, 2, 3; made in the order id 1, id 3, id 2
    ]
    try:
        new_apps = migrate(AFTER)
        ApiCall = new_apps.get_model("certificates", "ApiCall")
        ApiLogHead = new_apps.get_model("certificates", "ApiLogHead")
        order = list(ApiCall.objects.order_by("seq").values_list("id", flat=True))
        result = apilog.verify()
        last = ApiCall.objects.get(seq=3)
    finally:
        call_command("migrate", verbosity=0)  # leave the schema as the other tests expect it

    assert order == [made[0].pk, made[2].pk, made[1].pk]
    assert result.intact and result.rows == 3, result.problem
    assert ApiLogHead.objects.get().last_hash == last.row_hash

"""Rows logged before the chain existed are numbered and hashed by the migration that adds it."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from certificates.apilog import chain, verification
from certificates.models import ApiCall

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
        last = ApiCall.objects.get(seq=3)
    finally:
        call_command("migrate", verbosity=0)  # leave the schema as the other tests expect it
    # Verified by today's code, on today's schema: rows chained then keep their whole-row hash.
    result = verification.verify()

    assert order == [made[0].pk, made[2].pk, made[1].pk]
    assert result.intact and result.rows == 3, result.problem
    assert ApiLogHead.objects.get().last_hash == last.row_hash


def test_rows_pruned_before_pruning_was_chained_get_a_pruning_entry_and_still_verify():
    old_apps = migrate([("certificates", "0010_intake_rate_window")])
    OldApiCall = old_apps.get_model("certificates", "ApiCall")
    OldApiLogHead = old_apps.get_model("certificates", "ApiLogHead")
    pruned_at, prev, seq = timezone.now(), chain.GENESIS, 0
    for minutes in (90, 60, 30):
        seq += 1
        call = OldApiCall(
            created_at=pruned_at - timezone.timedelta(days=400, minutes=minutes),
            trigger="worker",
            operation="claim",
            method="POST",
            url="https://cert.trustedform.com/x",
            request_body="{}",
            status=200,
            response_body='{"outcome": "success"}',
            outcome="ok",
            seq=seq,
            prev_hash=prev,
        )
        call.body_sha256 = chain.body_digest(call.request_body, call.response_body)
        call.row_hash = chain.compute_row_hash(call)
        call.request_body = call.response_body = ""  # pruned the old way: only the flag said so
        call.bodies_pruned_at = pruned_at if minutes > 30 else None
        if call.bodies_pruned_at is None:
            call.request_body, call.response_body = "{}", '{"outcome": "success"}'
        call.save(force_insert=True)
        prev = call.row_hash
    OldApiLogHead.objects.create(pk=1, last_seq=seq, last_hash=prev)
    call_command("migrate", verbosity=0)

    result = verification.verify()
    entry = ApiCall.objects.get(operation=chain.PRUNE_OPERATION)

    assert result.intact and result.rows == 4, result.problem
    assert entry.seq == 4 and '"rows": 2' in entry.request_body

"""The API-call log is a hash chain: append-only, and a row altered or removed behind its back is named."""

import io
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from certificates.apilog import chain
from certificates.apilog.models import append_api_call
from certificates.models import ApiCall, ApiLogHead, AppendOnlyError
from tests.factories import make_certificate, make_user

pytestmark = pytest.mark.django_db


def log_calls(n: int, **fields) -> list[ApiCall]:
    certificate = make_certificate()
    return [
        append_api_call(
            certificate=certificate,
            trigger="test",
            operation="claim",
            method="POST",
            url=certificate.cert_url,
            request_body=f'{{"attempt": {i}}}',
            status=200,
            response_body='{"outcome": "success"}',
            duration_ms=120 + i,
            outcome=ApiCall.Outcome.OK,
            **fields,
        )
        for i in range(n)
    ]


def verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_api_log", stdout=out)
    except CommandError as exc:
        return 1, str(exc)
    return 0, out.getvalue()


def raw_sql(sql: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("TABLE", ApiCall._meta.db_table), params)


def test_each_request_and_answer_is_chained_to_the_entry_before():
    calls = log_calls(3)

    assert [(c.seq, c.answer_seq) for c in calls] == [(1, 2), (3, 4), (5, 6)]
    assert calls[0].prev_hash == chain.GENESIS
    assert calls[0].answer_prev_hash == calls[0].row_hash
    assert calls[1].prev_hash == calls[0].answer_hash and calls[2].prev_hash == calls[1].answer_hash
    assert len({c.row_hash for c in calls} | {c.answer_hash for c in calls}) == 6
    assert ApiLogHead.objects.get().last_hash == calls[2].answer_hash
    assert verify() == (
        0,
        f"API-call log intact: 3 rows\nHead: 6:{calls[2].answer_hash} "
        "(keep it elsewhere; --expect it later to pin the log as of now)\n",
    )


def test_an_empty_log_is_intact():
    assert verify() == (0, "API-call log intact: 0 rows\n")


@pytest.mark.parametrize(
    ("column", "value"), [("status", 201), ("error", "hidden"), ("created_at", "2020-01-01 00:00:00")]
)
def test_a_row_changed_with_raw_sql_is_named(column, value):
    calls = log_calls(5)

    raw_sql(f"UPDATE TABLE SET {column} = %s WHERE id = %s", value, calls[2].pk)

    code, message = verify()
    assert code == 1
    assert (
        f"(the {'request of' if column == 'created_at' else 'answer to'} API call id {calls[2].pk}, claim at"
        in message
    )
    assert "was altered: its fields no longer match its hash" in message
    assert "after 2 good rows" in message


def test_a_changed_body_is_named():
    calls = log_calls(3)

    raw_sql("UPDATE TABLE SET response_body = %s WHERE id = %s", '{"outcome": "failure"}', calls[1].pk)

    code, message = verify()
    assert code == 1
    assert (
        f"entry #4 (the answer to API call id {calls[1].pk}" in message and "response body changed" in message
    )


def test_a_row_rehashed_by_someone_who_knows_the_algorithm_breaks_the_next_link():
    calls = log_calls(3)
    forged = ApiCall.objects.get(pk=calls[1].pk)
    forged.status = 500
    raw_sql(
        "UPDATE TABLE SET status = 500, answer_hash = %s WHERE id = %s",
        chain.compute_answer_hash(forged),
        forged.pk,
    )

    code, message = verify()

    assert code == 1
    assert f"entry #5 (the request of API call id {calls[2].pk}" in message
    assert f"does not follow entry #4 (the answer to API call id {calls[1].pk}" in message


def test_a_row_deleted_with_raw_sql_is_named():
    calls = log_calls(5)

    raw_sql("DELETE FROM TABLE WHERE id = %s", calls[1].pk)

    code, message = verify()
    assert code == 1
    assert "entries #3-#4 removed" in message
    assert f"jumps after entry #2 (the answer to API call id {calls[0].pk}" in message
    assert f"to entry #5 (the request of API call id {calls[2].pk}" in message


def test_rows_deleted_from_the_end_are_named():
    calls = log_calls(4)

    raw_sql("DELETE FROM TABLE WHERE id IN (%s, %s)", calls[2].pk, calls[3].pk)

    code, message = verify()
    assert code == 1
    assert "entries #5-#8 removed: the log ends at entry #4 (the answer to API call id" in message


def test_the_model_refuses_to_change_or_delete_a_logged_call():
    call = log_calls(1)[0]
    call.status = 500

    with pytest.raises(AppendOnlyError, match="append-only"):
        call.save()
    with pytest.raises(AppendOnlyError, match="cannot be deleted"):
        call.delete()
    with pytest.raises(AppendOnlyError):
        ApiCall.objects.filter(pk=call.pk).update(status=500)
    with pytest.raises(AppendOnlyError):
        ApiCall.objects.all().delete()
    assert ApiCall.objects.get().status == 200
    assert verify()[0] == 0


def test_a_plain_create_joins_the_chain_too():
    log_calls(1)
    ApiCall.objects.create(operation="view", method="GET", url="https://cert.trustedform.com/x", outcome="ok")

    assert (ApiCall.objects.order_by("seq").last().seq, ApiLogHead.objects.get().last_seq) == (3, 4)
    assert verify()[0] == 0


def test_deleting_a_certificate_or_user_with_logged_calls_is_refused():
    from django.db.models import ProtectedError

    user = make_user("analyst")
    call = log_calls(1, triggered_by=user)[0]

    with pytest.raises(ProtectedError):
        call.certificate.delete()
    with pytest.raises(ProtectedError):
        user.delete()


def test_the_admin_neither_adds_nor_changes_nor_deletes_calls(client, django_user_model):
    call = log_calls(1)[0]
    client.force_login(django_user_model.objects.create_superuser("root", password="x-long-password-1"))

    assert client.get(reverse("admin:certificates_apicall_changelist")).status_code == 200
    assert client.get(reverse("admin:certificates_apicall_add")).status_code == 403
    assert client.post(reverse("admin:certificates_apicall_delete", args=[call.pk])).status_code == 403
    response = client.post(reverse("admin:certificates_apicall_change", args=[call.pk]), {"status": 500})
    assert response.status_code == 403
    assert ApiCall.objects.get().status == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain():
    certificate = make_certificate()
    errors = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                append_api_call(
                    certificate=certificate,
                    trigger=f"thread {n}",
                    operation="claim",
                    method="POST",
                    url=certificate.cert_url,
                    request_body=str(i),
                    outcome="ok",
                    status=200,
                )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    entries = sorted(
        [
            *ApiCall.objects.values_list("seq", flat=True),
            *ApiCall.objects.values_list("answer_seq", flat=True),
        ]
    )
    assert entries == list(range(1, 81))
    code, message = verify()
    assert code == 0 and "API-call log intact: 40 rows" in message


def test_pruning_blanks_old_bodies_and_keeps_the_chain_valid(settings):
    settings.API_LOG_BODY_RETENTION_DAYS = 30
    old = log_calls(2, created_at=timezone.now() - timedelta(days=31))
    recent = log_calls(1, created_at=timezone.now() - timedelta(days=29))

    dry = io.StringIO()
    call_command("prune_api_log", "--dry-run", stdout=dry)
    assert ApiCall.objects.exclude(request_body="").count() == 3
    out = io.StringIO()
    call_command("prune_api_log", stdout=out)
    again = io.StringIO()
    call_command("prune_api_log", stdout=again)

    assert "Would blank the bodies of 2 API calls made before" in dry.getvalue()
    assert "(retention 30 days)" in dry.getvalue()
    assert "Blanked the bodies of 2 API calls" in out.getvalue()
    assert "Blanked the bodies of 0 API calls" in again.getvalue()
    for call in old:
        pruned = ApiCall.objects.get(pk=call.pk)
        assert (pruned.request_body, pruned.response_body) == ("", "")
        assert pruned.bodies_pruned_at is not None
        assert (pruned.request_sha256, pruned.response_sha256) == (call.request_sha256, call.response_sha256)
    assert ApiCall.objects.get(pk=recent[0].pk).request_body == '{"attempt": 0}'
    assert verify()[0] == 0


def test_a_pruned_row_still_shows_when_its_other_fields_change():
    log_calls(2, created_at=timezone.now() - timedelta(days=400))
    call_command("prune_api_log", stdout=io.StringIO())
    first = ApiCall.objects.get(seq=1)

    raw_sql("UPDATE TABLE SET outcome = 'error' WHERE id = %s", first.pk)

    assert "entry #2 (the answer to API call id" in verify()[1]

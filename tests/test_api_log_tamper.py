"""The API-call log against an insider who can write the database: what the pages show as TrustedForm's
answer is chained, pruning cannot launder a forged body, and the log can be neither emptied nor
shortened while claims refer to it. A head kept elsewhere pins the whole chain."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from certificates import checking_in, claiming
from certificates.apilog import chain, verification
from certificates.apilog import models as api_log
from certificates.models import ApiCall, ApiLogHead, CheckIn, Claim
from tests.factories import make_certificate, make_vendor
from trustedform import TrustedFormError

pytestmark = pytest.mark.django_db


def verify(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_api_log", *args, stdout=out)
    except CommandError as exc:
        return 1, str(exc)
    return 0, out.getvalue()


def head() -> str:
    return verification.verify().head


def raw_sql(sql: str, *params) -> None:
    tables = {"CALLS": ApiCall, "CLAIMS": Claim, "CHECKINS": CheckIn, "HEAD": ApiLogHead}
    for name, model in tables.items():
        sql = sql.replace(name, model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def claimed(tf_api):
    """Three certificates claimed through the sandbox, one of them checked in first."""
    vendor = make_vendor("Acme Leads")
    certificates = [
        make_certificate(m["cert_url"], vendor=vendor, email="jane@example.com")
        for m in tf_api.mint_many(3, email="jane@example.com")
    ]
    checking_in.check_in_certificate(certificates[0])
    for certificate in certificates:
        claiming.claim_certificate(certificate)
    assert verify()[0] == 0
    return certificates


def test_each_claim_names_the_chained_call_it_came_from(claimed):
    for claim in Claim.objects.select_related("api_call"):
        assert claim.api_call_seq == claim.api_call.seq
        assert claim.api_call_hash == claim.api_call.answer_hash
        assert claim.api_call.result_sha256 == chain.result_digest(claim)
    check_in = CheckIn.objects.select_related("api_call").get()
    assert check_in.api_call_hash == check_in.api_call.answer_hash


def test_a_claims_outcome_changed_in_the_database_is_found(claimed):
    claim = Claim.objects.order_by("pk").first()
    raw_sql("UPDATE CLAIMS SET outcome = 'failure', reason = 'forged' WHERE id = %s", claim.pk)

    code, message = verify()

    assert code == 1
    assert f"claim {claim.pk} of certificate {claim.certificate_id} was altered" in message


def test_a_check_ins_extension_changed_in_the_database_is_found(claimed):
    check_in = CheckIn.objects.get()
    later = check_in.extended_until + timedelta(days=400)
    raw_sql("UPDATE CHECKINS SET extended_until = %s WHERE id = %s", later, check_in.pk)

    code, message = verify()

    assert code == 1 and f"check-in {check_in.pk} of certificate" in message


def test_a_body_replaced_under_the_pruned_flag_is_found(claimed):
    call = ApiCall.objects.filter(operation="claim").order_by("seq").first()
    raw_sql(
        "UPDATE CALLS SET response_body = %s, bodies_pruned_at = %s WHERE id = %s",
        '{"outcome": "failure"}',
        timezone.now(),
        call.pk,
    )

    code, message = verify()

    assert code == 1 and "marked pruned but carries a body" in message


def test_a_pruned_flag_set_without_a_pruning_entry_is_found(claimed):
    call = ApiCall.objects.filter(operation="claim").order_by("seq").first()
    raw_sql(
        "UPDATE CALLS SET request_body = '', response_body = '', bodies_pruned_at = %s WHERE id = %s",
        timezone.now(),
        call.pk,
    )

    code, message = verify()

    assert code == 1 and "no pruning entry covers it" in message


def test_pruning_an_honest_log_keeps_it_verifiable(claimed, settings):
    settings.API_LOG_BODY_RETENTION_DAYS = 0
    rows = ApiCall.objects.count()

    call_command("prune_api_log", stdout=io.StringIO())

    assert ApiCall.objects.exclude(bodies_pruned_at=None).count() == rows
    assert ApiCall.objects.filter(operation=chain.PRUNE_OPERATION).count() == 1
    code, message = verify()
    assert code == 0, message
    assert f"intact: {rows + 1} rows" in message


def test_emptying_the_log_and_its_head_while_claims_exist_is_found(claimed):
    raw_sql("UPDATE CLAIMS SET api_call_id = NULL")
    raw_sql("UPDATE CHECKINS SET api_call_id = NULL")
    raw_sql("DELETE FROM CALLS")
    raw_sql("DELETE FROM HEAD")

    code, message = verify()

    assert code == 1
    assert "which is missing (the log ends before it: it was shortened or emptied)" in message


def test_dropping_the_newest_call_and_rewinding_the_head_is_found(claimed):
    newest = ApiCall.objects.order_by("-seq").first()
    before = ApiCall.objects.exclude(pk=newest.pk).order_by("-seq").first()
    raw_sql("UPDATE CLAIMS SET api_call_id = NULL WHERE api_call_id = %s", newest.pk)
    raw_sql("DELETE FROM CALLS WHERE id = %s", newest.pk)
    raw_sql("UPDATE HEAD SET last_seq = %s, last_hash = %s", before.answer_seq, before.answer_hash)

    code, message = verify()

    assert code == 1 and "which is missing" in message


def test_expect_proves_the_log_still_extends_a_head_kept_elsewhere(claimed):
    kept = head()

    assert verify("--expect", kept)[0] == 0
    with pytest.raises(TrustedFormError):  # an unknown certificate: a 404, logged like any answer
        checking_in.check_in_certificate(make_certificate())
    assert ApiCall.objects.filter(status=404).exists()
    code, message = verify("--expect", kept)
    assert code == 0 and f"It still extends the head {kept}" in message


def test_expect_fails_on_a_chain_rewritten_by_someone_who_knows_the_algorithm(claimed):
    certificate = make_certificate()
    api_log.append_api_call(
        certificate=certificate, trigger="test", operation="view", method="GET", url="u", outcome="ok"
    )
    kept = head()
    # The insider drops the newest call (no claim names it), rewinds the head, and writes another in
    # its place: the chain is consistent again and verifies on its own...
    newest = ApiCall.objects.order_by("-seq").first()
    before = ApiCall.objects.exclude(pk=newest.pk).order_by("-seq").first()
    raw_sql("DELETE FROM CALLS WHERE id = %s", newest.pk)
    raw_sql("UPDATE HEAD SET last_seq = %s, last_hash = %s", before.answer_seq, before.answer_hash)
    api_log.append_api_call(
        certificate=certificate, trigger="test", operation="view", method="GET", url="u", outcome="error"
    )
    assert verify()[0] == 0

    code, message = verify("--expect", kept)

    assert code == 1 and "is not the entry kept elsewhere" in message


def test_expect_fails_on_a_shortened_log():
    certificate = make_certificate()
    for _ in range(2):
        api_log.append_api_call(
            certificate=certificate, trigger="test", operation="view", method="GET", url="u", outcome="ok"
        )
    kept = head()
    newest = ApiCall.objects.order_by("-seq").first()
    before = ApiCall.objects.exclude(pk=newest.pk).order_by("-seq").first()
    raw_sql("DELETE FROM CALLS WHERE id = %s", newest.pk)
    raw_sql("UPDATE HEAD SET last_seq = %s, last_hash = %s", before.answer_seq, before.answer_hash)

    code, message = verify("--expect", kept)

    assert code == 1 and "it was shortened" in message


def test_expect_refuses_a_malformed_head():
    code, message = verify("--expect", "not-a-head")

    assert code == 1 and "--expect takes SEQ:HASH" in message


def test_the_scheduler_writes_the_head_to_the_log_output_to_be_kept_elsewhere(claimed, caplog):
    out = io.StringIO()
    with caplog.at_level("INFO", logger="certificates.apilog"):
        call_command("run_scheduler", "--once", stdout=out)
    kept = api_log.current_head()

    assert f"API-call log head: {kept}" in out.getvalue()
    assert any(kept in record.getMessage() for record in caplog.records)
    assert verify("--expect", kept)[0] == 0

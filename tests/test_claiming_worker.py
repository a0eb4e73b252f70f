"""Background claiming in one process: leases, retries in the row, Retry-After, pauses, the sweep.

The worker's threads call the sandbox over real sockets; only the clock of the retry delays is shortened.
"""

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from certificates import claiming, leasing, pausing, sweeping, worker
from certificates.apilog import verification
from certificates.models import AccountStatus, ApiCall, Certificate
from tests.factories import make_certificate, make_vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_retries(settings):
    settings.CLAIM_RETRY_BASE_SECONDS = 0.01
    settings.CLAIM_THREADS = 8


def pending_from_sandbox(tf_api, count: int, **mint) -> list[Certificate]:
    vendor = make_vendor("Acme Leads")
    minted = tf_api.mint_many(count, email="jane@example.com", **mint)
    return [make_certificate(m["cert_url"], vendor=vendor, email="jane@example.com") for m in minted]


def make_due_now() -> None:
    Certificate.objects.filter(state=Certificate.State.PENDING).update(next_attempt_at=timezone.now())


def claim_until_settled(rounds: int = 60) -> None:
    for _ in range(rounds):
        make_due_now()
        worker.claim_due(owner="test")
        if not Certificate.objects.filter(state=Certificate.State.PENDING).exists():
            return


def sandbox_claims(tf_api, certificates) -> Counter:
    """How many claims the sandbox's own store holds for each certificate (the billed truth)."""
    return Counter({c.cert_id: len(tf_api.certificate(c.cert_id)["claims"]) for c in certificates})


def settled_request_count(tf_api, certificates) -> int:
    """The sandbox logs a hung request only when it finally answers: wait until the count holds still.

    Only these certificates count: a request hung by an earlier test may land in the log late."""
    ours = {c.cert_id for c in certificates}
    count, deadline = -1, time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(1.2)
        latest = len([r for r in tf_api.requests(limit=100000) if r["cert_id"] in ours])
        if latest == count:
            break
        count = latest
    return count


def test_the_worker_claims_every_due_certificate_once(tf_api, fast_retries):
    certificates = pending_from_sandbox(tf_api, 40)

    stats = worker.claim_due(owner="test")

    assert stats.claimed == 40
    assert set(Certificate.objects.values_list("state", flat=True)) == {"claimed"}
    assert sandbox_claims(tf_api, certificates) == Counter({c.cert_id: 1 for c in certificates})
    assert ApiCall.objects.filter(trigger="worker test", operation="claim").count() == 40


def test_answers_that_come_back_together_are_written_together(tf_api):
    # Each claim's own writes: its claim, the claim read back for its digest, the answer, the claim's
    # place in the chain, the certificate. The rows' lock, the chain's head and the leases' release
    # are shared by the answers written together.
    certificates = pending_from_sandbox(tf_api, 3)
    leased = leasing.take_due(3, owner="worker test")
    jobs = claiming.jobs_for(leased, trigger="worker test")
    finished = [
        (c, claiming.attempt_claim(claiming.get_client(), job))
        for (c, _), job in zip(leased, jobs, strict=True)
    ]

    with CaptureQueriesContext(connection) as queries:
        worker._write_worker_attempts(finished, worker.WorkStats())

    sql = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]  # the test's own transaction
    statements = Counter(
        q["sql"].split(" SET ")[0].split(" FROM ")[-1].split(" WHERE")[0][:60] for q in queries
    )
    assert statements['"certificates_apiloghead"'] == 1  # locked once
    assert statements['UPDATE "certificates_apiloghead"'] == 1  # moved once
    assert statements['UPDATE "certificates_apicall"'] == 3
    assert statements['UPDATE "certificates_certificate"'] == 3 + 1  # each answer, then one release
    assert len(sql) == 3 * 5 + 4, [q[:80] for q in sql]
    assert set(Certificate.objects.values_list("state", "lease_owner")) == {("claimed", "")}
    assert verification.verify().intact
    assert sandbox_claims(tf_api, certificates) == Counter({c.cert_id: 1 for c in certificates})


def test_the_worker_leases_ahead_several_at_a_time_not_a_few_every_round(tf_api, fast_retries):
    # Every round the writing thread spends leasing, the threads wait to send: it leases again only when
    # half a pool's worth is left, so each lease takes at least half a pool (4 of 8 threads here).
    certificates = pending_from_sandbox(tf_api, 40)
    tf_api.set_faults(latency_ms=100)  # answers come back one by one, not in bunches

    with CaptureQueriesContext(connection) as queries:
        stats = worker.claim_due(owner="test", threads=8)

    leases_taken = [
        q for q in queries if '"lease_fence" = ("certificates_certificate"."lease_fence" + ' in q["sql"]
    ]
    assert stats.claimed == 40
    assert 40 // 16 <= len(leases_taken) <= 40 // 4 + 1, len(leases_taken)
    assert sandbox_claims(tf_api, certificates) == Counter({c.cert_id: 1 for c in certificates})


def test_leases_go_earliest_deadline_first_and_are_not_taken_twice(tf_api):
    vendor = make_vendor()
    late = make_certificate(vendor=vendor)
    early = make_certificate(vendor=vendor)
    Certificate.objects.filter(pk=early.pk).update(claim_deadline=timezone.now() + timedelta(hours=1))

    first = leasing.take_due(1, owner="a")
    second = leasing.take_due(5, owner="b")

    assert [c.pk for c, _ in first] == [early.pk]
    assert [c.pk for c, _ in second] == [late.pk]
    assert leasing.take_due(5, owner="c") == []


def test_an_expired_lease_of_a_dead_worker_is_taken_over_and_looked_up_first(tf_api):
    [certificate] = pending_from_sandbox(tf_api, 1)
    [(_, dead)] = leasing.take_due(1, owner="dead-worker")
    Certificate.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    [(leased, lease)] = leasing.take_due(1, owner="new-worker")

    assert leased.pk == certificate.pk
    assert lease.orphaned and lease.fence == dead.fence + 1
    assert claiming.job_for(leased, lease, trigger="worker new").look_first


def test_a_server_error_is_retried_from_the_row_until_claimed(tf_api, settings):
    settings.CLAIM_RETRY_BASE_SECONDS = 60
    [certificate] = pending_from_sandbox(tf_api, 1)
    tf_api.cert_faults(certificate.cert_id, fail_next=["503", "502"])

    worker.claim_due(owner="test")
    certificate.refresh_from_db()
    assert certificate.state == "pending"
    assert certificate.attempts == 1
    assert certificate.next_attempt_at > timezone.now() + timedelta(seconds=29)

    claim_until_settled()

    certificate.refresh_from_db()
    assert certificate.state == "claimed"
    assert certificate.attempts == 3
    assert list(ApiCall.objects.order_by("id").values_list("status", flat=True)) == [503, 502, 200]


def test_retry_after_is_honoured(tf_api, fast_retries):
    [certificate] = pending_from_sandbox(tf_api, 1)
    tf_api.cert_faults(certificate.cert_id, fail_next=["429"], retry_after=120)

    worker.claim_due(owner="test")

    certificate.refresh_from_db()
    assert certificate.state == "pending"
    assert certificate.next_attempt_at >= timezone.now() + timedelta(seconds=110)


def test_after_a_timeout_the_claim_is_looked_up_instead_of_made_again(tf_api, fast_retries, settings):
    settings.TRUSTEDFORM_READ_TIMEOUT = 0.5
    claiming.get_client.cache_clear()
    [certificate] = pending_from_sandbox(tf_api, 1)
    tf_api.cert_faults(certificate.cert_id, fail_next=["timeout"], hang_seconds=2)

    worker.claim_due(owner="test")
    certificate.refresh_from_db()
    assert certificate.last_attempt_unknown
    claim_until_settled()

    certificate.refresh_from_db()
    assert certificate.state == "claimed"
    operations = list(ApiCall.objects.order_by("id").values_list("operation", "outcome"))
    assert operations == [("claim", "unknown"), ("view", "ok")]
    assert sandbox_claims(tf_api, [certificate])[certificate.cert_id] == 1


def test_a_refused_key_pauses_claiming_and_fails_no_certificate(tf_api, fast_retries):
    pending_from_sandbox(tf_api, 30)
    tf_api.set_account(api_key="a-revoked-key")

    stats = worker.claim_due(owner="test")

    assert stats.paused
    assert AccountStatus.current().claiming_paused
    assert set(Certificate.objects.values_list("state", flat=True)) == {"pending"}
    refused = ApiCall.objects.filter(status=401).count()
    assert 1 <= refused <= 8  # at most what was in flight when the first 401 came back
    assert worker.claim_due(owner="test").claimed == 0
    assert ApiCall.objects.filter(status=401).count() == refused


def test_claiming_resumes_after_an_admin_resumes_it(tf_api, fast_retries, django_user_model):
    pending_from_sandbox(tf_api, 5)
    pausing.pause_claiming("TrustedForm refused the API key (HTTP 401)")

    assert worker.claim_due(owner="test").claimed == 0
    pausing.resume_claiming(user=django_user_model.objects.create(username="root"))

    assert worker.claim_due(owner="test").claimed == 5


def test_a_final_4xx_marks_the_certificate_not_claimable_with_the_reason(tf_api, fast_retries):
    [certificate] = pending_from_sandbox(tf_api, 1, sandbox=True)

    worker.claim_due(owner="test")

    certificate.refresh_from_db()
    assert certificate.state == "error"
    assert "not claimable" in certificate.state_reason.lower()


def test_with_20pc_errors_5pc_timeouts_and_429s_every_certificate_is_claimed_and_logged(
    tf_api, fast_retries, settings
):
    settings.TRUSTEDFORM_READ_TIMEOUT = 0.5
    claiming.get_client.cache_clear()
    certificates = pending_from_sandbox(tf_api, 120)
    tf_api.set_faults(
        error_rate=0.2, timeout_rate=0.05, hang_seconds=1, rate_limit_rate=0.05, retry_after=0, seed=7
    )

    claim_until_settled()

    assert set(Certificate.objects.values_list("state", flat=True)) == {"claimed"}
    assert all(c.claimed_at < c.claim_deadline for c in Certificate.objects.all())
    seen_by_sandbox = settled_request_count(tf_api, certificates)
    assert ApiCall.objects.count() == seen_by_sandbox
    assert ApiCall.objects.exclude(status=200).exists()
    assert set(sandbox_claims(tf_api, certificates).values()) == {1}


def test_the_sweep_checks_in_a_certificate_about_to_expire(tf_api):
    [certificate] = pending_from_sandbox(tf_api, 1)
    Certificate.objects.update(claim_deadline=timezone.now() + timedelta(minutes=30))

    stats = sweeping.sweep()

    certificate.refresh_from_db()
    assert stats.checked_in == 1
    assert certificate.checked_in_at is not None
    assert certificate.claim_deadline > timezone.now() + timedelta(days=89)
    assert certificate.check_ins.count() == 1


def test_the_sweep_marks_a_certificate_past_its_window_expired_with_the_reason(db):
    certificate = make_certificate()
    Certificate.objects.update(claim_deadline=timezone.now() - timedelta(hours=2))

    stats = sweeping.sweep()

    certificate.refresh_from_db()
    assert stats.expired == 1
    assert certificate.state == "expired"
    assert "claim window closed" in certificate.state_reason


def test_an_unreadable_success_is_looked_up_before_claiming_again(tf_api, settings):
    settings.CLAIM_RETRY_BASE_SECONDS = 60
    [certificate] = pending_from_sandbox(tf_api, 1)
    tf_api.cert_faults(
        certificate.cert_id, respond={"status": 200, "body": "", "content_type": "text/html"}, times=1
    )

    worker.claim_due(owner="test")
    certificate.refresh_from_db()
    assert certificate.state == "pending" and certificate.last_attempt_unknown
    claim_until_settled()

    certificate.refresh_from_db()
    assert certificate.state == "claimed"
    calls = list(ApiCall.objects.order_by("seq").values_list("operation", "status"))
    assert calls == [("claim", 200), ("view", 404), ("claim", 200)]
    assert sandbox_claims(tf_api, [certificate])[certificate.cert_id] == 1


def test_backoff_stays_capped_however_many_attempts():
    assert claiming.backoff(1000) <= claiming.RETRY_CAP
    assert claiming.backoff(1000) >= claiming.RETRY_CAP / 2

"""Real worker processes (`manage.py db_worker` + `run_scheduler`) against the sandbox.

A worker is killed with SIGKILL in the middle of a batch, and two workers share one PostgreSQL table:
no certificate is lost, and none is claimed twice except as the API-call log explains.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from certificates.apilog import verification
from certificates.intake.leads import vendor_named
from certificates.models import CLAIM_WINDOW, ApiCall, Certificate
from tests.support.databases import subprocess_database_url
from trustedform import parse_certificate_url

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[1]
THREADS = 8


def worker_env(sandbox_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": subprocess_database_url(),
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "TRUSTEDFORM_API_BASE": sandbox_url,
        "CLAIM_THREADS": str(THREADS),
        "CLAIM_LEASE_SECONDS": "3",
        "CLAIM_RETRY_BASE_SECONDS": "0.2",
        "TRUSTEDFORM_READ_TIMEOUT": "1.5",  # a lease outlasts its send window plus the answer's wait
    }


def manage(*args: str, env: dict, log: Path) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    return manage("db_worker", "--no-reload", "--interval", "0.2", "--no-startup-delay", env=env, log=log)


def sweep_once(env: dict, log: Path) -> None:
    assert manage("run_scheduler", "--once", env=env, log=log).wait(timeout=60) == 0


def import_minted(minted: list[dict]) -> list[Certificate]:
    vendor = vendor_named("Acme Leads")
    now = timezone.now()
    rows = []
    for m in minted:
        ref = parse_certificate_url(m["cert_url"], ["cert.trustedform.com"])
        rows.append(
            Certificate(
                cert_id=ref.cert_id,
                cert_url=ref.url,
                vendor=vendor,
                lead_email="jane@example.com",
                email_normalised="jane@example.com",
                received_at=now,
                claim_deadline=now + CLAIM_WINDOW,
                next_attempt_at=now,
            )
        )
    return Certificate.objects.bulk_create(rows, batch_size=500)


def wait_for(condition, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    tail = log.read_text()[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")


def claimed() -> int:
    return Certificate.objects.filter(state=Certificate.State.CLAIMED).count()


def stop(*processes: subprocess.Popen) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def sandbox_claim_counts(tf_api, certificates) -> Counter:
    return Counter({c.cert_id: len(tf_api.certificate(c.cert_id)["claims"]) for c in certificates})


def test_a_worker_killed_mid_batch_loses_nothing_and_the_next_one_finishes(tf_api, tmp_path):
    certificates = import_minted(tf_api.mint_many(1000, email="jane@example.com"))
    tf_api.set_faults(latency_ms=100)
    env, log = worker_env(tf_api.base_url), tmp_path / "workers.log"

    sweep_once(env, log)  # enqueues the claim task into the database queue
    first = start_worker(env, log)
    try:
        wait_for(lambda: claimed() >= 250, 120, "the first worker to claim 250 certificates", log)
    finally:
        os.kill(first.pid, signal.SIGKILL)  # a worker left running would take the next test's tasks
        first.wait(timeout=10)
    at_kill = claimed()
    assert at_kill < 1000, "the batch finished before the kill; the test proves nothing"

    second = start_worker(env, log)
    scheduler = manage("run_scheduler", "--every", "1", env=env, log=log)
    try:
        wait_for(
            lambda: not Certificate.objects.filter(state=Certificate.State.PENDING).exists(),
            300,
            "every certificate to reach a final state",
            log,
        )
    finally:
        stop(second, scheduler)

    assert Certificate.objects.count() == 1000
    assert claimed() == 1000, log.read_text()[-3000:]
    # Billed once: the killed worker's requests were logged before they left, so the next worker
    # saw them unanswered and looked each one up (GET) instead of claiming again.
    assert set(sandbox_claim_counts(tf_api, certificates).values()) == {1}
    # The log holds a row for every request TrustedForm received, those in flight at the kill included.
    received = Counter((r["cert_id"], r["method"]) for r in tf_api.requests(limit=100000))
    logged = Counter(ApiCall.objects.values_list("certificate__cert_id", "method"))
    assert sum(received.values()) >= 1000
    assert not received - logged, "requests TrustedForm received that the log does not hold"
    unanswered = list(ApiCall.objects.filter(outcome=ApiCall.Outcome.SENT))
    assert unanswered, "no request was in flight at the kill; the test proves nothing"
    assert len(unanswered) <= THREADS
    for call in unanswered:
        # Marked "sent, no answer recorded", and resolved: the next sender looked the certificate up.
        assert call.answer_seq is None
        assert ApiCall.objects.filter(
            certificate=call.certificate, operation="view", seq__gt=call.seq
        ).exists()
    assert verification.verify().intact


@pytest.mark.postgres
def test_two_workers_on_postgresql_never_claim_a_certificate_twice(tf_api, tmp_path):
    certificates = import_minted(tf_api.mint_many(2000, email="jane@example.com"))
    tf_api.set_faults(latency_ms=10)
    env, log = worker_env(tf_api.base_url), tmp_path / "workers.log"

    sweep_once(env, log)
    workers = [start_worker(env, log)]
    try:
        wait_for(lambda: claimed() >= 50, 120, "the first worker to start claiming", log)
        sweep_once(env, log)  # the first task is running, so this enqueues a second one
        workers.append(start_worker(env, log))
        wait_for(lambda: claimed() == 2000, 300, "2,000 certificates to be claimed", log)
    finally:
        stop(*workers)

    assert connection.vendor == "postgresql"
    counts = sandbox_claim_counts(tf_api, certificates)
    assert set(counts.values()) == {1}
    claims_by_worker = Counter(ApiCall.objects.filter(operation="claim").values_list("trigger", flat=True))
    assert sum(claims_by_worker.values()) == 2000
    assert len(claims_by_worker) == 2, "both workers should have taken a share"


@pytest.mark.postgres
def test_a_worker_stalled_past_its_leases_sends_nothing_the_other_took_over(tf_api, tmp_path):
    """SIGSTOP stands for a GC pause, a frozen VM or CPU throttling: the stalled worker's leases expire,
    the other worker takes them over (bumping their fencing tokens), and when the first one resumes,
    its fence check stops every request it had leased but not cleared, and the send-by time every
    request it had cleared but not sent. Stopped three times at random moments, to land in that gap."""
    total = 1200
    certificates = import_minted(tf_api.mint_many(total, email="jane@example.com"))
    tf_api.set_faults(latency_ms=300)
    env, log = worker_env(tf_api.base_url), tmp_path / "workers.log"

    sweep_once(env, log)
    stalled = start_worker(env, log)
    other = None
    try:
        for claimed_before_stop in (20, total // 3, total // 2):
            wait_for(lambda n=claimed_before_stop: claimed() >= n, 120, f"{claimed_before_stop} claims", log)
            os.kill(stalled.pid, signal.SIGSTOP)
            if other is None:
                sweep_once(env, log)  # the stalled task still counts as running: this enqueues a second one
                other = start_worker(env, log)
            time.sleep(float(env["CLAIM_LEASE_SECONDS"]) * 3)  # well past every lease the stalled one holds
            os.kill(stalled.pid, signal.SIGCONT)
        wait_for(lambda: claimed() == total, 300, f"{total} certificates to be claimed", log)
        time.sleep(2)  # let the resumed worker write whatever it still had out
    finally:
        os.kill(stalled.pid, signal.SIGCONT)
        stop(stalled, *([other] if other else []))

    assert connection.vendor == "postgresql"
    assert set(sandbox_claim_counts(tf_api, certificates).values()) == {1}
    results = [r.return_value or {} for r in DBTaskResult.objects.filter(status="SUCCESSFUL")]
    assert sum(r.get("not_sent", 0) for r in results) >= 1, "nothing was fenced: the stall proved nothing"
    assert verification.verify().intact

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

from certificates.importing import vendor_named
from certificates.models import CLAIM_WINDOW, ApiCall, Certificate
from certificates.trustedform import parse_certificate_url
from tests.support.databases import subprocess_database_url

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
        "TRUSTEDFORM_READ_TIMEOUT": "5",
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


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


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
    tf_api.set_faults(latency_ms=30)
    env, log = worker_env(tf_api.base_url), tmp_path / "workers.log"

    sweep_once(env, log)  # enqueues the claim task into the database queue
    first = start_worker(env, log)
    wait_for(lambda: claimed() >= 250, 120, "the first worker to claim 250 certificates")
    os.kill(first.pid, signal.SIGKILL)
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
        )
    finally:
        stop(second, scheduler)

    assert Certificate.objects.count() == 1000
    assert claimed() == 1000, log.read_text()[-3000:]
    counts = sandbox_claim_counts(tf_api, certificates)
    assert min(counts.values()) == 1
    twice = [cert_id for cert_id, n in counts.items() if n > 1]
    assert len(twice) <= THREADS, "more double claims than requests in flight at the kill"
    for cert_id in twice:
        # The killed worker's request landed unrecorded; the next worker looked it up (view) first.
        assert ApiCall.objects.filter(certificate__cert_id=cert_id, operation="view").exists()


@pytest.mark.postgres
def test_two_workers_on_postgresql_never_claim_a_certificate_twice(tf_api, tmp_path):
    certificates = import_minted(tf_api.mint_many(2000, email="jane@example.com"))
    tf_api.set_faults(latency_ms=10)
    env, log = worker_env(tf_api.base_url), tmp_path / "workers.log"

    sweep_once(env, log)
    workers = [start_worker(env, log)]
    try:
        wait_for(lambda: claimed() >= 50, 120, "the first worker to start claiming")
        sweep_once(env, log)  # the first task is running, so this enqueues a second one
        workers.append(start_worker(env, log))
        wait_for(lambda: claimed() == 2000, 300, "2,000 certificates to be claimed")
    finally:
        stop(*workers)

    assert connection.vendor == "postgresql"
    counts = sandbox_claim_counts(tf_api, certificates)
    assert set(counts.values()) == {1}
    claims_by_worker = Counter(ApiCall.objects.filter(operation="claim").values_list("trigger", flat=True))
    assert sum(claims_by_worker.values()) == 2000
    assert len(claims_by_worker) == 2, "both workers should have taken a share"

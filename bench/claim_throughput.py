"""Claims per second through the worker against the sandbox with 200 ms latency and 16 threads.

Prints the rate as a fraction of the ideal (16 threads / 0.2 s = 80 claims/s), and as a speedup over a
plain sequential `requests` loop claiming against the same sandbox in the same run.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREADS = 16
LATENCY_S = 0.2
WORKER_CLAIMS = 1200
SEQUENTIAL_CLAIMS = 40


def setup_django(tmp: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["CLAIM_THREADS"] = str(THREADS)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def import_certificates(minted: list[dict]) -> None:
    from django.utils import timezone

    from certificates.intake.leads import vendor_named
    from certificates.models import CLAIM_WINDOW, Certificate

    vendor, now = vendor_named("Bench Leads"), timezone.now()
    Certificate.objects.bulk_create(
        [
            Certificate(
                cert_id=m["cert_id"],
                cert_url=m["cert_url"],
                vendor=vendor,
                lead_email="jane@example.com",
                email_normalised="jane@example.com",
                claim_deadline=now + CLAIM_WINDOW,
                next_attempt_at=now,
            )
            for m in minted
        ],
        batch_size=1000,
    )


def sequential_rate(base_url: str, api_key: str, minted: list[dict]) -> float:
    """The naive baseline: one plain `requests` POST after another."""
    import requests

    session = requests.Session()
    started = time.perf_counter()
    for m in minted:
        response = session.post(
            f"{base_url}/{m['cert_id']}",
            json={"match_lead": {"email": "jane@example.com"}, "retain": {}},
            headers={"Api-Version": "4.0"},
            auth=("API", api_key),
            timeout=10,
        )
        assert response.status_code == 200, response.text
    return len(minted) / (time.perf_counter() - started)


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        setup_django(tmp)
        from django.conf import settings

        from certificates import claiming, worker
        from certificates.models import Certificate
        from tests.support.sandbox import start_sandbox

        sandbox = start_sandbox(tmp / "sandbox", env={"SANDBOX_API_KEY": settings.TRUSTEDFORM_API_KEY})
        try:
            admin = sandbox.admin()
            settings.TRUSTEDFORM_API_BASE = sandbox.base_url
            claiming.get_client.cache_clear()
            minted = admin.mint_many(WORKER_CLAIMS + SEQUENTIAL_CLAIMS, email="jane@example.com")
            import_certificates(minted[:WORKER_CLAIMS])
            admin.set_faults(latency_ms=int(LATENCY_S * 1000))

            baseline = sequential_rate(sandbox.base_url, admin.api_key, minted[WORKER_CLAIMS:])

            started = time.perf_counter()
            stats = worker.claim_due(owner="bench", threads=THREADS)
            elapsed = time.perf_counter() - started
            assert stats.claimed == WORKER_CLAIMS, stats
            assert Certificate.objects.filter(state="claimed").count() == WORKER_CLAIMS
            rate = WORKER_CLAIMS / elapsed
            ideal = THREADS / LATENCY_S
        finally:
            sandbox.stop()
    print(f"BENCH claim_worker_rate {rate:.1f} claims/s")
    print(f"BENCH claim_sequential_rate {baseline:.2f} claims/s")
    print(f"BENCH claim_ideal_rate {ideal:.1f} claims/s")
    print(f"BENCH claim_throughput_fraction {rate / ideal:.3f} fraction")
    print(f"BENCH claim_speedup_vs_sequential {rate / baseline:.1f} x")


if __name__ == "__main__":
    run()

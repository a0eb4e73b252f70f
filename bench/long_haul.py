"""Evidence for the long haul on 100,000 certificates under one legal hold.

- `retention_peak_mem_mb`: the peak of Python allocations (tracemalloc) while `apply_retention --dry-run`
  looks at 100,000 certificates past the period, all on the hold (goal: flat, a few MB, not growing
  with the certificates); `retention_dry_run_seconds` beside it.
- `discovery_seconds_per_1k_certs`: a discovery request for one phone that 1,000 of the certificates
  carry (package, summary, index, manifest, hold), per 1,000 certificates; against the baseline of an
  evidence package of the same 1,000 certificates built in the same run
  (`discovery_ratio_vs_evidence_export`), and its memory peak (`discovery_peak_mem_mb`).

The data set lives in its own SQLite file in the temp directory (made once, reused); each run first
removes the holds, requests and exports an earlier run left there.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from bench import common
from bench.common import mark_filled, size, use_database

CERTIFICATES = size(100_000, 1_000)
PERSON = size(1_000, 10)  # certificates of the one person discovery asks about
PHONE = "5135556719"


def setup() -> None:
    fresh = use_database(f"long-haul-{CERTIFICATES}")
    common.setup_django()
    from django.core.management import call_command
    from django.utils import timezone

    from certificates.models import Certificate, Claim

    if fresh:
        print(
            f"# generating {CERTIFICATES:,} certificates{'' if common.POSTGRES else ' (once; cached)'}",
            flush=True,
        )
        call_command("generate_certificates", CERTIFICATES, seed=7, stdout=sys.stderr)
        # Six years old: every one of them is past a five-year retention period.
        shift = timedelta(days=6 * 365)
        old = timezone.now() - shift
        Certificate.objects.update(received_at=old, claimed_at=old, claim_deadline=old)
        Claim.objects.update(created_at=old)
        ids = list(
            Certificate.objects.order_by("pk").values_list("pk", flat=True)[
                : CERTIFICATES : CERTIFICATES // PERSON
            ]
        )
        Certificate.objects.filter(pk__in=ids).update(lead_phone="(513) 555-6719", phone_normalised=PHONE)
        mark_filled(f"long-haul-{CERTIFICATES}")


def peak_of(fn) -> tuple[float, float, object]:
    """(seconds, peak MB of Python allocations above the start, result)."""
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, (peak - base) / 1e6, result


def run() -> None:
    setup()
    from django.conf import settings

    from certificates.evidence import discovery, holds, packages, retention
    from certificates.evidence.models import DiscoveryRequest, EvidenceExport, HeldCertificate, LegalHold
    from certificates.models import Certificate

    settings.RETENTION_YEARS = 5
    workdir = Path(tempfile.mkdtemp(prefix="tfdash-long-haul-"))
    settings.EVIDENCE_EXPORT_DIR = workdir
    # This bench owns its database: what an earlier run left is removed first.
    DiscoveryRequest.objects.all().delete()
    HeldCertificate.objects.all().delete()
    LegalHold.objects.all().delete()
    EvidenceExport.objects.all().delete()

    started = time.perf_counter()
    hold = holds.place_hold(name="Bench: everything", user=None, certificates=Certificate.objects.all())
    print(f"BENCH hold_place_seconds_per_100k {time.perf_counter() - started:.1f} s", flush=True)

    seconds, peak, run = peak_of(lambda: retention.apply_retention(dry_run=True))
    assert run.held_skipped == CERTIFICATES and run.certificates == 0, (run.held_skipped, run.certificates)
    print(f"BENCH retention_dry_run_seconds {seconds:.2f} s", flush=True)
    print(f"BENCH retention_peak_mem_mb {peak:.1f} MB", flush=True)

    export = EvidenceExport.objects.create(query=f"q={PHONE}")
    base_seconds, base_peak, _ = peak_of(lambda: packages.build_evidence_export.call(export.pk))
    request = discovery.open_request(user=None, hold_name="Bench: one person", phone=PHONE)
    seconds, peak, built = peak_of(lambda: discovery.build(request))
    assert built.total == PERSON, built.total
    print(f"BENCH discovery_certificates {built.total} certificates", flush=True)
    print(f"BENCH discovery_seconds_per_1k_certs {seconds / (PERSON / 1000):.2f} s", flush=True)
    print(f"BENCH discovery_peak_mem_mb {peak:.1f} MB", flush=True)
    print(f"BENCH evidence_export_seconds_per_1k_certs {base_seconds / (PERSON / 1000):.2f} s", flush=True)
    print(f"BENCH discovery_ratio_vs_evidence_export {seconds / base_seconds:.2f} x", flush=True)
    assert hold.memberships.count() == CERTIFICATES

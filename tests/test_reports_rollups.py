"""The rollups stay equal to a recount of the certificate rows, whatever wrote those rows.

Random sequences of intake (one by one and in bulk), claims with every outcome, claim errors, check-ins,
reviews, the sweep's expiry and bulk QuerySet.update()s (which skip save() and signals): after each
sequence, refresh_dirty() must leave every rollup equal to a full recount, and the counters equal to a
count done here in Python, independently of rollups.recount.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certificates import claiming, leasing, reviewing, sweeping
from certificates.intake.batches import cancel_batch
from certificates.intake.importer import LeadImporter
from certificates.models import (
    AccountStatus,
    Certificate,
    Claim,
    ImportBatch,
    RollupDirty,
    VendorDayRollup,
)
from certificates.reports import rollups
from tests.factories import make_certificate, make_user, make_vendor
from trustedform import ClaimResult, TrustedFormError
from trustedform.results import Insights, ScanResults

pytestmark = pytest.mark.django_db

_urls = itertools.count(1)


def cert_url() -> str:
    return f"https://cert.trustedform.com/{next(_urls) + 10**9:040x}"


def claim_result(
    outcome: str, fingerprints: str, scan: str, flags: int, age: int, on_page: int
) -> ClaimResult:
    email, phone = {
        "all": (True, True),
        "some": (True, False),
        "none": (False, False),
        "no_data": (None, None),
    }[fingerprints]
    scans = {
        "passed": ScanResults(required_found=["I agree"]),
        "missing": ScanResults(required_not_found=["I agree"]),
        "forbidden": ScanResults(required_found=["I agree"], forbidden_found=["sweepstakes"]),
        "none": ScanResults(),
    }[scan]
    return ClaimResult(
        outcome=outcome,
        reason="" if outcome == "success" else f"{outcome} reason {flags % 3}",
        api_version="4.0",
        status=200,
        email_matched=email,
        phone_matched=phone,
        scans=scans,
        is_masked=bool(flags & 1),
        insights=Insights(
            age_seconds=age,
            seconds_on_page=on_page,
            domain=f"site{flags % 4}.example",
            bot_detected=bool(flags & 2),
        ),
    )


def python_counts() -> dict[tuple[int, object], Counter]:
    """The certificate counters, counted here row by row, not by rollups.recount's GROUP BY."""
    counts: dict[tuple[int, object], Counter] = {}
    for c in Certificate.objects.all():
        n = counts.setdefault((c.vendor_id, c.received_at.astimezone(UTC).date()), Counter())
        n["received"] += 1
        n["claimed"] += c.state == "claimed"
        n["success"] += c.outcome == "success"
        n["failure"] += c.outcome == "failure"
        n["outcome_error"] += c.outcome == "error"
        n["expired"] += c.state == "expired"
        n["not_claimable"] += c.state == "error"
        n["cancelled"] += c.state == "cancelled"
        n["held"] += c.state == "held"
        n["checked_in"] += c.checked_in_at is not None
        for value in ("all", "some", "none", "no_data"):
            n[f"fingerprint_{value}"] += c.fingerprint_result == value
        n["scan_passed"] += c.scan_success is True
        n["scan_failed"] += c.scan_success is False
        n["masked"] += c.is_masked is True
        n["bot"] += c.bot_detected is True
        n["reused"] += c.reused
        n["rejected"] += c.review_status == "rejected"
        if c.state == "claimed":
            scans = (
                Claim.objects.filter(certificate=c).order_by("-id").values_list("scans", flat=True).first()
            )
            n["scan_required_missing"] += bool(scans and scans.get("required_not_found"))
            n["scan_forbidden_found"] += bool(scans and scans.get("forbidden_found"))
    return counts


def full_recount() -> dict:
    days = {c.astimezone(UTC).date() for c in Certificate.objects.values_list("received_at", flat=True)}
    return rollups.snapshot(r for day in days for r in rollups.recount(day))


def assert_rollups_match_rows() -> None:
    stored = rollups.snapshot(VendorDayRollup.objects.all())
    assert stored == full_recount()
    counted = python_counts()
    assert set(stored) == set(counted)
    for key, values in stored.items():
        assert {name: values[name] for name in rollups.COUNT_FIELDS} == {
            name: counted[key][name] for name in rollups.COUNT_FIELDS
        }, key


OPERATIONS = st.one_of(
    st.tuples(st.just("intake"), st.integers(0, 2)),
    st.tuples(st.just("bulk_intake"), st.integers(0, 2), st.integers(1, 5)),
    st.tuples(
        st.just("claim"),
        st.integers(0, 50),
        st.sampled_from(["success", "failure", "error"]),
        st.sampled_from(["all", "some", "none", "no_data"]),
        st.sampled_from(["passed", "missing", "forbidden", "none"]),
        st.integers(0, 7),
        st.integers(0, 300_000),
        st.integers(0, 4_000),
    ),
    st.tuples(st.just("claim_error"), st.integers(0, 50), st.sampled_from([404, 400, 500, None])),
    st.tuples(st.just("check_in"), st.integers(0, 50)),
    st.tuples(st.just("review"), st.integers(0, 50), st.sampled_from(["accepted", "rejected"])),
    st.tuples(st.just("bulk_review"), st.sampled_from(["accepted", "rejected"])),
    st.tuples(st.just("sweep"), st.integers(0, 200)),
    st.tuples(st.just("move_days"), st.integers(0, 2), st.integers(-3, 3)),
    st.tuples(st.just("bulk_flag"), st.integers(0, 2)),
    st.tuples(st.just("change_vendor"), st.integers(0, 50), st.integers(0, 2)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(
        st.just("cancel_batch"),
    ),
)


def pick(index: int) -> Certificate | None:
    ids = list(Certificate.objects.order_by("id").values_list("id", flat=True))
    return Certificate.objects.select_related("vendor").get(pk=ids[index % len(ids)]) if ids else None


def apply(op: tuple, vendors: list, reviewer) -> None:
    name = op[0]
    if name == "intake":
        make_certificate(cert_url(), vendor=vendors[op[1]])
    elif name == "bulk_intake":
        importer = LeadImporter(batch=ImportBatch.objects.create(source=ImportBatch.Source.API))
        for line in range(op[2]):
            importer.add(line + 1, {"cert_url": cert_url(), "vendor": vendors[op[1]].name})
        importer.finish()
    elif name == "claim" and (c := pick(op[1])) and not c.is_final:
        claiming.apply_claim_result(c, claim_result(*op[2:]), trigger="test")
    elif name == "claim_error" and (c := pick(op[1])) and not c.is_final:
        error = TrustedFormError("no", status=op[2], retryable=op[2] in (500, None))
        claiming.apply_claim_error(c, error, trigger="test")
    elif name == "check_in" and (c := pick(op[1])):
        c.checked_in_at = timezone.now()
        c.save(update_fields=["checked_in_at"])
    elif name == "review" and (c := pick(op[1])):
        reviewing.review_certificate(c, reviewer=reviewer, decision=op[2], note="checked")
    elif name == "bulk_review":
        ids = Certificate.objects.filter(review_status="open").values_list("id", flat=True)
        reviewing.review_certificates(list(ids), reviewer=reviewer, decision=op[1], note="all of them")
    elif name == "sweep":
        # Paused: the sweep only expires (its check-ins would call TrustedForm).
        AccountStatus.objects.update_or_create(pk=1, defaults={"claiming_paused": True})
        sweeping.sweep(now=timezone.now() + timedelta(hours=op[1]))
    elif name == "move_days":
        Certificate.objects.filter(vendor=vendors[op[1]]).update(
            received_at=F("received_at") + timedelta(days=op[2])
        )
    elif name == "bulk_flag":
        Certificate.objects.filter(vendor=vendors[op[1]]).update(
            reused=True, scan_success=False, bot_detected=True
        )
    elif name == "change_vendor" and (c := pick(op[1])):
        Certificate.objects.filter(pk=c.pk).update(vendor=vendors[op[2]])
    elif name == "delete" and (c := pick(op[1])):
        c.delete()
    elif name == "cancel_batch" and (batch := ImportBatch.objects.order_by("-id").first()):
        cancel_batch(batch)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(OPERATIONS, st.booleans()), min_size=1, max_size=25))
def test_refresh_dirty_keeps_every_rollup_equal_to_a_recount(operations):
    """After each operation marked True the rollups are refreshed and compared; always at the end."""
    with transaction.atomic():
        vendors = [make_vendor(f"Property vendor {i}") for i in range(3)]
        reviewer = make_user("analyst")
        for op, check_now in operations:
            apply(op, vendors, reviewer)
            if check_now:
                rollups.refresh_dirty()
                assert_rollups_match_rows()
        rollups.refresh_dirty()
        assert not RollupDirty.objects.exists()
        assert_rollups_match_rows()
        transaction.set_rollback(True)


def test_a_bulk_update_marks_the_old_and_the_new_day():
    vendor = make_vendor()
    certificate = make_certificate(vendor=vendor)
    rollups.refresh_dirty()
    today = certificate.received_at.astimezone(UTC).date()
    assert VendorDayRollup.objects.get(vendor=vendor, day=today).received == 1

    Certificate.objects.filter(pk=certificate.pk).update(received_at=F("received_at") - timedelta(days=2))
    marked = set(RollupDirty.objects.values_list("vendor_id", "day"))
    assert marked == {(vendor.pk, today), (vendor.pk, today - timedelta(days=2))}

    assert rollups.refresh_dirty() == 2
    assert not VendorDayRollup.objects.filter(day=today).exists()
    assert VendorDayRollup.objects.get(vendor=vendor, day=today - timedelta(days=2)).received == 1


def test_a_lease_marks_nothing():
    make_certificate()
    rollups.refresh_dirty()
    [(_, lease)] = leasing.take_due(10, owner="test-worker")
    leasing.release(lease)
    assert not RollupDirty.objects.exists()


def test_rebuild_rollups_recounts_everything_from_the_rows(capsys):
    vendor = make_vendor()
    for _ in range(3):
        make_certificate(vendor=vendor)
    VendorDayRollup.objects.all().delete()
    RollupDirty.objects.all().delete()

    call_command("rebuild_rollups")

    assert "Rebuilt 1 vendor-day rollups" in capsys.readouterr().out
    assert VendorDayRollup.objects.get(vendor=vendor).received == 3
    assert_rollups_match_rows()


def test_medians_come_from_the_histograms_of_several_days():
    histogram = Counter()
    rollups.merge_counts(histogram, {"5": 1, "30": 1})
    rollups.merge_counts(histogram, {"30": 1, "3600": 2})
    assert rollups.histogram_median(dict(histogram)) == 30
    assert rollups.histogram_median({}) is None
    assert rollups.histogram_bin(47) == 45
    assert rollups.histogram_bin(7_300) == 7_200

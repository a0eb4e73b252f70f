"""What failed on a certificate is one rule: the method pages use and the query reports use agree."""

import itertools

import pytest

from certificates.models import Certificate
from tests.factories import make_certificate

pytestmark = pytest.mark.django_db

Outcome, Fingerprints = Certificate.Outcome, Certificate.FingerprintResult


def test_the_method_and_the_query_agree_on_every_combination_of_checks():
    template = make_certificate()
    combinations = itertools.product(
        ["", *Outcome.values],
        ["", *Fingerprints.values],
        [None, True, False],
        [None, True, False],
        [None, True, False],
        [False, True],
    )
    rows = [
        Certificate(
            cert_id=f"{n:039x}f", cert_url=f"https://cert.trustedform.com/{n:039x}f", vendor=template.vendor,
            received_at=template.received_at, claim_deadline=template.claim_deadline,
            outcome=outcome, fingerprint_result=fingerprints, scan_success=scan, bot_detected=bot,
            is_masked=masked, reused=reused,
        )
        for n, (outcome, fingerprints, scan, bot, masked, reused) in enumerate(combinations, start=1)
    ]  # fmt: skip
    Certificate.objects.bulk_create(rows)

    by_method = {c.pk for c in Certificate.objects.all() if c.failed_checks()}
    by_query = set(Certificate.objects.with_failed_checks().values_list("pk", flat=True))

    assert by_method == by_query
    assert 0 < len(by_query) < len(rows)


def test_a_clean_claim_has_no_failed_check_and_each_problem_names_itself():
    certificate = make_certificate()
    certificate.outcome, certificate.fingerprint_result, certificate.scan_success = "success", "all", True
    assert certificate.failed_checks() == []

    certificate.outcome, certificate.outcome_reason = "failure", "Email did not match"
    certificate.fingerprint_result, certificate.bot_detected, certificate.reused = "some", True, True

    assert [(c.key, c.reason) for c in certificate.failed_checks()] == [
        ("failure", "claim failed: Email did not match"),
        ("fingerprint_some", "fingerprints matched: some matched"),
        ("bot", "bot detected"),
        ("reused", "sent by more than one vendor"),
    ]

"""Retention: past RETENTION_YEARS after the last claim, certificates on no hold are anonymised, and the
API-call log still verifies; held ones and recent ones are untouched."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from certificates import claiming
from certificates.evidence import holds, retention
from certificates.evidence.models import RetentionRun
from certificates.models import ApiCall, Certificate, Claim
from tests.factories import PASSWORD, make_certificate, make_user

pytestmark = pytest.mark.django_db


def verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_api_log", stdout=out)
    except CommandError as exc:
        return 1, str(exc)
    return 0, out.getvalue()


def claimed_at(tf_api, when, **lead) -> Certificate:
    """A certificate claimed through the sandbox at `when` (our clock only; the sandbox keeps its own)."""
    minted = tf_api.mint(email=lead.get("email", ""), phone=lead.get("phone", ""))
    with time_machine.travel(when, tick=True):
        certificate = make_certificate(minted["cert_url"], reference=lead.pop("reference", "LEAD"), **lead)
        claiming.claim_certificate(certificate)
    certificate.refresh_from_db()
    return certificate


@pytest.fixture
def four(tf_api, settings):
    settings.RETENTION_YEARS = 5
    long_ago = timezone.now() - timedelta(days=365 * 6)
    return {
        "old": claimed_at(tf_api, long_ago, email="old@example.com", phone="5135550001"),
        "old_held": claimed_at(tf_api, long_ago, email="held@example.com", phone="5135550002"),
        "old_released": claimed_at(tf_api, long_ago, email="freed@example.com", phone="5135550003"),
        "recent": claimed_at(
            tf_api, timezone.now() - timedelta(days=365), email="new@example.com", phone="5135550004"
        ),
    }


def test_retention_anonymises_exactly_the_rows_past_the_period_on_no_hold_and_the_log_still_verifies(four):
    holds.place_hold(name="Case 1", user=None, phone="5135550002")
    released = holds.place_hold(name="Old case", user=None, phone="5135550003")
    holds.release_hold(released, user=None, reason="Settled.")
    assert verify()[0] == 0
    before = {name: Claim.objects.get(certificate=c).raw_response for name, c in four.items()}

    out = io.StringIO()
    call_command("apply_retention", stdout=out)

    assert "Anonymised 2 certificates" in out.getvalue() and "1 past the period left whole" in out.getvalue()
    for name in ("old", "old_released"):
        c = Certificate.objects.get(pk=four[name].pk)
        assert (c.lead_email, c.lead_phone, c.reference, c.email_normalised, c.phone_normalised) == ("",) * 5
        assert c.anonymised_at is not None
        assert Claim.objects.get(certificate=c).raw_response == {}
        assert Claim.objects.get(certificate=c).outcome == four[name].outcome  # the result stays
        call = ApiCall.objects.get(certificate=c, operation="claim")
        assert (call.request_body, call.response_body) == ("", "") and call.bodies_pruned_at
    for name in ("old_held", "recent"):
        c = Certificate.objects.get(pk=four[name].pk)
        assert c.lead_email == four[name].lead_email and c.anonymised_at is None
        assert Claim.objects.get(certificate=c).raw_response == before[name] != {}
        assert ApiCall.objects.get(certificate=c, operation="claim").request_body
    code, message = verify()
    assert code == 0, message


def test_a_dry_run_counts_and_changes_nothing(four):
    holds.place_hold(name="Case 1", user=None, phone="5135550002")

    out = io.StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)

    assert "Would anonymise 2 certificates" in out.getvalue()
    assert not Certificate.objects.filter(anonymised_at__isnull=False).exists()
    assert not ApiCall.objects.filter(bodies_pruned_at__isnull=False).exists()
    run = RetentionRun.objects.get()
    assert (run.dry_run, run.certificates, run.held_skipped, run.api_calls, run.claims) == (True, 2, 1, 2, 2)


def test_a_claim_changed_after_retention_is_still_found(four):
    call_command("apply_retention", stdout=io.StringIO())
    claim = Claim.objects.get(certificate=four["old"])

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Claim._meta.db_table} SET outcome = 'failure', reason = 'forged' WHERE id = %s",
            [claim.pk],
        )
    code, message = verify()

    assert code == 1 and f"claim {claim.pk}" in message and "altered" in message


def test_a_retention_record_cannot_launder_a_forged_claim(four):
    """Re-recording a claim is accepted only from exactly the digest its call recorded."""
    claim = Claim.objects.get(certificate=four["recent"])
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Claim._meta.db_table} SET reason = 'forged' WHERE id = %s", [claim.pk])
    assert verify()[0] == 1

    call_command("apply_retention", stdout=io.StringIO())  # does not touch the recent claim

    assert verify()[0] == 1


def test_retention_runs_once_and_a_second_run_finds_nothing(four):
    retention.apply_retention()
    second = retention.apply_retention()

    assert second.certificates == 0 and verify()[0] == 0


def test_the_period_is_counted_from_the_last_claim_and_never_shorter_than_four_years(four, settings):
    assert (
        retention.retention_cutoff(timezone.datetime(2028, 2, 29, tzinfo=timezone.UTC), 5).date().isoformat()
        == "2023-02-28"
    )
    settings.RETENTION_YEARS = 7
    assert retention.apply_retention(dry_run=True).certificates == 0

    import subprocess
    import sys

    from django.core.exceptions import ImproperlyConfigured

    refused = subprocess.run(
        [sys.executable, "-c", "import tfdash.settings"],
        env={"RETENTION_YEARS": "3", "DEBUG": "True", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode != 0 and "at least 4 years" in refused.stderr
    assert ImproperlyConfigured.__name__ in refused.stderr


def test_the_settings_page_shows_the_policy_and_the_next_run(client, four):
    admin = make_user("admin")
    client.login(username=admin.username, password=PASSWORD)

    page = client.get(reverse("settings")).content.decode()
    assert "5 years" in page and "Next run" in page and "never" in page
    retention.apply_retention()
    page = client.get(reverse("settings")).content.decode()
    assert "3 anonymised" in page
    tomorrow = (timezone.now() + timedelta(days=1)).date()
    assert retention.next_run().date() == tomorrow


def test_the_certificate_page_says_it_was_anonymised(client, four):
    retention.apply_retention()
    analyst = make_user("analyst")
    client.login(username=analyst.username, password=PASSWORD)

    page = client.get(four["old"].get_absolute_url()).content.decode()

    assert 'data-testid="anonymised"' in page and "old@example.com" not in page

"""Unclaimed certificates (not claimable, expired, on hold, cancelled) wait in the review queue until a
person decides or acts, each row saying what they can do; the list's "To review" is exactly the queue."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from certificates import claiming, models, reviewing, sweeping
from certificates.intake.batches import cancel_batch
from certificates.intake.importer import LeadImporter
from certificates.models import AccountStatus, Certificate, ImportBatch
from tests.factories import make_certificate, make_user
from trustedform import TrustedFormError

pytestmark = pytest.mark.django_db

QUEUE = reverse("certificates:review-queue")
LIST = reverse("certificates:list")
UNCLAIMED = ["error", "expired", "held", "cancelled"]


def in_state(state: str, **fields) -> Certificate:
    certificate = make_certificate()
    Certificate.objects.filter(pk=certificate.pk).update(state=state, **fields)
    certificate.refresh_from_db()
    return certificate


def queued() -> set[int]:
    """Every certificate the queue holds, checked against the rule and the count the home page shows."""
    shown = {c.pk for c in reviewing.review_queue(limit=1000)}
    assert shown == set(Certificate.objects.needing_review().values_list("pk", flat=True))
    assert reviewing.count_waiting() == len(shown)
    return shown


def test_every_unclaimed_state_waits_in_the_queue_and_nothing_else_does():
    unclaimed = {state: in_state(state, state_reason=f"why {state}").pk for state in UNCLAIMED}
    failed = in_state("claimed", outcome="failure", review_status="open").pk
    in_state("claimed", outcome="success")
    make_certificate()  # pending

    assert queued() == {*unclaimed.values(), failed}


@pytest.mark.parametrize("state", UNCLAIMED)
@pytest.mark.parametrize("decision", ["accepted", "rejected"])
def test_a_decision_takes_an_unclaimed_certificate_out_of_the_queue(state, decision):
    one, several = in_state(state), [in_state(state).pk, in_state(state).pk]
    analyst = make_user("analyst")

    reviewing.review_certificate(one, reviewer=analyst, decision=decision, note="Vendor never sent it.")
    reviewing.review_certificates(several, reviewer=analyst, decision=decision, note="Same batch.")

    assert queued() == set()
    assert set(Certificate.objects.values_list("review_status", flat=True)) == {decision}


def test_the_worker_and_the_sweep_put_what_they_give_up_on_in_the_queue():
    refused = make_certificate()
    claiming.apply_claim_error(refused, TrustedFormError("sandbox certificate", status=409), trigger="test")
    gone = make_certificate()
    claiming.apply_claim_error(gone, TrustedFormError("not found", status=404), trigger="test")
    overdue = make_certificate()
    Certificate.objects.filter(pk=overdue.pk).update(claim_deadline=timezone.now() - timedelta(days=1))
    AccountStatus.objects.update_or_create(pk=1, defaults={"claiming_paused": True})  # no check-in calls
    sweeping.sweep()
    importer = LeadImporter(batch=ImportBatch.objects.create(source=ImportBatch.Source.API))
    importer.add(1, {"cert_url": f"https://cert.trustedform.com/{'c' * 40}", "vendor": "Cancelled Leads"})
    importer.finish()
    cancel_batch(importer.batch)

    states = dict(Certificate.objects.filter(pk__in=queued()).values_list("pk", "state"))

    assert states[refused.pk] == "error"
    assert states[gone.pk] == "expired"
    assert states[overdue.pk] == "expired"
    assert sorted(states.values()) == ["cancelled", "error", "expired", "expired"]


def test_a_corrected_lead_on_hold_leaves_the_queue_without_a_decision():
    held = in_state("held", state_reason="A v4 claim needs the lead's email or phone.")
    assert held.pk in queued()

    Certificate.objects.filter(pk=held.pk).update(state="pending", state_reason="")

    assert held.pk not in queued()


def test_each_row_says_why_it_is_here_and_what_can_be_done(client):
    client.force_login(make_user("analyst"))
    rows = {state: in_state(state, state_reason=f"reason for {state}") for state in UNCLAIMED}
    failed = in_state("claimed", outcome="failure", outcome_reason="email mismatch", review_status="open")

    response = client.get(QUEUE)

    assert response.status_code == 200
    table = response.context["table"]
    why = {row.record.state: row.get_cell("why") for row in table.rows}
    action = {row.record.state: row.get_cell("action") for row in table.rows}
    assert "not claimable: reason for error" in why["error"]
    assert "expired before it was claimed: reason for expired" in why["expired"]
    assert "on hold: reason for held" in why["held"]
    assert "cancelled: reason for cancelled" in why["cancelled"]
    assert "claim failed: email mismatch" in why["claimed"]
    held_url = rows["held"].get_absolute_url()
    assert f'href="{held_url}#correct-lead"' in action["held"] and "Correct the lead" in action["held"]
    assert f'href="{rows["cancelled"].get_absolute_url()}"' in action["cancelled"]
    for state in ("error", "expired"):
        assert "we accept losing its evidence" in action[state] and "reject the lead" in action[state]
    assert "Accept or reject" in action["claimed"]
    # The anchor exists where the held row points: the certificate page's correction form.
    page = client.get(held_url).content.decode()
    assert 'id="correct-lead"' in page
    assert failed.pk in {row.record.pk for row in table.rows}


def test_rejecting_selected_not_claimable_rows_from_the_queue_empties_it(client):
    client.force_login(make_user("analyst"))
    rows = [in_state("error"), in_state("expired")]

    response = client.post(
        QUEUE,
        {"certificates": [c.pk for c in rows], "decision": "rejected", "note": "Vendor sent dead leads."},
        follow=True,
    )

    assert "2 certificates rejected, with your note." in response.content.decode()
    assert list(response.context["table"].rows) == []


def test_to_review_in_the_list_is_exactly_the_queue(client):
    client.force_login(make_user("analyst"))
    for state in UNCLAIMED:
        in_state(state)
    in_state("error", review_status="accepted")
    in_state("claimed", outcome="failure", review_status="open")
    in_state("claimed", outcome="success")
    make_certificate()

    listed = client.get(LIST, {"review": "open"}).context["table"].page.object_list
    not_needed = client.get(LIST, {"review": "none"}).context["table"].page.object_list

    assert {row.record.pk for row in listed} == queued()
    assert len(queued()) == 5
    assert {row.record.state for row in not_needed} == {"claimed", "pending"}


def test_the_queue_is_oldest_first_across_both_halves():
    now = timezone.now()
    ages = {"error": 5, "claimed": 4, "expired": 3, "cancelled": 2, "held": 1}
    for state, hours in ages.items():
        extra = {"outcome": "failure", "review_status": "open"} if state == "claimed" else {}
        in_state(state, received_at=now - timedelta(hours=hours), **extra)

    assert [c.state for c in reviewing.review_queue()] == list(ages)
    assert [c.state for c in reviewing.review_queue(limit=2)] == ["error", "claimed"]


@pytest.mark.parametrize("half", ["REVIEW_FAILED_CHECKS", "REVIEW_UNCLAIMED_UNDECIDED"])
def test_each_half_of_the_queue_reads_an_index_not_the_whole_table(half):
    for _ in range(3):
        make_certificate()
    query = Certificate.objects.filter(getattr(models, half)).order_by("received_at", "id")[:51]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " | ".join(row[-1] for row in cursor.fetchall())
            expected = {
                "REVIEW_FAILED_CHECKS": "cert_review_queue_idx",
                "REVIEW_UNCLAIMED_UNDECIDED": "cert_state_received_idx",
            }
            assert f"USING INDEX {expected[half]}" in plan, plan
        else:
            cursor.execute("SET enable_seqscan = off")  # a three-row table would be scanned otherwise
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = " | ".join(row[0] for row in cursor.fetchall())
            cursor.execute("RESET enable_seqscan")
            assert "Seq Scan on certificates_certificate" not in plan, plan


def test_the_queue_page_is_three_queries_however_many_wait(django_assert_num_queries):
    for state in [*UNCLAIMED, *UNCLAIMED]:
        in_state(state)
    in_state("claimed", outcome="failure", review_status="open")

    with django_assert_num_queries(3):  # each half, then the vendors of the rows kept
        rows = reviewing.review_queue()
        names = {c.vendor.name for c in rows}

    assert len(rows) == 9 and len(names) == 9

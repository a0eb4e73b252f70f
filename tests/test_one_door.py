"""The one door: a lease with a fencing token, re-checked before each request leaves, and the API-call
row written before the request is sent (write-ahead). Over real sockets against the sandbox."""

import base64
import time
import urllib.parse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from certificates import claiming, leasing
from certificates.apilog import verification
from certificates.apilog.models import ApiLogHead
from certificates.models import ApiCall, Certificate
from certificates.redaction import REDACTED, redact
from tests.factories import make_certificate, make_user, make_vendor
from trustedform import CallRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(tf_api) -> Certificate:
    minted = tf_api.mint(email="jane@example.com")
    return make_certificate(minted["cert_url"], vendor=make_vendor("Acme Leads"), email="jane@example.com")


def sandbox_requests(tf_api, certificate) -> int:
    return len(tf_api.requests(cert_id=certificate.cert_id))


def test_a_sender_whose_lease_was_taken_over_sends_nothing_and_logs_nothing(tf_api, pending):
    stale = leasing.take(pending, owner="worker stalled")
    Certificate.objects.filter(pk=pending.pk).update(lease_expires_at=timezone.now())  # it ran out
    fresh = leasing.take(pending, owner="worker other")
    job = claiming.job_for(pending, stale, trigger="worker stalled")

    attempt = claiming.attempt_claim(claiming.get_client(), job)

    assert fresh.fence == stale.fence + 1 and fresh.orphaned
    assert isinstance(attempt.fenced, leasing.Fenced) and attempt.result is None and attempt.error is None
    assert sandbox_requests(tf_api, pending) == 0
    assert not ApiCall.objects.exists()


def test_a_live_lease_is_reported_not_shared(tf_api, pending):
    leasing.take(pending, owner="worker busy")

    with pytest.raises(leasing.LeaseHeld, match="The background worker is already sending"):
        claiming.claim_certificate(pending)
    assert sandbox_requests(tf_api, pending) == 0


def test_a_certificate_cancelled_while_leased_is_never_sent(tf_api, pending):
    lease = leasing.take(pending, owner="worker w")
    Certificate.objects.filter(pk=pending.pk).update(state=Certificate.State.CANCELLED)

    attempt = claiming.attempt_claim(
        claiming.get_client(), claiming.job_for(pending, lease, trigger="worker w")
    )

    assert attempt.fenced is not None and sandbox_requests(tf_api, pending) == 0


def test_the_request_is_logged_before_it_is_sent_and_completed_after(tf_api, pending):
    seen_in_log_while_out = []
    lease = leasing.take(pending, owner="web test")
    guard = leasing.guard(lease, certificate_id=pending.pk, trigger="web")

    def before_send(call):
        guard(call)
        seen_in_log_while_out.append(ApiCall.objects.get(pk=call.log_ref.pk).outcome)

    result = claiming.get_client().claim(
        pending.cert_url, claiming.lead_for(pending), before_send=before_send
    )
    logged = claiming.record_call(result.call, certificate=pending, trigger="web")

    assert seen_in_log_while_out == [ApiCall.Outcome.SENT]
    assert (logged.pk, logged.outcome, logged.status, logged.fence) == (
        result.call.log_ref.pk,
        ApiCall.Outcome.OK,
        200,
        lease.fence,
    )
    assert logged.answer_seq == logged.seq + 1


def test_a_row_left_without_an_answer_shows_as_such_and_names_the_look_up_that_resolved_it(
    client, tf_api, pending
):
    lease = leasing.take(pending, owner="worker died")
    # A worker cleared its claim through the door (row written, committed) and died before sending.
    request = CallRecord("claim", "POST", pending.cert_url, "4.0", "{}", started_at=time.time())
    leasing.guard(lease, certificate_id=pending.pk, trigger="worker died")(request)
    Certificate.objects.filter(pk=pending.pk).update(lease_expires_at=timezone.now())
    claiming.claim_certificate(pending)  # the next sender sees the unanswered row and looks first
    orphan = ApiCall.objects.get(outcome=ApiCall.Outcome.SENT)
    look_up = ApiCall.objects.get(operation="view")
    client.force_login(make_user("admin"))

    page = client.get(reverse("certificates:api-call", args=[orphan.pk])).content.decode()

    assert look_up.seq > orphan.seq
    assert "Sent, no answer recorded" in page
    assert f'href="{look_up.get_absolute_url()}"' in page and "resolved by" in page


def test_redaction_removes_the_key_in_every_spelling_a_stored_text_can_carry(settings):
    key = settings.TRUSTEDFORM_API_KEY
    spellings = [
        key,
        key.lower(),
        key.upper(),
        urllib.parse.quote(key, safe=""),
        base64.b64encode(f"API:{key}".encode()).decode(),
        base64.b64encode(f":{key}".encode()).decode(),
    ]
    echoed = "\n".join(f"seen: {s}" for s in spellings) + f"\nAuthorization: Basic {spellings[4]}"

    cleaned = redact(echoed)

    for spelling in spellings:
        assert spelling not in cleaned
    assert cleaned.count(REDACTED) == len(spellings) + 1


def test_an_echoed_authorization_header_never_reaches_the_log(tf_api, pending, settings):
    key = settings.TRUSTEDFORM_API_KEY
    credential = base64.b64encode(f"API:{key}".encode()).decode()
    tf_api.cert_faults(
        pending.cert_id, respond={"status": 500, "body": f"proxy echo: Basic {credential} {key.lower()}"}
    )

    with pytest.raises(claiming.TrustedFormError):
        claiming.claim_certificate(pending)

    stored = ApiCall.objects.get()
    assert credential not in stored.response_body and key.lower() not in stored.response_body
    assert REDACTED in stored.response_body


def test_requests_cleared_together_refuse_only_the_one_whose_lease_was_taken_over(tf_api):
    vendor = make_vendor("Acme Leads")
    minted = tf_api.mint_many(3, email="jane@example.com")
    first, taken_over, third = [
        make_certificate(m["cert_url"], vendor=vendor, email="jane@example.com") for m in minted
    ]
    leases = [leasing.take(c, owner="worker w") for c in (first, taken_over, third)]
    Certificate.objects.filter(pk=taken_over.pk).update(lease_expires_at=timezone.now())
    leasing.take(taken_over, owner="worker other")
    calls = [
        CallRecord("claim", "POST", c.cert_url, "4.0", "{}", started_at=time.time())
        for c in (first, taken_over, third)
    ]

    refusals = leasing.clear_sends(
        [
            leasing.Send(lease, lease.certificate_id, call, None, "worker w")
            for lease, call in zip(leases, calls, strict=True)
        ]
    )

    assert [type(r).__name__ if r else None for r in refusals] == [None, "Fenced", None]
    logged = ApiCall.objects.order_by("seq")
    assert [(c.certificate_id, c.fence, c.outcome) for c in logged] == [
        (first.pk, leases[0].fence, ApiCall.Outcome.SENT),
        (third.pk, leases[2].fence, ApiCall.Outcome.SENT),
    ]
    assert [c.log_ref.pk if c.log_ref else None for c in calls] == [logged[0].pk, None, logged[1].pk]
    assert verification.verify().intact


def test_entries_written_together_move_the_chain_head_once_and_verify(tf_api, pending):
    lease = leasing.take(pending, owner="worker w")
    calls = [CallRecord("view", "GET", pending.cert_url, "4.0", "", started_at=time.time()) for _ in range(3)]

    with CaptureQueriesContext(connection) as queries:
        leasing.clear_sends([leasing.Send(lease, pending.pk, call, None, "worker w") for call in calls])

    head_writes = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "certificates_apiloghead"')]
    assert len(head_writes) == 1
    assert ApiLogHead.objects.get().last_seq == 3 == ApiCall.objects.count()
    assert list(ApiCall.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]
    assert verification.verify().intact


def test_a_sender_stopped_after_its_request_was_cleared_sends_nothing_once_the_lease_can_be_taken_over(
    tf_api, pending, settings
):
    """The stall the fence alone cannot see: stopped after the guard cleared the request and before it
    left, for longer than the lease. Another sender takes over, looks the certificate up and claims it;
    when the first one resumes, its request's send-by time has passed and it sends nothing."""
    settings.CLAIM_LEASE_SECONDS = 0.4
    stale = leasing.take(pending, owner="worker stalled")
    job = claiming.job_for(pending, stale, trigger="worker stalled")
    guard = job.guard()
    taken_over = []

    def cleared_then_stopped(call):
        guard(call)
        assert call.send_by is not None and call.send_by <= time.time() + 0.2
        time.sleep(0.45)  # stopped past the lease (and so past the send-by time, half of it)
        taken_over.append(claiming.claim_certificate(pending, trigger="worker other"))

    attempt = claiming.attempt_claim(claiming.get_client(), job, before_send=cleared_then_stopped)
    claiming.record_under_lease(pending, attempt)

    assert attempt.error is not None and attempt.error.not_sent and attempt.result is None
    assert len(tf_api.certificate(pending.cert_id)["claims"]) == 1
    assert [r["method"] for r in tf_api.requests(cert_id=pending.cert_id)] == ["GET", "POST"]
    stale_row, look_up, claim = ApiCall.objects.order_by("seq")
    assert stale_row.fence == stale.fence and stale_row.outcome == ApiCall.Outcome.ERROR
    assert stale_row.error.startswith("Not sent:")
    assert (look_up.operation, look_up.status, claim.operation, claim.status) == ("view", 404, "claim", 200)
    pending.refresh_from_db()
    assert pending.state == Certificate.State.CLAIMED and taken_over[0].certificate_id == pending.pk
    assert verification.verify().intact


def test_a_cleared_request_must_leave_within_half_of_the_lease_renewed_with_it(tf_api, pending, settings):
    settings.CLAIM_LEASE_SECONDS = 60
    lease = leasing.take(pending, owner="worker w")
    leased, unleased = (
        CallRecord("claim", "POST", pending.cert_url, "4.0", "{}", started_at=time.time()) for _ in range(2)
    )
    before = time.time()

    leasing.clear_sends(
        [leasing.Send(lease, pending.pk, leased, None, "worker w"), leasing.Send(None, None, unleased)]
    )

    expires = Certificate.objects.get(pk=pending.pk).lease_expires_at.timestamp()
    assert leased.send_by == pytest.approx(expires - 30, abs=0.01) and leased.send_by >= before + 30
    assert unleased.send_by is None  # no lease (a command's certificate tfdash does not hold): no one to race


def test_a_request_held_up_while_the_lease_is_still_ours_is_not_an_attempt_and_goes_again_at_once(
    tf_api, pending, settings
):
    settings.CLAIM_LEASE_SECONDS = 0.4
    lease = leasing.take(pending, owner="web test")
    job = claiming.job_for(pending, lease, trigger="web")
    guard = job.guard()

    def cleared_then_slow(call):
        guard(call)
        time.sleep(0.25)  # past the send-by time (0.2 s), not past the lease (0.4 s)

    attempt = claiming.attempt_claim(claiming.get_client(), job, before_send=cleared_then_slow)
    claiming.record_under_lease(pending, attempt)

    pending.refresh_from_db()
    assert attempt.error is not None and attempt.error.not_sent
    assert tf_api.requests(cert_id=pending.cert_id) == []
    assert pending.state == Certificate.State.PENDING and pending.attempts == 0
    assert pending.next_attempt_at <= timezone.now() and pending.last_error.startswith("Not sent:")
    assert ApiCall.objects.get().outcome == ApiCall.Outcome.ERROR

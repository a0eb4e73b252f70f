"""Every door at once, with a real worker running and TrustedForm slow (3 s a request): the claim form
submitted twice at once, "Claim now" on certificates the worker has leased, and "Claim selected" sent
twice. Each certificate is billed exactly once, counted at the sandbox, and each page says what
happened to the request that did not send. Runs on SQLite and, under `make test`, on PostgreSQL."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from certificates import claiming
from certificates.apilog import verification
from certificates.models import ApiCall, Certificate
from tests.factories import make_user
from tests.test_worker_processes import import_minted, manage, start_worker, stop, wait_for, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

LATENCY_MS = 3000
CLAIMED_OR_REPORTED = ("Claimed: outcome", "Not sent again:", "Not claimed again:")


def at_once(*requests):
    """Run each request in its own thread (own client, own connection), all released together."""
    start, results = threading.Barrier(len(requests)), [None] * len(requests)

    def run(index, send):
        try:
            start.wait()
            results[index] = send()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def said(response) -> str:
    return " | ".join(str(m) for m in get_messages(response.wsgi_request))


def billed(tf_api, certificates) -> Counter:
    return Counter({c.cert_id: len(tf_api.certificate(c.cert_id)["claims"]) for c in certificates})


@pytest.fixture
def slow_sandbox_with_worker(tf_api, tmp_path, settings):
    settings.TRUSTEDFORM_READ_TIMEOUT = 20
    claiming.get_client.cache_clear()
    tf_api.set_faults(latency_ms=LATENCY_MS)
    env = {**worker_env(tf_api.base_url), "CLAIM_LEASE_SECONDS": "40", "TRUSTEDFORM_READ_TIMEOUT": "20"}
    log = tmp_path / "workers.log"
    processes = [start_worker(env, log), manage("run_scheduler", "--every", "0.5", env=env, log=log)]
    yield tf_api
    stop(*processes)
    claiming.get_client.cache_clear()


def analyst_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_claim_form_submitted_twice_at_once_bills_once(slow_sandbox_with_worker):
    tf_api = slow_sandbox_with_worker
    user = make_user("analyst")
    minted = tf_api.mint_many(3, email="jane@example.com")
    responses = []
    for cert in minted:
        data = {"cert_url": cert["cert_url"], "vendor": "Acme Leads", "email": "jane@example.com"}
        responses += at_once(
            *[lambda data=data: analyst_client(user).post(reverse("certificates:claim"), data, follow=True)]
            * 2
        )

    assert all(r.status_code == 200 for r in responses)
    messages = [said(r) for r in responses]
    assert all(any(m in text for m in CLAIMED_OR_REPORTED) for text in messages), messages
    # The second submit found the first (or the worker) sending, and said so instead of sending.
    assert sum("Not sent again:" in text for text in messages) >= 3, messages
    certificates = list(Certificate.objects.all())
    assert len(certificates) == 3
    wait_for(lambda: not Certificate.objects.filter(state="pending").exists(), 60, "every claim to land")
    assert set(billed(tf_api, certificates).values()) == {1}
    assert verification.verify().intact


def test_claim_now_on_certificates_the_worker_has_leased_sends_nothing_more(slow_sandbox_with_worker):
    tf_api = slow_sandbox_with_worker
    user = make_user("analyst")
    certificates = import_minted(tf_api.mint_many(8, email="jane@example.com"))
    wait_for(
        lambda: Certificate.objects.filter(lease_owner__startswith="worker").count() == 8,
        30,
        "the worker to lease all eight",
    )

    client = analyst_client(user)
    responses = [
        client.post(reverse("certificates:claim-now", args=[c.pk]), follow=True) for c in certificates
    ]

    for response in responses:
        assert "The background worker is already sending this certificate" in said(response)
    wait_for(lambda: not Certificate.objects.filter(state="pending").exists(), 60, "the worker to finish")
    assert set(billed(tf_api, certificates).values()) == {1}
    assert not ApiCall.objects.filter(trigger__startswith="web").exists()


def test_claim_selected_twice_at_once_bills_each_once(slow_sandbox_with_worker):
    tf_api = slow_sandbox_with_worker
    user = make_user("analyst")
    certificates = import_minted(tf_api.mint_many(10, email="jane@example.com"))
    # Not due for an hour: only "Claim selected" makes them due now.
    Certificate.objects.update(next_attempt_at=timezone.now() + timedelta(hours=1))
    data = {"certificates": [c.pk for c in certificates]}

    first, second = at_once(
        *[lambda: analyst_client(user).post(reverse("certificates:claim-selected"), data, follow=True)] * 2
    )

    for response in (first, second):
        assert response.status_code == 200 and "queued: the worker claims them now, each once" in said(
            response
        )
    wait_for(lambda: not Certificate.objects.filter(state="pending").exists(), 60, "the worker to claim them")
    assert set(billed(tf_api, certificates).values()) == {1}
    again = analyst_client(user).post(reverse("certificates:claim-selected"), data, follow=True)
    assert "0 queued" in said(again) and "10 already have a final answer (not claimed again" in said(again)

"""Alerts with real worker processes: a refused key sends one alert, and an alert whose worker was killed
before it could deliver it is delivered after a restart, once."""

import os
import signal

import pytest

from certificates.alerts.models import Alert, AlertDelivery
from certificates.models import AccountStatus
from tests.test_alerts import LEAD_EMAIL, LEAD_PHONE, Webhook
from tests.test_worker_processes import (
    import_minted,
    manage,
    start_worker,
    stop,
    sweep_once,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.django_db(transaction=True)

WRONG_KEY = "tfk_wrong_key_0000000000000000000000"


def alert_env(tf_api, webhook_url: str) -> dict[str, str]:
    return {
        **worker_env(tf_api.base_url),
        "TRUSTEDFORM_API_KEY": WRONG_KEY,
        "ALERT_WEBHOOK_URL": webhook_url,
        "ALERT_RETRY_BASE_SECONDS": "0.5",
        # No daily digest (its hour never comes): from 08:00 the sweep would send one beside the pause.
        "ALERT_DIGEST_HOUR": "24",
    }


def paused_posts(webhook: Webhook) -> list[dict]:
    return [body for body in webhook.bodies() if body["event"] == "claiming_paused"]


def test_a_refused_key_sends_exactly_one_claiming_paused_webhook_without_secrets(tf_api, tmp_path, api_key):
    webhook = Webhook()
    import_minted(tf_api.mint_many(3, email=LEAD_EMAIL, phone=LEAD_PHONE))
    env, log = alert_env(tf_api, webhook.url), tmp_path / "workers.log"

    sweep_once(env, log)
    worker = start_worker(env, log)
    try:
        wait_for(lambda: paused_posts(webhook), 60, "the claiming_paused webhook", log)
        wait_for(
            lambda: not AlertDelivery.objects.exclude(state="sent").exists(), 30, "deliveries to settle", log
        )
    finally:
        stop(worker)
        webhook.server.shutdown()

    assert AccountStatus.current().claiming_paused
    assert len(paused_posts(webhook)) == 1
    everything = b"".join(body for _, body in webhook.received).decode()
    for secret in (WRONG_KEY, api_key, LEAD_EMAIL, LEAD_PHONE):
        assert secret not in everything


def test_an_alert_left_undelivered_by_a_killed_worker_is_delivered_after_a_restart_once(tf_api, tmp_path):
    webhook = Webhook()
    url = webhook.url
    webhook.server.shutdown()
    webhook.server.server_close()  # nothing listens yet: the first worker's attempt is refused
    import_minted(tf_api.mint_many(2, email=LEAD_EMAIL))
    env, log = alert_env(tf_api, url), tmp_path / "workers.log"

    sweep_once(env, log)
    first = start_worker(env, log)
    try:
        wait_for(
            lambda: AlertDelivery.objects.filter(attempts__gte=1).exists(), 60, "a refused delivery", log
        )
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    assert AlertDelivery.objects.get().state == "pending"

    receiver = Webhook(port=int(url.split(":")[2].split("/")[0]))
    second = start_worker(env, log)
    scheduler = manage("run_scheduler", "--every", "1", env=env, log=log)
    try:
        wait_for(lambda: AlertDelivery.objects.filter(state="sent").exists(), 60, "the delivery", log)
    finally:
        stop(second, scheduler)
        receiver.server.shutdown()

    assert len(paused_posts(receiver)) == 1  # delivered once, after the restart
    assert Alert.objects.get(event="claiming_paused").deliveries.get().attempts >= 2

"""Alerts over real sockets: an SMTP server (aiosmtpd) and a webhook receiver started by the test."""

import hashlib
import hmac
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from certificates import claiming, pausing, sweeping, worker
from certificates.alerts import delivery
from certificates.alerts.models import Alert, AlertDelivery
from certificates.alerts.raising import raise_alert
from certificates.models import AccountStatus, Certificate
from tests.factories import make_certificate, make_user, make_vendor
from tests.support.sandbox import free_port

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "webhook-signing-secret"
LEAD_EMAIL = "jane.consumer@example.com"
LEAD_PHONE = "6145550142"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(settings) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": controller.port},
        }
    }
    settings.ALERT_EMAILS = ["compliance@example.com"]
    yield mailbox
    controller.stop()


class Webhook:
    """A local receiver: records each POST and answers the next status in `answers` (then 200)."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"invalid_payload" if status == 400 else b"ok")

            def log_message(self, *args) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def webhook(settings) -> Iterator[Webhook]:
    receiver = Webhook()
    settings.ALERT_WEBHOOK_URL = receiver.url
    settings.ALERT_WEBHOOK_SECRET = SECRET
    yield receiver
    receiver.server.shutdown()


def paused_alert() -> Alert:
    return raise_alert(
        Alert.Event.CLAIMING_PAUSED, subject="account", severity=Alert.Severity.CRITICAL, summary="Paused."
    )


def test_an_alert_reaches_the_team_by_email_and_by_a_signed_webhook(smtp, webhook):
    alert = paused_alert()  # the test's task backend runs the delivery task when the alert commits

    assert set(alert.deliveries.values_list("channel", "state")) == {("email", "sent"), ("webhook", "sent")}
    (email,) = smtp.messages
    assert email["To"] == "compliance@example.com"
    assert email["Subject"] == "[tfdash] Critical: Paused."
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in email.walk()
        if not p.is_multipart()
    }
    assert "Paused." in parts["text/plain"] and "/certificates/alerts/" in parts["text/plain"]
    assert "<a href=" in parts["text/html"]
    ((headers, body),) = webhook.received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[delivery.SIGNATURE_HEADER] == expected
    sent = json.loads(body)
    assert sent["text"].startswith("[tfdash] Critical: Paused.")  # what Slack and Teams show
    assert {k: sent[k] for k in ("event", "severity", "subject", "count")} == {
        "event": "claiming_paused",
        "severity": "critical",
        "subject": "account",
        "count": 1,
    }
    assert sent["url"].endswith(f"/certificates/alerts/#alert-{alert.pk}")
    assert {"first_seen", "last_seen"} <= set(sent)


def test_repeats_of_an_open_alert_are_counted_not_sent_again(webhook):
    first = paused_alert()
    for _ in range(5):
        again = paused_alert()

    assert again.pk == first.pk
    assert Alert.objects.get().count == 6
    assert len(webhook.received) == 1


def test_a_5xx_is_tried_again_and_delivers_once(webhook):
    webhook.answers = [503]

    alert = paused_alert()
    retry = alert.deliveries.get()
    assert (retry.state, retry.attempts, retry.last_status) == ("pending", 1, 503)

    AlertDelivery.objects.filter(pk=retry.pk).update(next_attempt_at=retry.created_at)  # its backoff is over
    assert delivery.deliver_due() == 1
    assert delivery.deliver_due() == 0  # nothing left to send

    retry.refresh_from_db()
    assert (retry.state, retry.attempts) == ("sent", 2)
    assert len(webhook.received) == 2 and webhook.bodies()[0] == webhook.bodies()[1]


def test_a_4xx_is_final_and_the_alerts_page_shows_why(client, webhook):
    webhook.answers = [400]
    paused_alert()
    client.force_login(make_user("viewer"))

    failed = AlertDelivery.objects.get()
    page = client.get(reverse("certificates:alerts")).content.decode()

    assert (failed.state, failed.attempts, failed.last_status) == ("failed", 1, 400)
    assert "The webhook answered 400: invalid_payload" in page
    assert "XXXX" not in page and "/services/" not in page  # the webhook URL is a secret: its host only
    assert delivery.deliver_due() == 0


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://hooks.slack.com/services/T/B/X", True),
        ("http://127.0.0.1:9000/hook", True),
        ("http://localhost/hook", True),
        ("http://hooks.example.com/hook", False),
        ("ftp://hooks.example.com/hook", False),
        ("https:///nohost", False),
    ],
)
def test_webhooks_go_over_https_except_to_this_machine(url, accepted):
    assert (delivery.webhook_url_problem(url) == "") is accepted


def test_a_webhook_tfdash_refuses_is_shown_as_failed_and_never_sent(settings):
    settings.ALERT_WEBHOOK_URL = "http://hooks.example.com/hook"

    paused_alert()

    failed = AlertDelivery.objects.get()
    assert failed.state == "failed" and "must use https://" in failed.last_error


def test_a_refused_key_pauses_claiming_and_sends_one_alert_without_the_key_or_the_leads(
    tf_api, api_key, webhook, settings
):
    settings.TRUSTEDFORM_API_KEY = "tfk_wrong_key_0000000000000000000000"
    claiming.get_client.cache_clear()
    vendor = make_vendor()
    for n in range(5):
        make_certificate(f"https://cert.trustedform.com/{n + 1:040x}", vendor=vendor, email=LEAD_EMAIL)
        Certificate.objects.filter(vendor=vendor).update(lead_phone=LEAD_PHONE)

    worker.claim_due(owner="test-worker")

    assert AccountStatus.current().claiming_paused
    paused = [b for b in webhook.bodies() if b["event"] == "claiming_paused"]
    assert len(paused) == 1, webhook.bodies()
    assert "5 certificates wait" in paused[0]["summary"]
    everything = b"".join(body for _, body in webhook.received).decode()
    for secret in (settings.TRUSTEDFORM_API_KEY, api_key, LEAD_EMAIL, LEAD_PHONE):
        assert secret not in everything
    claiming.get_client.cache_clear()


def test_resuming_claiming_resolves_the_pause_and_says_so(webhook):
    pausing.pause_claiming("401 Unauthorized")
    admin = make_user("admin")

    pausing.resume_claiming(user=admin)

    assert Alert.objects.get(event="claiming_paused").state == "resolved"
    resumed = Alert.objects.get(event="claiming_resumed")
    assert resumed.summary == f"Claiming resumed by {admin}."
    assert [b["event"] for b in webhook.bodies()] == ["claiming_paused", "claiming_resumed"]


def test_the_sweep_raises_at_risk_and_expired_alerts_and_resolves_at_risk_when_none_are_left(settings):
    settings.ALERT_AT_RISK_HOURS = 12
    soon, gone = make_certificate(), make_certificate()
    Certificate.objects.filter(pk=soon.pk).update(
        claim_deadline=soon.received_at,
        checked_in_at=soon.received_at,  # checked in: the sweep leaves it
    )
    Certificate.objects.filter(pk=gone.pk).update(claim_deadline=gone.received_at.replace(year=2020))

    sweeping.sweep()

    at_risk = Alert.objects.get(event="certificates_at_risk")
    assert at_risk.details["count"] == 1 and at_risk.path.endswith("?at_risk=yes")
    assert Alert.objects.get(event="certificates_expired_unclaimed").details == {"expired": 1}

    Certificate.objects.filter(pk=soon.pk).update(state=Certificate.State.CLAIMED)
    sweeping.sweep()
    at_risk.refresh_from_db()
    assert at_risk.state == "resolved"


def test_a_manager_acknowledges_an_alert_and_the_navigation_counts_the_open_ones(client):
    alert = paused_alert()
    manager = make_user("manager")
    client.force_login(manager)

    before = client.get(reverse("home")).content.decode()
    client.post(reverse("certificates:alert-acknowledge", args=[alert.pk]))
    after = client.get(reverse("home")).content.decode()

    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by) == ("acknowledged", manager)
    assert 'title="Open alerts">1<' in before and 'title="Open alerts"' not in after


def test_a_viewer_sees_alerts_but_cannot_acknowledge_them(client):
    alert = paused_alert()
    client.force_login(make_user("viewer"))

    assert client.get(reverse("certificates:alerts")).status_code == 200
    assert client.post(reverse("certificates:alert-acknowledge", args=[alert.pk])).status_code == 403
    assert Alert.objects.get().state == "open"


def test_send_test_alert_prints_what_each_channel_answered(smtp, webhook):
    webhook.answers = [500]
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 of 2 channels"):
        call_command("send_test_alert", stdout=out)

    lines = out.getvalue().splitlines()
    assert "Email to compliance@example.com: sent" in lines
    assert any(
        line.startswith("Webhook to 127.0.0.1: not sent yet, tried again later: The webhook answered 500")
        for line in lines
    )
    assert len(smtp.messages) == 1


def test_the_health_check_reports_alerts_not_delivered_for_15_minutes(client, settings):
    settings.ALERT_EMAILS = ["compliance@example.com"]  # the test run's mailer keeps emails in memory
    alert = raise_alert(Alert.Event.TEST, severity=Alert.Severity.INFO, summary="t")
    assert client.get(reverse("healthz")).json()["alerts"] == "ok"

    alert.deliveries.update(state="pending", created_at=alert.first_seen.replace(year=2020))

    assert client.get(reverse("healthz")).json()["alerts"] == "undelivered"


@time_machine.travel(datetime(2026, 7, 15, 12, 0, tzinfo=UTC), tick=True)  # "an hour ago" is today
def test_a_vendor_past_a_red_limit_raises_one_alert_per_metric_until_it_is_back_under(settings):
    from certificates.models import ReportThreshold
    from certificates.reports import rollups
    from tests.test_reports_pages import claimed

    now = timezone.now()
    shady, fine = make_vendor("Shady Leads"), make_vendor("Fine Leads")
    for i in range(20):
        claimed(shady, now - timedelta(hours=1), outcome="failure" if i < 10 else "success")
        claimed(fine, now - timedelta(hours=1))
    ReportThreshold.objects.update_or_create(
        metric="failure_rate", defaults={"amber": 10, "red": 30, "min_received": 20}
    )
    rollups.refresh_dirty()

    sweeping.raise_vendor_alerts()
    sweeping.raise_vendor_alerts()  # the next sweep: still past, counted on the same alert

    alert = Alert.objects.get(event="vendor_past_threshold")
    assert alert.subject == f"vendor {shady.pk}: failure_rate" and alert.count == 2
    assert alert.summary == (
        "Shady Leads is past the red limit for failure rate: 50.0 % over the last 7 days (red at 30 %), "
        f"every day with data since {now:%b %-d}."
    )
    assert alert.path == reverse("reports:vendor", args=[shady.pk])

    ReportThreshold.objects.filter(metric="failure_rate").update(red=60)
    sweeping.raise_vendor_alerts()
    alert.refresh_from_db()
    assert alert.state == "resolved"


@time_machine.travel(datetime(2026, 7, 15, 9, 30, tzinfo=UTC), tick=False)
def test_the_daily_digest_goes_out_once_after_its_hour_in_the_team_time_zone(settings, webhook):
    from certificates.reports import rollups
    from tests.test_reports_pages import claimed

    settings.TIME_ZONE, settings.ALERT_DIGEST_HOUR = "America/New_York", 8  # 05:30 there
    settings.ALERT_EMAILS = ["compliance@example.com"]
    acme = make_vendor("Acme Leads")
    yesterday = datetime(2026, 7, 14, 15, 0, tzinfo=UTC)
    claimed(acme, yesterday)
    claimed(acme, yesterday, outcome="failure")
    rollups.refresh_dirty()  # as the worker does after each batch: the scheduler reads rollups as they are

    assert sweeping.send_daily_digest(timezone.now()) is None  # before 8:00 in New York

    later = timezone.now() + timedelta(hours=3)  # 08:30 in New York
    digest = sweeping.send_daily_digest(later)
    assert sweeping.send_daily_digest(later + timedelta(hours=1)) is None  # once a day

    assert (
        digest.summary
        == "Jul 14: 2 received, 2 claimed, 1 failed, 0 expired; 0 at risk now. Most failures: Acme Leads (1)."
    )
    assert [b["event"] for b in webhook.bodies()] == ["daily_digest"]
    links = dict(webhook.bodies()[0]["details"]["links"])
    assert links["The day's vendor report"] == "/reports/vendors/?period=day&day=2026-07-14"
    assert links["Acme Leads: its report"] == reverse("reports:vendor", args=[acme.pk])
    (email,) = mail.outbox  # the test run's mailer keeps it in memory
    assert f"Acme Leads: its report: {settings.TFDASH_BASE_URL}/reports/vendors/{acme.pk}/" in email.body


def test_the_log_head_goes_to_the_channels_once_a_day_even_when_the_scheduler_restarts(webhook):
    from certificates.apilog import models as api_log

    api_log.append_api_call(
        trigger="test",
        operation="view",
        method="GET",
        url="https://cert.trustedform.com/x",
        outcome="ok",
        status=200,
    )

    for _ in range(2):  # two scheduler processes the same day (a restart)
        call_command("run_scheduler", "--once", stdout=io.StringIO())

    (head,) = Alert.objects.filter(event="api_log_head")
    assert head.details["head"] == api_log.current_head() and head.state == "resolved"
    (sent,) = [b for b in webhook.bodies() if b["event"] == "api_log_head"]  # (after 8:00, a digest too)
    assert f"verify_api_log --expect {api_log.current_head()}" in sent["summary"]

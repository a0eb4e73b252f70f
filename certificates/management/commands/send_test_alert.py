"""Send one test alert through every configured channel now, and print what each answered."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from certificates.alerts.delivery import deliver_now
from certificates.alerts.models import Alert, AlertDelivery
from certificates.alerts.raising import raise_alert, resolve_alerts


class Command(BaseCommand):
    help = "Send a test alert to ALERT_EMAILS and ALERT_WEBHOOK_URL now; exit 1 if a channel failed."

    def handle(self, *args: Any, **options: Any) -> None:
        subject = f"test {timezone.now():%Y-%m-%d %H:%M:%S.%f}"
        alert = raise_alert(
            Alert.Event.TEST,
            subject=subject,
            severity=Alert.Severity.INFO,
            summary="A test alert from tfdash: if you read this, alerts reach you.",
        )
        resolve_alerts(Alert.Event.TEST, subject=subject)
        deliveries = list(alert.deliveries.values_list("pk", flat=True))
        if not deliveries:
            raise CommandError("No channel is configured: set ALERT_EMAILS and/or ALERT_WEBHOOK_URL.")
        failed = 0
        for pk in deliveries:
            # Sent now, in this process, unless the worker already tried it: a person waits for the answer.
            delivery = deliver_now(pk) or AlertDelivery.objects.get(pk=pk)
            if delivery.state == AlertDelivery.State.SENT:
                answer = "sent"
            elif delivery.state == AlertDelivery.State.FAILED:
                answer = f"not sent: {delivery.last_error}"
            else:
                answer = f"not sent yet, tried again later: {delivery.last_error}"
            self.stdout.write(f"{delivery.get_channel_display()} to {delivery.target}: {answer}")
            failed += delivery.state != AlertDelivery.State.SENT
        if failed:
            raise CommandError(f"{failed} of {len(deliveries)} channels did not take the test alert.")

"""Each person's preferences: every time in their time zone, and the alerts they chose by email."""

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.urls import reverse

from certificates.alerts.models import Alert, Preferences
from certificates.alerts.raising import raise_alert
from certificates.models import Certificate
from tests.factories import make_certificate, make_user

pytestmark = pytest.mark.django_db(transaction=True)

DEADLINE = datetime(2026, 7, 3, 18, 7, tzinfo=UTC)


def certificate_with_deadline() -> Certificate:
    certificate = make_certificate()
    Certificate.objects.filter(pk=certificate.pk).update(claim_deadline=DEADLINE)
    return certificate


def test_a_deadline_is_shown_in_the_persons_time_zone_and_the_teams_otherwise(client, settings):
    settings.TIME_ZONE = "UTC"
    certificate = certificate_with_deadline()
    new_yorker = make_user("viewer")
    client.force_login(new_yorker)

    before = client.get(certificate.get_absolute_url()).content.decode()
    client.post(reverse("preferences"), {"time_zone": "America/New_York"})
    after = client.get(certificate.get_absolute_url()).content.decode()

    assert "Jul 3, 18:07 UTC" in before
    assert "Jul 3, 14:07 EDT" in after and "18:07 UTC" not in after
    assert Preferences.objects.get(user=new_yorker).time_zone == "America/New_York"


def test_the_team_time_zone_is_the_default_and_a_person_returns_to_it(client, settings):
    settings.TIME_ZONE = "Europe/Paris"
    certificate = certificate_with_deadline()
    client.force_login(make_user("viewer"))

    shown = client.get(certificate.get_absolute_url()).content.decode()
    client.post(reverse("preferences"), {"time_zone": "Asia/Tokyo"})
    client.post(reverse("preferences"), {"time_zone": ""})
    back = client.get(certificate.get_absolute_url()).content.decode()

    assert "Jul 3, 20:07 CEST" in shown and "Jul 3, 20:07 CEST" in back


def test_an_unknown_time_zone_is_a_form_error(client):
    client.force_login(make_user("viewer"))

    response = client.post(reverse("preferences"), {"time_zone": "Mars/Olympus_Mons"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Preferences.objects.exists()


def test_a_person_gets_by_email_the_alerts_they_chose_and_no_others(client, settings):
    settings.ALERT_EMAILS = ["team@example.com"]
    chooser = make_user("analyst", email="ana@example.com")
    make_user("manager", email="mo@example.com")  # chose nothing: only the alerts page
    client.force_login(chooser)
    client.post(reverse("preferences"), {"alert_events": ["claiming_paused", "certificates_at_risk"]})

    raise_alert(Alert.Event.CLAIMING_PAUSED, severity="critical", summary="Paused.")
    raise_alert(Alert.Event.API_LOG_BROKEN, severity="critical", summary="Broken.")

    sent = sorted((m.subject, tuple(m.to)) for m in mail.outbox)
    assert sent == [
        ("[tfdash] Critical: Broken.", ("team@example.com",)),
        ("[tfdash] Critical: Paused.", ("ana@example.com",)),
        ("[tfdash] Critical: Paused.", ("team@example.com",)),
    ]


def test_a_deactivated_person_gets_no_alert_email(settings):
    person = make_user("analyst", email="gone@example.com")
    Preferences.objects.create(user=person, alert_events=["claiming_paused"])
    person.is_active = False
    person.save()

    raise_alert(Alert.Event.CLAIMING_PAUSED, severity="critical", summary="Paused.")

    assert mail.outbox == []

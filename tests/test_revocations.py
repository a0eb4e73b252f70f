"""Revocations of consent: deadlines in business days, every door that records one, and what they show."""

import csv
import io
from datetime import date, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from certificates import sweeping
from certificates.alerts.models import Alert
from certificates.intake import tokens
from certificates.revocations import recording
from certificates.revocations.deadlines import honour_by, is_business_day
from certificates.revocations.models import Revocation
from tests.factories import PASSWORD, make_certificate, make_user

pytestmark = pytest.mark.django_db


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def record(**values) -> Revocation:
    clean, errors = recording.clean_revocation({"channel": "call", "revoked_at": "2026-11-30", **values})
    assert not errors, errors
    return recording.record_revocation(clean, user=None, source=Revocation.Source.PAGE)[0]


# --- The deadline -----------------------------------------------------------------------------------------


def test_the_deadline_is_ten_business_days_skipping_weekends():
    # Monday Nov 2, 2026: two weeks of weekdays, no holiday on the way (Veterans Day is the 11th: one).
    assert honour_by(date(2026, 10, 19)) == date(2026, 11, 2)


def test_the_deadline_skips_a_federal_holiday_and_a_weekend():
    # Friday Nov 20, 2026 → Thanksgiving (Thu Nov 26) and two weekends skipped → Monday Dec 7.
    assert honour_by(date(2026, 11, 20)) == date(2026, 12, 7)
    # Friday Dec 18, 2026 → Christmas (Fri) and New Year's Day (Fri) skipped → Tuesday Jan 5, 2027.
    assert honour_by(date(2026, 12, 18)) == date(2027, 1, 5)


def test_a_revocation_received_on_a_weekend_counts_from_the_next_business_day():
    assert honour_by(date(2026, 11, 28)) == honour_by(date(2026, 11, 27)) == date(2026, 12, 11)
    assert not is_business_day(date(2026, 7, 3))  # Independence Day observed (the 4th is a Saturday)
    assert is_business_day(date(2026, 7, 6))


def test_recording_sets_the_deadline_from_the_local_date(settings):
    settings.TIME_ZONE = "America/New_York"
    late_evening = record(phone="5135556719", revoked_at="2026-11-20 23:30")  # Friday in New York

    assert late_evening.honour_by == date(2026, 12, 7)
    assert late_evening.phone_normalised == "5135556719"


# --- Doors ------------------------------------------------------------------------------------------------

BAD_CSV = (
    "phone,email,revoked_at,channel,note\n"
    "(513) 555-6719,,2026-11-30,text STOP,replied STOP to the first text\n"
    ",kelly@thethings.biz,2026-11-30 14:05,email,\n"
    "555-12,,2026-11-30,call,too short\n"
    ",,2026-11-30,call,nobody\n"
    "6145550142,,not a date,call,\n"
    "6145550142,,2026-11-30,carrier pigeon,\n"
    "6145550143,,2099-01-01,letter,future\n"
    "6145550144,,2026-11-30,call,one,cell,too,many\n"
    "\n"
    '+1 614 555 0145,,2026-11-29,web form,"a note, with a comma"\n'
)


def upload(client, text: str, **extra):
    return client.post(
        reverse("certificates:revocation-upload"),
        {"file": SimpleUploadedFile("revocations.csv", text.encode(), "text/csv"), **extra},
    )


def test_a_csv_with_bad_rows_gets_a_clear_error_per_line_and_the_dry_run_records_nothing(client):
    login(client, "analyst")

    response = upload(client, BAD_CSV)

    page = response.content.decode()
    assert response.status_code == 200 and "Dry run" in page
    assert not Revocation.objects.exists()
    read = recording.read_revocation_csv(BAD_CSV)
    assert [line for line, _ in read.good] == [2, 3, 11]
    problems = {(p.line, p.field) for p in read.problems}
    assert problems == {
        (4, "phone"), (5, "phone"), (6, "revoked_at"), (7, "channel"), (8, "revoked_at"), (9, "row"),
    }  # fmt: skip
    for reason in ("“555-12” is not a 10-digit US phone number.", "Give the phone or the email",
                   "Channel “carrier pigeon” is not one of", "The revocation date is in the future.",
                   "8 cells where the header has 5."):  # fmt: skip
        assert reason in page
    assert read.rows == 9  # every non-blank row accounted for


def test_recording_the_file_takes_the_good_rows_keeps_the_bad_ones_on_the_page_and_never_doubles(client):
    analyst = login(client, "analyst")
    dry = upload(client, BAD_CSV)
    text = dry.context["upload"].initial["text"]

    recorded = client.post(reverse("certificates:revocation-upload"), {"text": text, "record": "yes"})

    assert recorded.status_code == 200
    assert Revocation.objects.count() == 3
    assert set(Revocation.objects.values_list("source", "recorded_by")) == {("csv", analyst.pk)}
    assert "8 cells where the header has 5." in recorded.content.decode()  # still shown, to fix
    again = client.post(reverse("certificates:revocation-upload"), {"text": text, "record": "yes"})
    assert Revocation.objects.count() == 3 and "3 already on record" in again.content.decode()


def test_a_file_without_the_needed_columns_is_refused(client):
    login(client, "analyst")

    response = upload(client, "name,when\nKelly,2026-11-30\n")

    assert (
        response.status_code == 400
        and "The header row lacks: revoked_at, channel, phone or email" in response.content.decode()
    )


def test_the_page_records_one_and_honours_it(client):
    analyst = login(client, "analyst")

    response = client.post(
        reverse("certificates:revocations"),
        {
            "phone": "513.555.6719",
            "revoked_at": "2026-11-20T10:00",
            "channel": "call",
            "note": "Asked on the call",
        },
    )
    revocation = Revocation.objects.get()
    assert response.status_code == 302 and revocation.honour_by == date(2026, 12, 7)
    assert revocation.recorded_by == analyst and revocation.state == "open"

    client.post(reverse("certificates:revocation-honour", args=[revocation.pk]))
    revocation.refresh_from_db()
    assert revocation.state == "honoured" and revocation.honoured_by == analyst and revocation.honoured_at
    assert revocation.history.filter(history_user=analyst, state="honoured").exists()


def test_a_viewer_may_neither_see_nor_record_revocations(client):
    login(client, "viewer")

    assert client.get(reverse("certificates:revocations")).status_code == 403
    assert client.get(reverse("certificates:suppression")).status_code == 403


def test_the_intake_api_records_revocations_with_its_own_scope(client):
    token = tokens.issue_intake_token(name="Dialer", scopes=["revocations:write"])[1]
    leads_only = tokens.issue_intake_token(name="Leads", scopes=["leads:write"])[1]
    url = reverse("api:revocations")
    body = [
        {"phone": "+1 (513) 555-6719", "revoked_at": "2026-11-30T09:00:00-05:00", "channel": "text_stop"},
        {"email": "not an email", "revoked_at": "2026-11-30", "channel": "email"},
    ]

    refused = client.post(
        url, body, content_type="application/json", headers={"Authorization": f"Bearer {leads_only}"}
    )
    answered = client.post(
        url, body, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )
    again = client.post(
        url, body[:1], content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )

    assert refused.status_code == 403 and "revocations:write" in refused.json()["reason"]
    assert answered.status_code == 207
    results = answered.json()["results"]
    assert results[0]["status"] == "recorded" and results[0]["honour_by"] == "2026-12-14"
    assert results[1]["status"] == "rejected" and results[1]["errors"][0]["field"] == "email"
    assert again.status_code == 201 and again.json()["results"][0]["status"] == "duplicate"
    assert Revocation.objects.get().source == "api"


# --- What revocations show ---------------------------------------------------------------------------------


def test_the_persons_certificates_show_it_and_the_list_filters_by_it(client):
    login(client, "analyst")
    theirs = make_certificate(phone="1-513-555-6719")
    by_email = make_certificate(email="KELLY@thethings.biz")
    someone_else = make_certificate(phone="6145550142")
    record(phone="(513) 555-6719")
    record(email="kelly@thethings.biz", channel="email")

    page = client.get(theirs.get_absolute_url()).content.decode()
    assert "Consent revoked" in page and "honour by" in page
    assert "Consent revoked" not in client.get(someone_else.get_absolute_url()).content.decode()
    listed = client.get(reverse("certificates:list"), {"revoked": "yes"}).content.decode()
    assert (
        f'href="{theirs.get_absolute_url()}"' in listed and f'href="{by_email.get_absolute_url()}"' in listed
    )
    assert f'href="{someone_else.get_absolute_url()}"' not in listed


def test_the_home_page_shows_revocations_due_and_one_past_due_is_an_alert(client):
    with time_machine.travel(datetime(2026, 11, 20, 15, tzinfo=timezone.UTC)):
        record(phone="5135556719", revoked_at="2026-11-20")

    with time_machine.travel(datetime(2026, 12, 7, 15, tzinfo=timezone.UTC)):
        login(client, "analyst")
        assert "revocations to honour" in client.get(reverse("home")).content.decode()
        sweeping.raise_revocation_alerts()
        assert not Alert.objects.filter(event=Alert.Event.REVOCATIONS_OVERDUE).exists()  # due today, not late
    with time_machine.travel(datetime(2026, 12, 8, 15, tzinfo=timezone.UTC)):
        login(client, "analyst")
        home = client.get(reverse("home")).content.decode()
        assert "1 overdue" in home
        sweeping.raise_revocation_alerts()
        alert = Alert.objects.get(event=Alert.Event.REVOCATIONS_OVERDUE)
        assert alert.state == "open" and "Dec 7, 2026" in alert.summary
        recording.honour(Revocation.objects.get(), user=None)
        sweeping.raise_revocation_alerts()
        alert.refresh_from_db()
        assert alert.state == "resolved"


def test_the_suppression_export_lists_each_phone_and_email_once_for_the_dialer(client):
    login(client, "analyst")
    record(phone="(513) 555-6719", revoked_at="2026-11-01")
    record(phone="513 555 6719", email="kelly@thethings.biz", revoked_at="2026-11-20", channel="email")
    record(email="=cmd@evil.example", revoked_at="2026-11-21", channel="web form")

    response = client.get(reverse("certificates:suppression"))

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["type", "value", "first_revoked_on"],
        ["phone", "5135556719", "2026-11-01"],
        ["email", "kelly@thethings.biz", "2026-11-20"],
        ["email", "'=cmd@evil.example", "2026-11-21"],
    ]


def test_checking_without_a_file_says_so(client):
    login(client, "analyst")

    response = client.post(reverse("certificates:revocation-upload"), {})

    assert response.status_code == 400 and "This field is required." in response.content.decode()
    assert not Revocation.objects.exists()

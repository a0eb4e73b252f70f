"""Reviewing failed certificates: one at a time from the detail page, or several from the queue."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from certificates import reviewing
from certificates.models import Certificate, Review
from tests.factories import PASSWORD, make_certificate, make_user

pytestmark = pytest.mark.django_db

QUEUE = reverse("certificates:review-queue")


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def open_certificate(**fields) -> Certificate:
    cert = make_certificate()
    fields = {"state": "claimed", "outcome": "failure", "review_status": "open", **fields}
    Certificate.objects.filter(pk=cert.pk).update(**fields)
    cert.refresh_from_db()
    return cert


def test_review_certificate_records_the_decision_and_sets_the_status():
    cert = open_certificate()
    analyst = make_user("analyst")

    review = reviewing.review_certificate(cert, reviewer=analyst, decision="rejected", note="  Bot traffic. ")

    cert.refresh_from_db()
    assert cert.review_status == Certificate.ReviewStatus.REJECTED
    assert (review.reviewer, review.decision, review.note) == (analyst, "rejected", "Bot traffic.")


@pytest.mark.parametrize("note", ["", "   \n "])
def test_a_review_without_a_note_is_refused(note):
    cert = open_certificate()

    with pytest.raises(reviewing.ReviewError, match="needs a note"):
        reviewing.review_certificate(cert, reviewer=make_user("analyst"), decision="accepted", note=note)

    cert.refresh_from_db()
    assert cert.review_status == "open"
    assert not Review.objects.exists()


def test_the_detail_page_refuses_a_review_without_a_note_and_says_why(client):
    login(client, "analyst")
    cert = open_certificate()

    response = client.post(
        reverse("certificates:review", args=[cert.pk]), {"decision": "rejected", "note": " "}
    )

    assert response.status_code == 400
    assert "Write a note: every decision needs one." in response.content.decode()
    cert.refresh_from_db()
    assert cert.review_status == "open"


def test_an_analyst_rejects_from_the_detail_page_and_the_history_shows_every_decision(client):
    analyst = login(client, "analyst")
    cert = open_certificate()
    url = reverse("certificates:review", args=[cert.pk])

    client.post(url, {"decision": "accepted", "note": "Consent text is there, mismatch is a typo."})
    response = client.post(url, {"decision": "rejected", "note": "Vendor confirmed a bad lead."}, follow=True)

    cert.refresh_from_db()
    assert cert.review_status == "rejected"
    page = response.content.decode()
    assert "Rejected, with your note." in page
    history = page[page.index('data-testid="review-history"') :]
    assert history.index("Vendor confirmed a bad lead.") < history.index("Consent text is there")
    assert analyst.username in history


def test_a_viewer_cannot_review(client):
    login(client, "viewer")
    cert = open_certificate()

    response = client.post(
        reverse("certificates:review", args=[cert.pk]), {"decision": "accepted", "note": "ok"}
    )

    assert response.status_code == 403
    assert client.get(QUEUE).status_code == 403
    assert (
        f'action="/certificates/{cert.pk}/review/"'
        not in client.get(cert.get_absolute_url()).content.decode()
    )
    cert.refresh_from_db()
    assert cert.review_status == "open"


def test_the_queue_lists_open_reviews_oldest_first(client):
    login(client, "analyst")
    now = timezone.now()
    newer = open_certificate(received_at=now - timedelta(hours=1))
    older = open_certificate(received_at=now - timedelta(hours=30), outcome_reason="Fingerprint mismatch")
    done = open_certificate(review_status="accepted")
    bot = open_certificate(outcome="success", bot_detected=True, received_at=now - timedelta(hours=5))

    page = client.get(QUEUE).content.decode()

    positions = [page.index(f'data-pk="{c.pk}"') for c in (older, bot, newer)]
    assert positions == sorted(positions)
    assert f'data-pk="{done.pk}"' not in page
    assert "claim failed: Fingerprint mismatch" in page
    assert "bot detected" in page
    assert "js/review-queue.js" in page


def test_bulk_accept_from_the_queue_reviews_every_selected_certificate_with_one_note(client):
    analyst = login(client, "analyst")
    first, second, untouched = open_certificate(), open_certificate(), open_certificate()

    response = client.post(
        QUEUE,
        {"certificates": [first.pk, second.pk], "decision": "accepted", "note": "Checked by phone."},
        follow=True,
    )

    assert "2 certificates accepted, with your note." in response.content.decode()
    reviews = Review.objects.order_by("certificate_id")
    assert [(r.certificate_id, r.decision, r.note, r.reviewer) for r in reviews] == [
        (first.pk, "accepted", "Checked by phone.", analyst),
        (second.pk, "accepted", "Checked by phone.", analyst),
    ]
    statuses = dict(Certificate.objects.values_list("pk", "review_status"))
    assert statuses == {first.pk: "accepted", second.pk: "accepted", untouched.pk: "open"}
    assert f'data-pk="{untouched.pk}"' in response.content.decode()


def test_bulk_review_needs_a_note_and_a_selection(client):
    login(client, "analyst")
    cert = open_certificate()

    no_note = client.post(QUEUE, {"certificates": [cert.pk], "decision": "rejected", "note": ""})
    nothing_selected = client.post(QUEUE, {"decision": "rejected", "note": "Bad vendor."})

    assert no_note.status_code == 400
    assert "Write a note: every decision needs one." in no_note.content.decode()
    assert "Select at least one certificate." in nothing_selected.content.decode()
    assert not Review.objects.exists()

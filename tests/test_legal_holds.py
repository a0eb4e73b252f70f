"""Legal holds: what they cover, who joins them later, what they block, and releasing them."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from certificates.evidence import holds
from certificates.evidence.models import HeldCertificate, LegalHold
from certificates.intake import csvfile, importer
from certificates.models import Certificate, OnHold
from tests.factories import PASSWORD, make_certificate, make_user, make_vendor

pytestmark = pytest.mark.django_db


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def held_ids(hold: LegalHold) -> set[int]:
    return set(hold.memberships.values_list("certificate_id", flat=True))


def test_a_hold_on_a_person_covers_their_phone_in_any_spelling_or_their_email():
    by_phone = make_certificate(phone="(513) 555-6719")
    by_phone_too = make_certificate(phone="+1 513.555.6719")
    by_email = make_certificate(email="Kelly@TheThings.biz ")
    someone_else = make_certificate(phone="6145550142", email="other@example.com")

    hold = holds.place_hold(
        name="Case 1", user=make_user("manager"), phone="513-555-6719", email="kelly@thethings.biz"
    )

    assert held_ids(hold) == {by_phone.pk, by_phone_too.pk, by_email.pk}
    assert someone_else.pk not in held_ids(hold)


def test_every_other_scope_field_narrows_it():
    acme, other = make_vendor("Acme"), make_vendor("Other")
    wanted = make_certificate(vendor=acme, phone="5135556719", reference="LEAD-1")
    make_certificate(vendor=other, phone="5135556719", reference="LEAD-1")
    make_certificate(vendor=acme, phone="5135556719", reference="LEAD-2")

    hold = holds.place_hold(
        name="Acme lead 1", user=None, phone="5135556719", vendor=acme, reference="LEAD-1"
    )

    assert held_ids(hold) == {wanted.pk}


def test_a_certificate_arriving_later_joins_an_open_hold_whose_scope_it_matches(tmp_path):
    hold = holds.place_hold(name="Case 1", user=None, phone="5135556719")
    released = holds.place_hold(name="Old case", user=None, phone="5135556719")
    holds.release_hold(released, user=None, reason="Settled.")

    one_by_one = make_certificate(phone="1 (513) 555-6719")  # the claim form's and the API's door
    csv = tmp_path / "leads.csv"
    csv.write_text(
        "cert_url,phone,vendor\n"
        f"https://cert.trustedform.com/{'a' * 40},513 555 6719,Acme\n"
        f"https://cert.trustedform.com/{'b' * 40},614 555 0142,Acme\n"
    )
    batch = importer.ImportBatch.objects.create(filename="leads.csv")
    csvfile.read_csv(csv, batch=batch)  # the importer's bulk door
    by_csv = Certificate.objects.get(cert_id="a" * 40)
    not_them = Certificate.objects.get(cert_id="b" * 40)

    assert {one_by_one.pk, by_csv.pk} <= held_ids(hold)
    assert not_them.pk not in held_ids(hold)
    assert held_ids(released) == set()


def test_a_saved_filter_of_the_list_is_a_scope_and_later_matches_join_it():
    acme = make_vendor("Acme")
    first = make_certificate(vendor=acme, email="a@example.com")
    make_certificate(vendor=make_vendor("Other"), email="b@example.com")
    claimed = make_certificate(vendor=acme, email="d@example.com")
    Certificate.objects.filter(pk=claimed.pk).update(state=Certificate.State.CLAIMED)

    hold = holds.place_hold(name="Acme audit", user=None, query=f"vendor={acme.pk}&state=pending")
    later = make_certificate(vendor=acme, email="c@example.com")

    assert held_ids(hold) == {first.pk, later.pk}


def test_a_held_certificate_cannot_be_deleted_until_every_hold_on_it_is_released():
    certificate = make_certificate(phone="5135556719")
    first = holds.place_hold(name="Case 1", user=None, phone="5135556719")
    second = holds.place_hold(name="Case 2", user=None, phone="5135556719")

    with pytest.raises(OnHold, match=certificate.cert_id):
        certificate.delete()
    with pytest.raises(OnHold):
        Certificate.objects.filter(pk=certificate.pk).delete()
    holds.release_hold(first, user=None, reason="Dismissed.")
    with pytest.raises(OnHold):
        Certificate.objects.all().delete()
    assert Certificate.objects.filter(pk=certificate.pk).exists()

    holds.release_hold(second, user=None, reason="Settled.")
    Certificate.objects.filter(pk=certificate.pk).delete()

    assert not Certificate.objects.filter(pk=certificate.pk).exists()


def test_pruning_the_api_log_leaves_a_held_certificates_calls_whole(tf_api, settings):
    from certificates import claiming
    from certificates.models import ApiCall

    minted = tf_api.mint_many(2, email="jane@example.com")
    held = make_certificate(minted[0]["cert_url"], email="jane@example.com", phone="5135556719")
    free = make_certificate(minted[1]["cert_url"], email="jane@example.com")
    for certificate in (held, free):
        claiming.claim_certificate(certificate)
    holds.place_hold(name="Case 1", user=None, phone="5135556719")
    settings.API_LOG_BODY_RETENTION_DAYS = 0

    call_command("prune_api_log", stdout=io.StringIO())

    assert not ApiCall.objects.filter(certificate=held, bodies_pruned_at__isnull=False).exists()
    assert ApiCall.objects.get(certificate=held).request_body
    assert ApiCall.objects.get(certificate=free).bodies_pruned_at is not None
    out = io.StringIO()
    call_command("verify_api_log", stdout=out)
    assert "API-call log intact" in out.getvalue()


def test_release_needs_a_reason_and_is_kept_with_who_and_when(client):
    manager = login(client, "manager")
    hold = holds.place_hold(name="Case 1", user=manager, phone="5135556719")
    url = reverse("certificates:hold", args=[hold.pk])

    refused = client.post(url, {"reason": "  "})
    assert refused.status_code == 400 and LegalHold.objects.get(pk=hold.pk).released_at is None

    client.post(url, {"reason": "Settled on Dec 1; counsel's email of Dec 2."})
    hold.refresh_from_db()
    assert hold.released_by == manager and hold.released_at is not None
    assert hold.release_reason == "Settled on Dec 1; counsel's email of Dec 2."
    page = client.get(url).content.decode()
    assert "Settled on Dec 1" in page and "Released" in page
    assert hold.history.filter(history_user=manager, released_at__isnull=False).exists()
    with pytest.raises(ValueError, match="already released"):
        holds.release_hold(hold, user=manager, reason="again")


def test_only_a_manager_places_or_releases_a_hold(client):
    hold = holds.place_hold(name="Case 1", user=None, phone="5135556719")
    login(client, "analyst")

    assert client.get(reverse("certificates:holds")).status_code == 200
    assert client.post(reverse("certificates:holds"), {"name": "x", "phone": "5135556719"}).status_code == 403
    assert client.post(reverse("certificates:hold", args=[hold.pk]), {"reason": "no"}).status_code == 403
    login(client, "viewer")
    assert client.get(reverse("certificates:holds")).status_code == 403


def test_the_holds_page_places_one_from_the_lists_filter_and_the_pages_show_it(client):
    login(client, "manager")
    acme = make_vendor("Acme")
    certificate = make_certificate(vendor=acme)

    form = client.get(reverse("certificates:holds"), {"query": f"vendor={acme.pk}"})
    assert f"vendor={acme.pk}" in form.content.decode()
    response = client.post(
        reverse("certificates:holds"), {"name": "Acme audit", "query": f"vendor={acme.pk}"}
    )

    hold = LegalHold.objects.get(name="Acme audit")
    assert response.status_code == 302 and held_ids(hold) == {certificate.pk}
    detail = client.get(certificate.get_absolute_url()).content.decode()
    assert "Legal holds" in detail and "Acme audit" in detail
    link = f'href="{certificate.get_absolute_url()}"'
    listed = client.get(reverse("certificates:list"), {"hold": hold.pk}).content.decode()
    assert link in listed and "legal hold" in listed
    assert link in client.get(reverse("certificates:list"), {"on_hold": "yes"}).content.decode()
    assert link not in client.get(reverse("certificates:list"), {"on_hold": "no"}).content.decode()


def test_a_hold_without_a_scope_is_refused_on_the_page(client):
    login(client, "manager")

    response = client.post(reverse("certificates:holds"), {"name": "Everything"})

    assert response.status_code == 400 and "Say what the hold covers" in response.content.decode()
    assert not LegalHold.objects.exists() and not HeldCertificate.objects.exists()

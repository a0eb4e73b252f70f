"""Discovery requests: everything about one person, one package, a manifest sha256sum accepts, a hold."""

import csv
import hashlib
import io
import json
import subprocess
import zipfile
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from certificates import claiming, reviewing
from certificates.evidence import discovery
from certificates.evidence.models import DiscoveryRequest, LegalHold
from certificates.models import Certificate
from certificates.revocations import recording
from certificates.revocations.models import Revocation
from tests.factories import PASSWORD, make_certificate, make_user, make_vendor

pytestmark = pytest.mark.django_db

SPELLINGS = ("(513) 555-6719", "+1 513.555.6719", "1-513-555-6719", "513 555 6719")


@pytest.fixture
def people():
    """Four certificates of one person (phone in four spellings), and three of other people."""
    theirs = [make_certificate(phone=p, email=f"lead{i}@example.com") for i, p in enumerate(SPELLINGS)]
    others = [
        make_certificate(phone="6145550142"),
        make_certificate(phone="5135556718", email="kelly@thethings.biz"),
        make_certificate(email="someone@example.com"),
    ]
    return theirs, others


def run_discovery(*args: str) -> tuple[str, dict]:
    out = io.StringIO()
    call_command("discovery", *args, "--json", stdout=out)
    lines = out.getvalue().strip().splitlines()
    return out.getvalue(), json.loads(lines[-1])


def test_the_command_finds_exactly_that_persons_certificates_and_the_manifest_checks(people, tmp_path):
    theirs, others = people
    out = tmp_path / "x.zip"

    text, result = run_discovery("--phone", "5135556719", "--hold", "Case 1", "--out", str(out))

    assert result["certificates"] == 4 and result["hold"] == "Case 1" and result["out"] == str(out)
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(out).extractall(unpacked)
    checked = subprocess.run(
        ["sha256sum", "-c", "MANIFEST.sha256"], cwd=unpacked, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (
        result["manifest_sha256"] == hashlib.sha256((unpacked / "MANIFEST.sha256").read_bytes()).hexdigest()
    )
    folders = {p.name for p in unpacked.iterdir() if p.is_dir()}
    assert folders == {c.cert_id for c in theirs}
    summary = list(csv.DictReader((unpacked / "summary.csv").open()))
    assert {row["cert_id"] for row in summary} == {c.cert_id for c in theirs}
    hold = LegalHold.objects.get(name="Case 1")
    assert hold.released_at is None
    assert set(hold.memberships.values_list("certificate_id", flat=True)) == {c.pk for c in theirs}
    assert not hold.memberships.filter(certificate__in=others).exists()
    index = (unpacked / "index.html").read_text()
    assert "Discovery request #" in index and "phone 5135556719" in index and "4 certificates" in index


def test_the_package_holds_outcomes_reviews_revocations_and_the_local_copy(tf_api, tmp_path):
    minted = tf_api.mint(email="jane@example.com", phone="5135556719")
    certificate = make_certificate(minted["cert_url"], email="john@example.com", phone="5135556719")
    manager = make_user("manager")
    claiming.claim_certificate(certificate, user=manager)
    certificate.refresh_from_db()
    reviewing.review_certificate(
        certificate, reviewer=manager, decision="rejected", note="Wrong email; ticket 7."
    )
    clean, _ = recording.clean_revocation(
        {"phone": "513-555-6719", "revoked_at": "2026-11-30", "channel": "text stop"}
    )
    recording.record_revocation(clean, user=manager, source=Revocation.Source.PAGE)
    out = tmp_path / "p.zip"

    run_discovery("--phone", "5135556719", "--hold", "Case 3", "--out", str(out))

    archive = zipfile.ZipFile(out)
    summary = next(csv.DictReader(io.StringIO(archive.read("summary.csv").decode())))
    assert summary["outcome"] == certificate.get_outcome_display() and summary["review_status"] == "Rejected"
    assert summary["last_review"] == "Rejected: Wrong email; ticket 7."
    revocations = list(csv.DictReader(io.StringIO(archive.read("revocations.csv").decode())))
    assert revocations[0]["channel"] == "Text STOP" and revocations[0]["honour_by"] == "2026-12-14"
    evidence = json.loads(archive.read(f"{certificate.cert_id}/evidence.json"))
    assert "needs no call to TrustedForm" in evidence["local_copy"]
    assert evidence["legal_holds"][0]["name"] == "Case 3"
    if share := evidence["claims"][0]["share_url"]:  # the sandbox answers v4 with a share_url
        assert share.startswith("https://") and summary["share_url"] == share
    assert "Text STOP" in archive.read("index.html").decode()


def test_email_vendor_and_dates_narrow_or_widen_as_documented(tmp_path):
    acme, other = make_vendor("Acme"), make_vendor("Other")
    by_email = make_certificate(email="Kelly@TheThings.biz", vendor=acme)
    by_phone = make_certificate(phone="5135556719", vendor=acme)
    make_certificate(phone="5135556719", vendor=other)
    old = make_certificate(phone="5135556719", vendor=acme)
    Certificate.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=400))
    since = (timezone.localdate() - timedelta(days=30)).isoformat()

    _, result = run_discovery(
        "--phone", "513 555 6719", "--email", "kelly@thethings.biz", "--vendor", "acme", "--since", since,
        "--hold", "Case 4", "--out", str(tmp_path / "n.zip"),
    )  # fmt: skip

    assert result["certificates"] == 2
    held = set(LegalHold.objects.get(name="Case 4").memberships.values_list("certificate_id", flat=True))
    assert held == {by_email.pk, by_phone.pk}


def test_a_later_certificate_of_that_person_joins_the_requests_hold(people, tmp_path):
    run_discovery("--phone", "5135556719", "--hold", "Case 1", "--out", str(tmp_path / "x.zip"))

    later = make_certificate(phone="513-555-6719")

    assert LegalHold.objects.get(name="Case 1").memberships.filter(certificate=later).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hold", "C"], "phone or email"),
        (["--phone", "5135556719", "--vendor", "Nobody", "--hold", "C"], "No vendor is called"),
        (["--phone", "5135556719", "--since", "yesterday", "--hold", "C"], "is not a date"),
        (["--phone", "5135556719", "--hold", "  "], "Name the hold"),
    ],
)
def test_the_command_says_what_is_wrong(args, message, tmp_path):
    with pytest.raises(CommandError, match=message):
        call_command("discovery", *args, "--out", str(tmp_path / "x.zip"), stdout=io.StringIO())
    assert not LegalHold.objects.exists()


def test_the_page_builds_a_request_in_the_background_and_downloads_it(client, people, settings, tmp_path):
    settings.EVIDENCE_EXPORT_DIR = tmp_path / "exports"
    manager = make_user("manager")
    client.login(username=manager.username, password=PASSWORD)

    response = client.post(
        reverse("certificates:discovery"), {"phone": "(513) 555-6719", "hold_name": "Case 5"}
    )

    found = DiscoveryRequest.objects.get()
    assert response.status_code == 302 and found.requested_by == manager
    assert found.state == "done" and found.total == 4  # the test task backend runs it at once
    page = client.get(reverse("certificates:discovery")).content.decode()
    assert "Case 5" in page and "Download" in page
    download = client.get(reverse("certificates:discovery-download", args=[found.pk]))
    assert zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).read("MANIFEST.sha256")
    analyst = make_user("analyst")
    client.login(username=analyst.username, password=PASSWORD)
    assert client.get(reverse("certificates:discovery")).status_code == 403
    assert client.get(reverse("certificates:discovery-download", args=[found.pk])).status_code == 403


def test_the_form_refuses_a_request_without_a_person(client):
    manager = make_user("manager")
    client.login(username=manager.username, password=PASSWORD)

    response = client.post(reverse("certificates:discovery"), {"hold_name": "Case 6"})

    assert response.status_code == 400 and "phone or email" in response.content.decode()
    assert not DiscoveryRequest.objects.exists()


def test_discovery_builds_flat_for_a_request_that_matches_nothing(tmp_path):
    found = discovery.open_request(user=None, hold_name="Empty", email="nobody@example.com")

    built = discovery.build(found, out=tmp_path / "e.zip")

    assert built.state == "done" and built.total == 0
    assert "summary.csv" in zipfile.ZipFile(tmp_path / "e.zip").namelist()

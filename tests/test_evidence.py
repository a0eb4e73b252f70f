"""Evidence packages: one certificate's ZIP, and a filtered set's ZIP built in the background."""

import hashlib
import io
import json
import zipfile

import pytest
from django.urls import reverse

from certificates import checking_in, claiming, reviewing
from certificates.evidence import packages
from certificates.models import Certificate, EvidenceExport
from tests.factories import PASSWORD, make_certificate, make_user, make_vendor

pytestmark = pytest.mark.django_db

CONSENT = "I agree that Acme Mortgage may call me at the number provided, including by autodialer."
NOTE = "Rejected: the consumer's email does not match; vendor ticket #4411."


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.EVIDENCE_EXPORT_DIR = tmp_path / "exports"
    return settings.EVIDENCE_EXPORT_DIR


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def rejected_certificate(tf_api, reviewer, *, vendor=None) -> Certificate:
    """A certificate claimed against the sandbox (a failed fingerprint match), checked, then rejected."""
    minted = tf_api.mint(email="jane@example.com", phone="5125551212", page_text=CONSENT)
    cert = make_certificate(
        minted["cert_url"], vendor=vendor or make_vendor("Acme Leads"), email="john@example.com"
    )
    claiming.claim_certificate(cert, user=reviewer)
    cert.refresh_from_db()
    reviewing.review_certificate(cert, reviewer=reviewer, decision="rejected", note=NOTE)
    return cert


def verify_manifest(archive: zipfile.ZipFile) -> dict:
    """Every file's SHA-256 as both manifests state it; returns manifest.json."""
    manifest = json.loads(archive.read("manifest.json"))
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"], entry["name"]
    listed = dict(line.split("  ")[::-1] for line in archive.read("MANIFEST.sha256").decode().splitlines())
    for name in set(archive.namelist()) - {"MANIFEST.sha256"}:
        assert hashlib.sha256(archive.read(name)).hexdigest() == listed[name], name
    return manifest


def test_a_certificate_package_holds_the_page_the_json_and_a_manifest_that_verifies(client, tf_api, api_key):
    manager = login(client, "manager")
    cert = rejected_certificate(tf_api, manager)

    response = client.get(reverse("certificates:evidence", args=[cert.pk]))

    assert response["Content-Type"] == "application/zip"
    assert f"evidence-{cert.cert_id[:16]}" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == [
        "MANIFEST.sha256",
        "README.txt",
        "evidence.html",
        "evidence.json",
        "manifest.json",
    ]
    manifest = verify_manifest(archive)
    assert manifest["certificate"] == cert.cert_id
    data = json.loads(archive.read("evidence.json"))
    assert data["certificate"]["id"] == cert.cert_id and data["certificate"]["url"] == cert.cert_url
    assert data["lead"]["email"] == "john@example.com" and data["lead"]["vendor"] == "Acme Leads"
    assert data["claims"][0]["outcome"] == "failure" and data["claims"][0]["email_matched"] is False
    assert data["claims"][0]["created_at"] and data["claims"][0]["raw_response"]
    assert [r["note"] for r in data["reviews"]] == [NOTE]
    assert data["api_calls"][0]["operation"] == "claim" and data["api_calls"][0]["created_at"]
    page = archive.read("evidence.html").decode()
    assert cert.cert_id in page and NOTE.replace("'", "&#x27;") in page
    for name in archive.namelist():
        assert api_key not in archive.read(name).decode(), name


def test_a_package_lists_check_ins_and_every_api_call(client, tf_api):
    manager = login(client, "manager")
    minted = tf_api.mint(email="jane@example.com", page_text=CONSENT)
    cert = make_certificate(minted["cert_url"], email="jane@example.com")
    checking_in.check_in_certificate(cert, user=manager)

    archive = zipfile.ZipFile(
        io.BytesIO(client.get(reverse("certificates:evidence", args=[cert.pk])).content)
    )

    data = json.loads(archive.read("evidence.json"))
    assert len(data["check_ins"]) == 1 and data["check_ins"][0]["checked_in_by"] == manager.username
    assert [c["operation"] for c in data["api_calls"]] == ["check_in"]
    assert "window extended to" in archive.read("evidence.html").decode()


def test_an_analyst_cannot_download_evidence(client):
    login(client, "analyst")
    cert = make_certificate()

    assert client.get(reverse("certificates:evidence", args=[cert.pk])).status_code == 403
    assert client.post(reverse("certificates:export-start"), {"query": ""}).status_code == 403


def test_a_filtered_set_is_built_in_the_background_one_folder_per_certificate(
    client, tf_api, api_key, export_dir
):
    manager = login(client, "manager")
    acme, other = make_vendor("Acme Leads"), make_vendor("Other Leads")
    wanted = [rejected_certificate(tf_api, manager, vendor=acme) for _ in range(2)]
    rejected_certificate(tf_api, manager, vendor=other)

    response = client.post(
        reverse("certificates:export-start"), {"query": f"vendor={acme.pk}&outcome=failure"}, follow=True
    )

    export = EvidenceExport.objects.get()
    assert (export.state, export.total, export.done, export.created_by) == ("done", 2, 2, manager)
    page = response.content.decode()
    assert "Download" in page and f"vendor={acme.pk}" in page
    download = client.get(reverse("certificates:export-download", args=[export.pk]))
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == export.sha256
    archive = zipfile.ZipFile(io.BytesIO(body))
    folders = {name.split("/")[0] for name in archive.namelist() if "/" in name}
    assert folders == {c.cert_id for c in wanted}
    manifest = verify_manifest(archive)
    assert manifest["certificates"] == 2 and len(manifest["files"]) == 5  # two per certificate, README.txt
    assert all(NOTE in archive.read(f"{c.cert_id}/evidence.json").decode() for c in wanted)
    assert all(api_key not in archive.read(name).decode() for name in archive.namelist())
    assert export_dir in packages.done_file(export.state == "done", export.file_path).parents


def test_someone_elses_export_cannot_be_downloaded(client, export_dir):
    owner = make_user("manager")
    export = packages.start_evidence_export(user=owner, query="state=pending")
    login(client, "manager")

    assert client.get(reverse("certificates:export-download", args=[export.pk])).status_code == 404
    assert f"export-{export.pk}" not in client.get(reverse("certificates:exports")).content.decode()


def test_the_exports_table_refreshes_itself_only_while_a_package_is_being_built(client, export_dir):
    manager = login(client, "manager")
    export = EvidenceExport.objects.create(created_by=manager, query="", state=EvidenceExport.State.RUNNING)
    url = reverse("certificates:exports")

    page = client.get(url).content.decode()
    table = client.get(url, headers={"HX-Request": "true"}).content.decode()

    assert 'src="/static/js/vendor/htmx.min.js"' in page and 'http-equiv="refresh"' not in page
    assert f'hx-get="{url}"' in table and 'hx-trigger="every 5s"' in table
    assert f"export-{export.pk}" in table and "<h1>" not in table  # the table alone, for htmx to swap

    EvidenceExport.objects.filter(pk=export.pk).update(state=EvidenceExport.State.DONE)
    assert "hx-get" not in client.get(url, headers={"HX-Request": "true"}).content.decode()


def test_an_export_of_too_many_certificates_fails_with_a_reason(export_dir, monkeypatch):
    monkeypatch.setattr(packages, "MAX_CERTIFICATES", 2)
    for _ in range(3):
        make_certificate()

    export = packages.start_evidence_export(user=make_user("manager"), query="")

    export.refresh_from_db()
    assert export.state == "failed"
    assert "matches 3 certificates" in export.error and "Narrow the filter" in export.error
    assert packages.done_file(export.state == "done", export.file_path) is None

"""RFC 3161 timestamps of evidence manifests, against a real local timestamp authority (OpenSSL)."""

import io
import subprocess
import zipfile

import pytest
from django.core.management import call_command

from certificates.evidence import packages, timestamps
from certificates.evidence.models import EvidenceExport
from certificates.evidence.timestamps import TimestampError
from tests.factories import make_certificate, make_user
from tests.support.tsa import start_tsa

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    authority = start_tsa(tmp_path_factory.mktemp("tsa"))
    yield authority
    authority.stop()


def openssl_verify(folder, ca) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["openssl", "ts", "-verify", "-in", "MANIFEST.sha256.tsr", "-data", "MANIFEST.sha256", "-CAfile", str(ca)],
        cwd=folder, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_package_manifest_is_stamped_and_verifies_with_openssl_and_a_changed_manifest_fails(
    settings, tsa, tmp_path
):
    settings.TIMESTAMP_AUTHORITY_URL = tsa.url
    certificate = make_certificate(email="kelly@thethings.biz")

    archive = zipfile.ZipFile(io.BytesIO(packages.certificate_package(certificate)))
    archive.extractall(tmp_path)

    assert "MANIFEST.sha256.tsr" in archive.namelist()
    assert (
        "openssl ts -verify -in MANIFEST.sha256.tsr -data MANIFEST.sha256"
        in (tmp_path / "README.txt").read_text()
    )
    checked = openssl_verify(tmp_path, tsa.ca_pem)
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stdout + checked.stderr
    manifest = tmp_path / "MANIFEST.sha256"
    manifest.write_text(manifest.read_text().replace("evidence.json", "evidence.jsom"))
    tampered = openssl_verify(tmp_path, tsa.ca_pem)
    assert tampered.returncode != 0 and "Verification: OK" not in tampered.stdout


def test_the_reply_is_checked_against_the_request_it_answers(tsa):
    stamped = timestamps.stamp(b"one manifest", url=tsa.url)
    nonce_of_another = 12345

    with pytest.raises(TimestampError, match="nonce"):
        timestamps.read_reply(stamped.reply, data=b"one manifest", nonce=nonce_of_another)
    with pytest.raises(TimestampError, match="other than this manifest"):
        timestamps.read_reply(stamped.reply, data=b"another manifest", nonce=nonce_of_another)
    with pytest.raises(TimestampError, match="not a valid RFC 3161 reply"):
        timestamps.read_reply(b"\x30\x03\x02\x01", data=b"x", nonce=1)
    assert stamped.serial > 0 and stamped.time.year >= 2026


def test_without_an_authority_nothing_is_sent_and_no_token_is_written(settings, tsa):
    settings.TIMESTAMP_AUTHORITY_URL = ""
    before = len(tsa.requests)

    archive = zipfile.ZipFile(io.BytesIO(packages.certificate_package(make_certificate())))

    assert "MANIFEST.sha256.tsr" not in archive.namelist()
    assert len(tsa.requests) == before
    assert "openssl ts" not in archive.read("README.txt").decode()


def test_an_authority_that_does_not_answer_fails_the_package_with_the_reason(settings, tmp_path):
    settings.TIMESTAMP_AUTHORITY_URL = "http://127.0.0.1:9/tsa"  # nothing listens on the discard port
    settings.EVIDENCE_EXPORT_DIR = tmp_path / "exports"
    make_certificate()
    export = EvidenceExport.objects.create(created_by=make_user("manager"), query="")

    with pytest.raises(TimestampError):
        packages.build_evidence_export.call(export.pk)

    export.refresh_from_db()
    assert export.state == "failed"
    assert "timestamp authority at http://127.0.0.1:9/tsa could not be reached" in export.error
    assert not list((tmp_path / "exports").glob("*.zip*"))


def test_discovery_packages_are_stamped_too(settings, tsa, tmp_path):
    settings.TIMESTAMP_AUTHORITY_URL = tsa.url
    make_certificate(phone="(513) 555-6719")
    out = tmp_path / "case.zip"

    call_command(
        "discovery", "--phone", "5135556719", "--hold", "Case 2", "--out", str(out), stdout=io.StringIO()
    )

    zipfile.ZipFile(out).extractall(tmp_path / "x")
    checked = openssl_verify(tmp_path / "x", tsa.ca_pem)
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout

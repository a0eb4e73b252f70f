"""A package (evidence export or discovery request) whose worker stopped mid-build is built again by the
scheduler's next sweep; one that a live worker is building is left to it."""

import io
import os
import time
import zipfile
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from certificates.evidence import discovery, packages, resuming
from certificates.evidence.models import DiscoveryRequest, EvidenceExport
from tests.factories import make_certificate, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.EVIDENCE_EXPORT_DIR = tmp_path / "exports"
    return packages.export_dir()


def left_building(model, row, minutes_ago: float):
    """As a killed worker leaves a row: building, some progress, then nothing since."""
    model.objects.filter(pk=row.pk).update(
        state=model.State.RUNNING, done=1, progressed_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def test_an_export_whose_worker_stopped_is_built_again_and_its_half_file_removed(export_dir):
    for _ in range(3):
        make_certificate()
    export = EvidenceExport.objects.create(created_by=make_user("manager"), query="")
    left_building(EvidenceExport, export, minutes_ago=10)
    final = export_dir / f"evidence-export-{export.pk}-{export.created_at:%Y%m%d-%H%M%S}.zip"
    half = final.with_name(final.name + ".deadbeef.part")
    half.write_bytes(b"PK\x03\x04 half a zip")
    an_hour_ago = time.time() - 3600
    os.utime(half, (an_hour_ago, an_hour_ago))

    resumed = resuming.resume_stalled_builds()  # the test task backend runs the build at once

    export.refresh_from_db()
    assert resumed == 1
    assert (export.state, export.done, export.total) == ("done", 3, 3)
    assert "MANIFEST.sha256" in zipfile.ZipFile(packages.done_file(True, export.file_path)).namelist()
    assert not half.exists()
    assert list(export_dir.glob("*.part")) == []


def test_a_package_a_live_worker_is_building_is_left_to_it(export_dir):
    make_certificate()
    export = EvidenceExport.objects.create(query="")
    left_building(EvidenceExport, export, minutes_ago=1)

    assert resuming.resume_stalled_builds() == 0
    assert packages.build_evidence_export.call(export.pk) == {"state": "running"}  # a second task
    export.refresh_from_db()
    assert (export.state, export.file_path) == ("running", "")
    assert list(export_dir.iterdir()) == []


def test_a_queued_package_is_queued_again_only_after_a_stall_and_then_not_again_at_once(export_dir):
    waiting = EvidenceExport.objects.create(query="")
    stalled = EvidenceExport.objects.create(query="")
    EvidenceExport.objects.filter(pk=stalled.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    later = timezone.now() + timedelta(minutes=1)

    assert resuming.resume_stalled_builds() == 1
    assert EvidenceExport.objects.get(pk=waiting.pk).state == "queued"
    assert EvidenceExport.objects.get(pk=stalled.pk).state == "done"
    EvidenceExport.objects.filter(pk=waiting.pk).update(progressed_at=timezone.now())
    assert resuming.resume_stalled_builds(now=later) == 0


def test_a_discovery_request_whose_worker_stopped_is_built_by_the_schedulers_next_sweep(export_dir):
    for _ in range(2):
        make_certificate(phone="5135556719")
    found = discovery.open_request(user=None, hold_name="Case 9", phone="(513) 555-6719")
    left_building(DiscoveryRequest, found, minutes_ago=6)

    out = io.StringIO()
    call_command("run_scheduler", "--once", stdout=out)

    found.refresh_from_db()
    assert "packages: 1 left without progress by a stopped worker, queued again" in out.getvalue()
    assert (found.state, found.total, found.hold.certificates.count()) == ("done", 2, 2)
    assert zipfile.ZipFile(packages.done_file(True, found.file_path)).read("MANIFEST.sha256")

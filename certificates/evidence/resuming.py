"""Packages whose worker stopped mid-build (killed, or its machine gone) are built again.

A build marks its row as it goes (`progressed_at`, once per chunk); the scheduler queues again every
package still queued or building without progress for `packages.STALLED_AFTER`. The build starts afresh
(a ZIP cannot be resumed half-written) under a file name of its own, and a second task for a package
that is being built leaves it alone (`packages.take_build`), so nothing is built twice at once.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from certificates.evidence.discovery import build_discovery_task
from certificates.evidence.models import DiscoveryRequest, EvidenceExport
from certificates.evidence.packages import STALLED_AFTER, build_evidence_export


def resume_stalled_builds(*, now: datetime | None = None) -> int:
    """Queue again every package left without progress; how many. Each is marked queued now, so the next
    sweep waits another STALLED_AFTER before asking again (a long queue ahead of it is not a stall)."""
    now = now or timezone.now()
    stalled_before = now - STALLED_AFTER
    resumed = 0
    for model, build in ((EvidenceExport, build_evidence_export), (DiscoveryRequest, build_discovery_task)):
        stalled = model.objects.filter(
            Q(progressed_at__lt=stalled_before)
            | Q(progressed_at__isnull=True, created_at__lt=stalled_before),
            state__in=[model.State.QUEUED, model.State.RUNNING],
        )
        for pk in stalled.values_list("pk", flat=True):
            model.objects.filter(pk=pk).update(state=model.State.QUEUED, progressed_at=now)
            build.enqueue(pk)
            resumed += 1
    return resumed

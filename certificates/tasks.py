"""django.tasks entry points. They take ids (or nothing), are idempotent, and only wake the work:
the certificate rows hold the truth, so a lost or repeated task loses nothing (design.md §2)."""

import os
import socket
import uuid

from django.contrib.auth import get_user_model
from django.tasks import task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from certificates import claiming, rollups


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@task()
def claim_due_certificates() -> dict:
    """Claim everything that is due, with this worker's thread pool."""
    stats = claiming.claim_due(owner=worker_name())
    rollups.refresh_dirty()
    return {
        "claimed": stats.claimed,
        "retried": stats.retried,
        "final_errors": stats.final_errors,
        "not_sent": stats.not_sent,
    }


def wake_claimer() -> None:
    """Enqueue a claim task unless one is already waiting: the task claims everything due anyway."""
    backend = claim_due_certificates.get_backend()
    if isinstance(backend, DatabaseBackend):
        waiting = DBTaskResult.objects.ready().filter(
            task_path=claim_due_certificates.module_path, backend_name=backend.alias
        )
        if waiting.exists():
            return
    claim_due_certificates.enqueue()


@task()
def sweep_certificates() -> dict:
    stats = claiming.sweep()
    rollups.refresh_dirty()
    if stats.due:
        wake_claimer()
    return {"checked_in": stats.checked_in, "expired": stats.expired, "due": stats.due}


@task()
def check_in_at_risk(user_id: int | None = None) -> dict:
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    stats = claiming.check_in_at_risk(user=user)
    return {"checked_in": stats.checked_in, "errors": stats.check_in_errors}


@task()
def import_stored_upload(batch_id: int, token: str) -> None:
    """Read a large confirmed upload into its batch (the batch page shows the progress)."""
    # Imported here: importing enqueues this task, so a module-level import would be circular.
    from certificates.importing import import_stored_upload_now

    import_stored_upload_now(batch_id, token)

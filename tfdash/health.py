"""/healthz for load balancers and monitors: is the database answering, is a worker taking tasks?

No login, so it says nothing about customers or configuration: no counts, no hosts, no keys.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_tasks_db.models import DBTaskResult


def worker_state() -> tuple[str, str | None]:
    """("ok" | "stale" | "unknown", when a worker last finished a task).

    The worker leaves no trace but the tasks it finishes, and it is idle when nothing is due, so an old
    last-finished time alone means nothing. Stale: a task has been ready for longer than
    HEALTH_WORKER_STALE_SECONDS and no worker took it. Unknown: no worker has ever finished a task.
    """
    finished = DBTaskResult.objects.finished().order_by("-finished_at")
    last_seen = finished.values_list("finished_at", flat=True).first()
    waiting_since = (
        DBTaskResult.objects.ready().order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    )
    stale_after = timedelta(seconds=settings.HEALTH_WORKER_STALE_SECONDS)
    seen = last_seen.isoformat() if last_seen else None
    if waiting_since is not None and timezone.now() - waiting_since > stale_after:
        return "stale", seen
    return ("ok" if last_seen else "unknown"), seen


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"database": "error", "worker": "unknown", "last_seen": None}, status=503)
    try:
        worker, last_seen = worker_state()
    except DatabaseError:  # e.g. the task table is not migrated: the database itself answered
        worker, last_seen = "unknown", None
    return JsonResponse({"database": "ok", "worker": worker, "last_seen": last_seen})

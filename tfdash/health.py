"""/healthz for load balancers and monitors: is the database answering, is a worker taking tasks, are
alerts going out (none waiting longer than 15 minutes)?

No login, so it says nothing about customers or configuration: no counts, no hosts, no keys.
"""

from datetime import timedelta

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from certificates.alerts.delivery import undelivered_since
from certificates.worker import worker_state

# Alerts not delivered after this long mean a channel or the worker is broken: the check says so.
UNDELIVERED_AFTER = timedelta(minutes=15)


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse(
            {"database": "error", "worker": "unknown", "last_seen": None, "alerts": "unknown"}, status=503
        )
    try:
        worker, last_seen = worker_state()
        alerts = "undelivered" if undelivered_since(UNDELIVERED_AFTER) else "ok"
    except DatabaseError:  # e.g. the tables are not migrated: the database itself answered
        worker, last_seen, alerts = "unknown", None, "unknown"
    return JsonResponse({"database": "ok", "worker": worker, "last_seen": last_seen, "alerts": alerts})

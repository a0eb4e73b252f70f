"""The log of requests the API endpoints received, for tests to read back (`GET /_sandbox/requests`)."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from sandbox.clock import isoformat
from sandbox.models import RequestRecord

MAX_BODY_CHARS = 20_000


def record(
    request: HttpRequest,
    *,
    endpoint: str,
    at: datetime,
    cert_id: str = "",
    api_version: str = "",
    auth_ok: bool = False,
    status: int = 0,
    fault: str = "",
    duration_ms: float = 0.0,
) -> None:
    """Store one request. Headers are not stored, so the API key never is."""
    RequestRecord.objects.create(
        at=at,
        method=request.method or "",
        path=request.get_full_path(),
        endpoint=endpoint,
        cert_id=cert_id[:255],
        api_version=api_version,
        auth_ok=auth_ok,
        content_type=request.headers.get("Content-Type", "")[:200],
        body=request.body.decode("utf-8", errors="replace")[:MAX_BODY_CHARS],
        status=status,
        fault=fault,
        duration_ms=round(duration_ms, 3),
    )


def listing(filters: dict[str, str], limit: int) -> list[dict[str, Any]]:
    """The most recent `limit` records matching the filters, oldest first."""
    q = RequestRecord.objects.order_by("-id")
    for name in ("cert_id", "endpoint", "method", "fault"):
        if filters.get(name):
            q = q.filter(**{name: filters[name]})
    rows = list(q[:limit])
    rows.reverse()
    return [
        {
            "at": isoformat(row.at),
            "method": row.method,
            "path": row.path,
            "endpoint": row.endpoint,
            "cert_id": row.cert_id,
            "api_version": row.api_version,
            "auth_ok": row.auth_ok,
            "content_type": row.content_type,
            "body": row.body,
            "status": row.status,
            "fault": row.fault,
            "duration_ms": row.duration_ms,
        }
        for row in rows
    ]

"""The emulated certificate API over HTTP. Thin: each view hands the request to sandbox.claiming.

Every API request goes through `api_endpoint`: latency and fault knobs, the check-order logic, the
`X-Runtime` header the real service sends (§2.1), and one record in the request log.
"""

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox import claiming, clock, faults, ids, requestlog
from sandbox import responses as r
from sandbox import state as sandbox_state

logger = logging.getLogger(__name__)
Handler = Callable[[claiming.Call, str, HttpRequest], HttpResponse | tuple[int, Any]]


def api_endpoint(endpoint: str) -> Callable[[Handler], Callable[..., HttpResponse]]:
    def decorate(handler: Handler) -> Callable[..., HttpResponse]:
        @wraps(handler)
        def view(request: HttpRequest, cert_id: str) -> HttpResponse:
            started = time.monotonic()
            state = sandbox_state.load()
            call = claiming.Call(
                state=state,
                now=clock.now(state),
                version=claiming.resolve_version(request, state),
                auth_ok=claiming.authenticated(request, state),
            )
            latency_ms = state.faults.get("latency_ms") or 0
            if latency_ms:
                time.sleep(latency_ms / 1000)
            plan = faults.plan(state, ids.canonical(cert_id) or cert_id)
            if plan.reset and faults.abort_connection(request.META):
                response = HttpResponse(status=500)  # never reaches the client: the connection is gone
                status = 0
            else:
                response = plan.response or _handle(handler, call, cert_id, request)
                status = response.status_code
            if plan.hang_seconds:
                time.sleep(plan.hang_seconds)
            elapsed = time.monotonic() - started
            response["X-Runtime"] = f"{elapsed:.6f}"
            requestlog.record(
                request,
                endpoint=endpoint,
                at=call.now,
                cert_id=cert_id,
                api_version=call.version or request.headers.get("Api-Version", ""),
                auth_ok=call.auth_ok,
                status=status,
                fault=plan.label,
                duration_ms=elapsed * 1000,
            )
            return response

        return view

    return decorate


def _handle(handler: Handler, call: claiming.Call, cert_id: str, request: HttpRequest) -> HttpResponse:
    try:
        answer = handler(call, cert_id, request)
    except r.ApiError as exc:
        return r.error_response(exc.problem, call.answer_version)
    except Exception:
        logger.exception("sandbox API handler failed")
        return r.json_response(r.SERVER_ERROR_JSON, status=500)
    if isinstance(answer, HttpResponse):
        return answer
    status, body = answer
    return r.json_response(body, status=status)


@require_http_methods(["GET", "POST"])
@api_endpoint("certificate")
def certificate(call: claiming.Call, cert_id: str, request: HttpRequest) -> HttpResponse | tuple[int, Any]:
    if request.method == "GET":
        return claiming.view(call, cert_id)
    if not request.headers.get("Content-Type"):
        claiming.account_checks(call)  # credentials first (readings, Request checks)
        raise r.ApiError(r.MISSING_CONTENT_TYPE)
    return claiming.claim(call, cert_id, request)


@require_POST
@api_endpoint("check_in")
def check_in(call: claiming.Call, cert_id: str, request: HttpRequest) -> tuple[int, Any]:
    return claiming.check_in(call, cert_id)


@require_http_methods(["GET", "POST"])
@api_endpoint("ping")
def ping(call: claiming.Call, cert_id: str, request: HttpRequest) -> tuple[int, Any]:
    return claiming.ping(call, cert_id, request)


@require_GET
@api_endpoint("ping_url")
def ping_url(call: claiming.Call, cert_id: str, request: HttpRequest) -> tuple[int, Any]:
    return claiming.ping_url(cert_id)


@require_GET
@api_endpoint("validate")
def validate(call: claiming.Call, cert_id: str, request: HttpRequest) -> tuple[int, Any]:
    return claiming.validate(call, cert_id)

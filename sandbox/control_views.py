"""Test knobs under /_sandbox/: minting, faults, account, clock, request log, reset.

No authentication: the sandbox is a loopback test emulator, and these endpoints exist only for the
tests, benchmarks and demo that drive it. The real service has nothing like them.
"""

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox import claiming, clock, faults, ids, insights, requestlog, store
from sandbox import responses as r
from sandbox import state as sandbox_state
from sandbox.models import Certificate, CertificateFault, Claim, RequestRecord


def _json(request: HttpRequest) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    data = claiming.strict_json(request.body)  # what is minted is answered later, so it must be JSON too
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _bad(message: str) -> HttpResponse:
    return r.json_response({"error": message}, status=400)


@require_GET
def health(request: HttpRequest) -> HttpResponse:
    return r.json_response({"status": "ok"})


@require_POST
def mint(request: HttpRequest) -> HttpResponse:
    try:
        wanted = store.MintRequest.from_json(_json(request))
    except ValueError as exc:
        return _bad(str(exc))
    certs = store.mint(wanted, clock.now(sandbox_state.load()))
    if wanted.count == 1:
        return r.json_response(store.minted_view(certs[0]), status=201)
    return r.json_response({"certificates": [store.minted_view(c) for c in certs]}, status=201)


@require_GET
def certificate_detail(request: HttpRequest, cert_id: str) -> HttpResponse:
    """What the store holds about a certificate, for tests: window, fingerprints, claims."""
    state = sandbox_state.load()
    cert = store.find(ids.canonical(cert_id) or cert_id)
    if cert is None:
        return r.json_response({"error": "no such certificate"}, status=404)
    now = clock.now(state)
    claims = Claim.objects.filter(cert_id=cert.cert_id).order_by("id")
    return r.json_response(
        {
            **store.minted_view(cert),
            "sandbox": cert.is_sandbox,
            "form_submitted": cert.form_submitted,
            "expired": cert.expires_at <= now,
            "email_fingerprints": cert.email_fingerprints,
            "phone_fingerprints": cert.phone_fingerprints,
            "page_text": cert.page_text,
            "masked_cert_url": ids.cert_url(cert.masked_id) if cert.masked_id else None,
            "insights": insights.all_properties(cert, now),
            "claims": [
                {
                    "claim_id": c.claim_id,
                    "api_version": c.api_version,
                    "reference": c.reference,
                    "vendor": c.vendor,
                    "created_at": clock.isoformat(c.created_at),
                    "retained_until": clock.isoformat(c.retained_until),
                }
                for c in claims
            ],  # fmt: skip
        }
    )


@require_http_methods(["GET", "POST", "DELETE"])
def global_faults(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            state = sandbox_state.set_faults(_json(request))
        except ValueError as exc:
            return _bad(str(exc))
    elif request.method == "DELETE":
        state = sandbox_state.set_faults({})
    else:
        state = sandbox_state.load()
    return r.json_response({"faults": state.faults})


@require_http_methods(["POST", "DELETE"])
def certificate_faults(request: HttpRequest, cert_id: str) -> HttpResponse:
    key = ids.canonical(cert_id) or cert_id
    if request.method == "DELETE":
        CertificateFault.objects.filter(cert_id=key).delete()
        return r.json_response({"cert_id": key, "faults": None})
    try:
        fault = faults.set_certificate_faults(key, _json(request))
    except ValueError as exc:
        return _bad(str(exc))
    return r.json_response(
        {
            "cert_id": key,
            "faults": {
                "fail_next": fault.fail_next,
                "respond": fault.respond,
                "redirect_to": fault.redirect_to,
                "times": fault.times_left,
            },
        }  # fmt: skip
    )


@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            state = sandbox_state.update_account(_json(request))
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
    else:
        state = sandbox_state.load()
    return r.json_response(sandbox_state.account_view(state))


@require_http_methods(["GET", "POST"])
def clock_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            data = _json(request)
            if "advance_seconds" in data:
                state = clock.advance(float(data["advance_seconds"]))
            elif "offset_seconds" in data:
                state = clock.set_offset(float(data["offset_seconds"]))
            else:
                return _bad("send offset_seconds or advance_seconds")
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
    else:
        state = sandbox_state.load()
    return r.json_response(
        {"now": clock.isoformat(clock.now(state)), "offset_seconds": state.clock_offset_seconds}
    )


@require_GET
def request_log(request: HttpRequest) -> HttpResponse:
    try:
        limit = min(int(request.GET.get("limit", 1000)), 100_000)
    except ValueError:
        return _bad("limit must be an integer")
    return r.json_response({"requests": requestlog.listing(request.GET.dict(), limit)})


@require_http_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
def trap(request: HttpRequest) -> HttpResponse:
    """A redirect target: a hit here proves a client followed a redirect it should not have."""
    state = sandbox_state.load()
    requestlog.record(request, endpoint="trap", at=clock.now(state), status=200)
    return r.json_response({"trapped": True})


@require_POST
def reset(request: HttpRequest) -> HttpResponse:
    """Back to a fresh sandbox: no certificates, claims, faults or log; account and clock at defaults."""
    with transaction.atomic():
        Certificate.objects.all().delete()
        Claim.objects.all().delete()
        CertificateFault.objects.all().delete()
        RequestRecord.objects.all().delete()
    state = sandbox_state.restore_defaults()
    return r.json_response({"reset": True, "account": sandbox_state.account_view(state)})

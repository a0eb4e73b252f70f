"""The JSON intake API for the buyer's lead system: push leads, read back what became of them.

Authenticated by `Authorization: Bearer <token>` (an IntakeToken, per integration), never by a session
cookie, so CSRF does not apply. Every answer is JSON, errors included.
"""

import json
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.db.models import Case, F, Value, When
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from certificates.intake import api, importer, tokens
from certificates.models import Certificate, IntakeToken
from certificates.revocations import recording
from certificates.revocations.models import Revocation

MAX_LEADS = 1000
STATUS_NAMES = {
    importer.NEW: "accepted",
    importer.DUPLICATE: "duplicate",
    importer.REUSED: "reused",
    importer.REJECTED: "rejected",
}

ApiView = Callable[..., JsonResponse]


def problem(status: int, error: str, reason: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": error, "reason": reason}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def token_required(scope: str, methods: tuple[str, ...]) -> Callable[[ApiView], ApiView]:
    """Check the method, the bearer token, its scope and its rate; pass the token to the view."""

    def decorator(view: ApiView) -> ApiView:
        @csrf_exempt
        @login_not_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> JsonResponse:
            if request.method not in methods:
                return problem(
                    405, "method_not_allowed", f"Use {' or '.join(methods)}.", Allow=", ".join(methods)
                )
            scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not raw.strip():
                return problem(
                    401,
                    "unauthorized",
                    "Send Authorization: Bearer <intake token>.",
                    WWW_Authenticate="Bearer",
                )
            token = tokens.token_for(raw.strip())
            if token is None:
                return problem(
                    401, "unauthorized", "The token is unknown or was revoked.", WWW_Authenticate="Bearer"
                )
            if scope not in token.scopes:
                return problem(403, "forbidden", f"The token lacks the scope {scope}.")
            wait = rate_limit_wait(token)
            if wait:
                return problem(
                    429, "rate_limited", f"Too many requests; retry in {wait} s.", Retry_After=str(wait)
                )
            return view(request, token, *args, **kwargs)

        return wrapper

    return decorator


def rate_limit_wait(token: IntakeToken) -> int:
    """Seconds to wait when the token used up this minute's requests, else 0 (a fixed window per minute).

    Counted on the token's row, so all web processes share one limit without a shared cache. The UPDATE
    is atomic: it starts a new window or counts into the current one (SET reads the row's old values).
    """
    limit = settings.INTAKE_RATE_LIMIT
    now = time.time()
    window = int(now // 60)
    tokens = IntakeToken.objects.filter(pk=token.pk)
    tokens.update(
        rate_window=window,
        rate_count=Case(When(rate_window=window, then=F("rate_count") + 1), default=Value(1)),
    )
    # Read back after the UPDATE: another process's request in between only makes this one stricter.
    count = tokens.values_list("rate_count", flat=True).get()
    return max(1, 60 - int(now % 60)) if count > limit else 0


@token_required("leads:write", methods=("POST",))
def leads(request: HttpRequest, token: IntakeToken) -> JsonResponse:
    """Accept one lead object or a list of them; answer 201 (all taken), 207 (some) or 422 (none)."""
    try:
        data = json.loads(request.body)
    except RequestDataTooBig:
        return problem(413, "too_large", f"The request body is too large; send at most {MAX_LEADS} leads.")
    except (ValueError, RecursionError) as exc:
        return problem(400, "bad_json", f"The body is not valid JSON: {str(exc)[:200]}")
    batch_of = [data] if isinstance(data, dict) else data
    if not isinstance(batch_of, list) or not batch_of:
        return problem(400, "bad_request", "Send one lead object or a non-empty list of lead objects.")
    if len(batch_of) > MAX_LEADS:
        return problem(413, "too_large", f"At most {MAX_LEADS} leads per request (got {len(batch_of)}).")
    batch, outcomes = api.import_api_leads(batch_of, token=token)
    states = dict(
        Certificate.objects.filter(cert_id__in={o.cert_id for o in outcomes if o.cert_id}).values_list(
            "cert_id", "state"
        )
    )
    results = [_result(index, outcome, states) for index, outcome in enumerate(outcomes)]
    rejected = sum(r["status"] == "rejected" for r in results)
    status = 201 if not rejected else 422 if rejected == len(results) else 207
    counts = {name: sum(r["status"] == name for r in results) for name in STATUS_NAMES.values()}
    return JsonResponse({"batch": batch.pk, "counts": counts, "results": results}, status=status)


@token_required("leads:read", methods=("GET", "HEAD"))
def lead_detail(request: HttpRequest, token: IntakeToken, cert_id: str) -> JsonResponse:
    """A certificate's state and TrustedForm's outcome, by its id."""
    certificate = (
        Certificate.objects.select_related("vendor").filter(cert_id__in={cert_id, cert_id.lower()}).first()
    )
    if certificate is None:
        return problem(404, "not_found", "No lead with this certificate id.")
    return JsonResponse(lead_json(certificate))


def lead_json(certificate: Certificate) -> dict:
    def when(value):
        return value.isoformat() if value else None

    return {
        "cert_id": certificate.cert_id,
        "cert_url": certificate.cert_url,
        "vendor": certificate.vendor.name,
        "reference": certificate.reference,
        "state": certificate.state,
        "state_reason": certificate.state_reason,
        "outcome": certificate.outcome or None,
        "outcome_reason": certificate.outcome_reason,
        "fingerprint_result": certificate.fingerprint_result or None,
        "reused": certificate.reused,
        "review_status": certificate.review_status or None,
        "received_at": when(certificate.received_at),
        "claim_deadline": when(certificate.claim_deadline),
        "claimed_at": when(certificate.claimed_at),
        "retained_until": when(certificate.retained_until),
        "attempts": certificate.attempts,
        "last_error": certificate.last_error,
    }


def _result(index: int, outcome: importer.RowOutcome, states: dict[str, str]) -> dict:
    result = {
        "index": index,
        "status": STATUS_NAMES[outcome.status],
        "cert_id": outcome.cert_id or None,
        "errors": [e.as_json() for e in outcome.errors],
    }
    if outcome.cert_id:
        result["state"] = states.get(outcome.cert_id)
        result["url"] = reverse("api:lead", args=[outcome.cert_id])
    return result


@token_required("revocations:write", methods=("POST",))
def revocations(request: HttpRequest, token: IntakeToken) -> JsonResponse:
    """Record one revocation of consent or a list of them: {phone and/or email, revoked_at, channel,
    note}. Answers 201 (all taken), 207 (some) or 422 (none), with each item's honour-by date or errors.
    The same revocation sent again is found, not doubled (`"status": "duplicate"`)."""
    try:
        data = json.loads(request.body)
    except RequestDataTooBig:
        return problem(
            413, "too_large", f"The request body is too large; send at most {MAX_LEADS} revocations."
        )
    except (ValueError, RecursionError) as exc:
        return problem(400, "bad_json", f"The body is not valid JSON: {str(exc)[:200]}")
    items = [data] if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        return problem(400, "bad_request", "Send one revocation object or a non-empty list of them.")
    if len(items) > MAX_LEADS:
        return problem(413, "too_large", f"At most {MAX_LEADS} revocations per request (got {len(items)}).")
    results = []
    for index, item in enumerate(items):
        clean, errors = recording.clean_revocation(item if isinstance(item, dict) else {})
        if clean is None:
            reasons = [{"field": name, "reason": reason} for name, reason in errors]
            results.append({"index": index, "status": "rejected", "errors": reasons})
            continue
        revocation, created = recording.record_revocation(clean, user=None, source=Revocation.Source.API)
        results.append(
            {
                "index": index,
                "status": "recorded" if created else "duplicate",
                "id": revocation.pk,
                "honour_by": revocation.honour_by.isoformat(),
            }
        )
    rejected = sum(r["status"] == "rejected" for r in results)
    status = 201 if not rejected else 422 if rejected == len(results) else 207
    return JsonResponse({"results": results}, status=status)

"""Error answers with the exact bodies the service sends, per API generation (§3.4, §3.7, §3.8)."""

import json
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponse

from sandbox import readings


@dataclass(frozen=True)
class Problem:
    """One way a request fails: its status, its v4 reason, and the reason v3 bodies use."""

    status: int
    reason: str
    v3_reason: str | None = None


MALFORMED_ID = Problem(400, "Malformed certificate id")
MISSING_CONTENT_TYPE = Problem(400, readings.MISSING_CONTENT_TYPE_REASON)
UNSUPPORTED_VERSION = Problem(400, "Unsupported API version")
NO_VALID_PRODUCTS = Problem(400, "No valid products detected")
SCHEMA = Problem(400, "The request cannot be processed because it does not meet the expected schema.")
MATCH_LEAD_REQUIRED = Problem(400, "Match Lead fields not included in request.")
MATCH_LEAD_NEEDS_WEB = Problem(400, "match_lead requires a web certificate")
MATCH_LEAD_EMPTY = Problem(400, "match_lead must contain either phone or email keys")
TOO_MANY_PHONES = Problem(400, "match_lead phone must be a list of 3 or less phone numbers")
TOO_MANY_EMAILS = Problem(400, "match_lead email must be a list of 3 or less email addresses")
INVALID_PROPERTY = Problem(400, "Invalid property key(s) requested")
UNAUTHORIZED = Problem(401, "Unauthorized")
INACTIVE = Problem(402, "Account is inactive", "account is inactive")
NOT_FOUND = Problem(404, "TrustedForm certificate has expired or could not be found", "certificate not found")
NOT_CLAIMABLE = Problem(405, "Certificate is not claimable", "certificate not claimable")
MASKED_NOT_EXTENDABLE = Problem(
    readings.MASKED_CHECK_IN_STATUS, readings.MASKED_CHECK_IN_REASON, readings.MASKED_CHECK_IN_REASON.lower()
)
TOO_MANY_CLAIMS = Problem(
    422, "Certificate has been claimed too many times", "certificate has been claimed too many times"
)


def unavailable_product(product: str) -> Problem:
    label = readings.PRODUCT_LABEL[product]
    return Problem(403, f"Unavailable product requested: {label}", f"unavailable product requested: {label}")


def delimiter_problem(reason: str) -> Problem:
    return Problem(400, reason)


class ApiError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.reason)
        self.problem = problem


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    # allow_nan=False: NaN and Infinity are not JSON (RFC 8259 §6); one would be a bug, never an answer.
    content = json.dumps(body, allow_nan=False)
    response = HttpResponse(content, status=status, content_type="application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_body(problem: Problem, version: str) -> dict[str, Any]:
    """The body of an error answer; v4 follows the spec's examples, v3 the recorded LeadConduit ones."""
    if version == "4.0":
        if problem == MALFORMED_ID:
            detail = problem.reason
            return {"errors": {"detail": detail}, "message": detail, "outcome": "error", "reason": detail}
        return {"outcome": "error", "reason": problem.reason}
    if problem.status == 401:
        return {"errors": {"detail": "Unauthorized"}, "message": "Unauthorized"}
    if problem.status == 400:
        # Reading (§3.7): v3's 400 body is undocumented; it carries both the spec's BadRequest keys.
        return {"errors": {"detail": problem.reason}, "message": problem.reason, "outcome": "error",
                "reason": problem.reason}  # fmt: skip
    return {"outcome": "failure", "reason": problem.v3_reason or problem.reason}


def error_response(problem: Problem, version: str) -> HttpResponse:
    headers = {"WWW-Authenticate": 'Basic realm="TrustedForm"'} if problem.status == 401 else None
    return json_response(error_body(problem, version), status=problem.status, headers=headers)


SERVER_ERROR_JSON = {"errors": {"detail": "Internal Server Error"}}
SERVER_ERROR_HTML = (
    "<!DOCTYPE html><html><head><title>We're sorry, but something went wrong</title></head>"
    "<body><h1>Oops! Something went wrong.</h1><p>We've been notified about this issue.</p></body></html>"
)

"""The wire formats: v3 and v4 request bodies, and v2/v3/v4 answers turned into typed results."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import requests

from trustedform.leads import Lead, ScanTerms, fingerprint
from trustedform.results import (
    CallRecord,
    ClaimResult,
    Geo,
    Insights,
    ScanResults,
    TrustedFormError,
)
from trustedform.versions import V3, V4

API_VERSIONS = (V3, V4)


# v4 Insights properties (docs/trustedform.md §2.2; `browser` is missing from the spec's enum but documented).
INSIGHTS_PROPERTIES = (
    "age_seconds",
    "approx_ip_geo",
    "bot_detected",
    "browser",
    "confirmed_owner",
    "created_at",
    "domain",
    "expires_at",
    "form_input_kpm",
    "form_input_method",
    "form_input_wpm",
    "ip",
    "is_framed",
    "is_masked",
    "num_sensitive_content_elements",
    "num_sensitive_form_elements",
    "os",
    "page_url",
    "parent_page_url",
    "seconds_on_page",
)


# Account-level answers: retrying or failing certificates one by one cannot help.
ACCOUNT_STATUSES = frozenset({401, 402, 403})


RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


MAX_LOGGED_BODY = 64 * 1024


def v3_claim_body(lead: Lead, scans: ScanTerms | None) -> dict[str, Any]:
    """The v3 Consent claim body (JSON, so that template terms are allowed; §2.3)."""
    body: dict[str, Any] = {}
    if lead.reference:
        body["reference"] = lead.reference
    if lead.vendor:
        body["vendor"] = lead.vendor
    if lead.email_normalised:
        body["email"] = lead.email_normalised
    if lead.phone_normalised:
        body["phone_1"] = lead.phone_normalised
    if lead.fingerprints:
        body["fingerprints"] = list(lead.fingerprints)
    if scans:
        if scans.required:
            body["required_scan_terms"] = list(scans.required)
        if scans.forbidden:
            body["forbidden_scan_terms"] = list(scans.forbidden)
        if scans.delimiter:
            body["scan_delimiter"] = scans.delimiter
    return body


def v4_claim_body(
    lead: Lead,
    scans: ScanTerms | None,
    insights_properties: Sequence[str],
) -> dict[str, Any]:
    """The v4 operations body: match_lead (required with retain), retain, insights (§2.2). tfdash asks no
    verify operation: nothing in the product sets its criteria."""
    match_lead: dict[str, Any] = {}
    if lead.email_normalised:
        match_lead["email"] = lead.email_normalised
    if lead.phone_normalised:
        match_lead["phone"] = lead.phone_normalised
    retain: dict[str, Any] = {}
    if lead.reference:
        retain["reference"] = lead.reference
    if lead.vendor:
        retain["vendor"] = lead.vendor
    body: dict[str, Any] = {"match_lead": match_lead, "retain": retain}
    if insights_properties or scans:
        body["insights"] = v4_insights_body(insights_properties, scans)
    return body


def v4_insights_body(properties: Sequence[str], scans: ScanTerms | None) -> dict[str, Any]:
    unknown = sorted(set(properties) - set(INSIGHTS_PROPERTIES))
    if unknown:
        raise ValueError(f"Unknown insights properties: {', '.join(unknown)}")
    insights: dict[str, Any] = {"properties": list(properties)}
    if scans:
        required = scans.required_v4 if scans.required_v4 is not None else _strings(scans.required)
        forbidden = scans.forbidden_v4 if scans.forbidden_v4 is not None else _strings(scans.forbidden)
        insights["scans"] = {"required": list(required), "forbidden": list(forbidden)}
        if scans.delimiter:
            insights["scans"]["delimiter"] = scans.delimiter
    return insights


def _strings(terms: Sequence[str | Mapping[str, Any]]) -> list[str]:
    return [t for t in terms if isinstance(t, str)]


def parse_claim_response(
    data: Mapping[str, Any],
    *,
    status: int,
    api_version: str,
    lead: Lead,
    scans: ScanTerms | None,
) -> ClaimResult:
    """Turn a v2, v3 or v4 claim answer into a ClaimResult. Tolerates missing and null fields."""
    if any(k in data for k in ("match_lead", "retain", "insights", "verify")) and "fingerprints" not in data:
        return _parse_v4(data, status, lead)
    return _parse_v2_v3(data, status, api_version, lead, scans)


def _parse_v4(data: Mapping[str, Any], status: int, lead: Lead) -> ClaimResult:
    match_lead = _mapping(data.get("match_lead"))
    match_result = _mapping(match_lead.get("result"))
    retain = _mapping(data.get("retain"))
    retained = _mapping(retain.get("results") or retain.get("result"))  # both spellings seen (§3.1)
    insights = _mapping(data.get("insights"))
    scan_block = _mapping(insights.get("scans"))
    scan_result = _mapping(scan_block.get("result"))
    required = _mapping(scan_result.get("required"))
    forbidden = _mapping(scan_result.get("forbidden"))
    properties = _mapping(insights.get("properties"))
    result = ClaimResult(
        outcome=_outcome(data.get("outcome")),
        reason=_text(data.get("reason")),
        api_version=V4,
        status=status,
        email_matched=_bool(match_result.get("email_match")),
        phone_matched=_bool(match_result.get("phone_match")),
        scans=ScanResults(
            required_found=_str_list(required.get("found")),
            required_not_found=_str_list(required.get("not_found")),
            forbidden_found=_str_list(forbidden.get("found")),
            forbidden_not_found=_str_list(forbidden.get("not_found")),
        ),
        masked_cert_url=_text(retained.get("masked_cert_url")),
        share_url=_text(retained.get("share_url")),
        expires_at=_datetime(retained.get("expires_at")),
        previously_retained=_bool(retained.get("previously_retained")),
        is_masked=_bool(properties.get("is_masked")),
        insights=_insights_v4(properties) if properties else None,
        verify=dict(_mapping(data.get("verify"))),
        raw=dict(data),
    )
    _fill_fingerprint_hashes(result, lead)
    return result


def _parse_v2_v3(
    data: Mapping[str, Any], status: int, api_version: str, lead: Lead, scans: ScanTerms | None
) -> ClaimResult:
    prints = _mapping(data.get("fingerprints"))
    matching = _str_list(prints.get("matching"))
    non_matching = _str_list(prints.get("non_matching"))
    warnings = _str_list(data.get("warnings"))
    scan_data = _mapping(data.get("scans"))
    if "required_found" in scan_data or "forbidden_found" in scan_data:
        scan_results = ScanResults(
            required_found=_str_list(scan_data.get("required_found")),
            required_not_found=_str_list(scan_data.get("required_not_found")),
            forbidden_found=_str_list(scan_data.get("forbidden_found")),
            forbidden_not_found=_str_list(scan_data.get("forbidden_not_found")),
        )
    else:
        scan_results = _split_v2_scans(scan_data, scans)
    cert = _mapping(data.get("cert"))
    outcome = data.get("outcome")
    if outcome is None:
        # v2 has no outcome: a 201 is a claim, downgraded to failure by a scan or fingerprint warning (§7).
        outcome = "failure" if (scan_results.success is False or _failing_warning(warnings)) else "success"
    email_fp = fingerprint(lead.email_normalised) if lead.email_normalised else ""
    phone_fp = fingerprint(lead.phone_normalised) if lead.phone_normalised else ""
    is_masked = _bool(data.get("is_masked", data.get("masked")))
    return ClaimResult(
        outcome=_outcome(outcome),
        reason=_text(data.get("reason")),
        api_version=api_version if "outcome" in data else "2.0",
        status=status,
        email_matched=_membership(email_fp, matching, non_matching),
        phone_matched=_membership(phone_fp, matching, non_matching),
        fingerprints_matching=matching,
        fingerprints_non_matching=non_matching,
        scans=scan_results,
        warnings=warnings,
        masked_cert_url=_text(data.get("masked_cert_url")),
        share_url=_text(data.get("share_url")),
        # v3 Consent has no retained-copy expiry of its own; v2 and v3 views carry it at the top level.
        expires_at=_datetime(data.get("expires_at")),
        is_masked=is_masked,
        insights=_insights_v3(cert) if cert else None,
        raw=dict(data),
    )


def _split_v2_scans(scan_data: Mapping[str, Any], scans: ScanTerms | None) -> ScanResults:
    """v2 mixes required and forbidden terms in found/not_found: split them by what was sent (§3.6)."""
    found = _str_list(scan_data.get("found"))
    not_found = _str_list(scan_data.get("not_found"))
    forbidden = {t for t in (scans.forbidden if scans else ()) if isinstance(t, str)}
    return ScanResults(
        required_found=[t for t in found if t not in forbidden],
        required_not_found=[t for t in not_found if t not in forbidden],
        forbidden_found=[t for t in found if t in forbidden],
        forbidden_not_found=[t for t in not_found if t in forbidden],
    )


def _failing_warning(warnings: list[str]) -> bool:
    return any(
        w in ("string not found in snapshot", "string found in snapshot", "snapshot scan failed")
        for w in warnings
    )


def _fill_fingerprint_hashes(result: ClaimResult, lead: Lead) -> None:
    for value, matched in (
        (lead.email_normalised, result.email_matched),
        (lead.phone_normalised, result.phone_matched),
    ):
        if value and matched is not None:
            (result.fingerprints_matching if matched else result.fingerprints_non_matching).append(
                fingerprint(value)
            )


def _membership(value: str, matching: list[str], non_matching: list[str]) -> bool | None:
    if not value:
        return None
    if value in matching:
        return True
    if value in non_matching:
        return False
    return None


def _insights_v4(p: Mapping[str, Any]) -> Insights:
    browser = p.get("browser")
    os_ = p.get("os")
    return Insights(
        age_seconds=_int(p.get("age_seconds")),
        created_at=_datetime(p.get("created_at")),
        expires_at=_datetime(p.get("expires_at")),
        geo=_geo(p.get("approx_ip_geo")),
        browser=_text(_mapping(browser).get("full")) if isinstance(browser, Mapping) else _text(browser),
        os=_text(_mapping(os_).get("full")) if isinstance(os_, Mapping) else _text(os_),
        is_mobile=_bool(_mapping(os_).get("is_mobile")) if isinstance(os_, Mapping) else None,
        ip=_text(p.get("ip")),
        domain=_text(p.get("domain")),
        page_url=_text(p.get("page_url")),
        parent_page_url=_text(p.get("parent_page_url")),
        seconds_on_page=_int(p.get("seconds_on_page")),
        kpm=_float(p.get("form_input_kpm")),
        wpm=_float(p.get("form_input_wpm")),
        input_methods=tuple(_str_list(p.get("form_input_method"))),
        is_framed=_bool(p.get("is_framed")),
        is_masked=_bool(p.get("is_masked")),
        bot_detected=_bool(p.get("bot_detected")),
        confirmed_owner=_text(p.get("confirmed_owner")),
        raw=dict(p),
    )


def _insights_v3(cert: Mapping[str, Any]) -> Insights:
    """The v3 Consent+Insights `cert` object, or the v2 `cert` (older names: framed, geo, event_duration)."""
    browser = cert.get("browser")
    os_ = cert.get("operating_system")
    duration_ms = cert.get("event_duration_ms", cert.get("event_duration"))
    duration = _float(duration_ms)
    seconds_on_page = round(duration / 1000) if duration is not None else None
    return Insights(
        age_seconds=_int(cert.get("age_seconds")),
        created_at=_datetime(cert.get("created_at")),
        expires_at=_datetime(cert.get("expires_at")),
        geo=_geo(cert.get("approx_ip_geo") or cert.get("geo")),
        browser=_text(_mapping(browser).get("full")) if isinstance(browser, Mapping) else _text(browser),
        os=_text(_mapping(os_).get("full")) if isinstance(os_, Mapping) else _text(os_),
        is_mobile=_bool(cert.get("is_mobile", cert.get("mobile"))),
        ip=_text(cert.get("ip")),
        domain=_text(cert.get("domain")),
        page_url=_text(cert.get("page_url") or cert.get("location")),
        parent_page_url=_text(cert.get("parent_page_url") or cert.get("parent_location")),
        seconds_on_page=seconds_on_page,
        kpm=_float(cert.get("kpm")),
        wpm=_float(cert.get("wpm")),
        input_methods=tuple(_str_list(cert.get("form_input_method"))),
        is_framed=_bool(cert.get("is_framed", cert.get("framed"))),
        bot_detected=_bool(cert.get("bot_detected")),
        raw=dict(cert),
    )


def _geo(value: Any) -> Geo | None:
    g = _mapping(value)
    if not g:
        return None
    return Geo(
        city=_text(g.get("city")),
        state=_text(g.get("state")),
        postal_code=_text(g.get("postal_code")),
        country_code=_text(g.get("country_code") or g.get("country")),
        time_zone=_text(g.get("time_zone")),
        lat=_float(g.get("lat")),
        lon=_float(g.get("lon")),
    )


STATUS_MEANINGS = {
    400: "TrustedForm refused the request as malformed",
    401: "TrustedForm refused the API key",
    402: "The TrustedForm account is inactive or out of funds",
    403: "The TrustedForm account may not use this operation",
    404: "The certificate has expired or could not be found",
    405: "The certificate cannot be claimed (a sandbox certificate)",
    406: "TrustedForm cannot answer in the requested format",
    410: "The certificate's claim window has passed",
    422: "The certificate has been claimed too many times",
    429: "TrustedForm is rate limiting requests",
}


def error_for_response(response: requests.Response, call: CallRecord) -> TrustedFormError:
    status = response.status_code
    if 300 <= status < 400:
        message = (
            f"TrustedForm answered with a redirect ({status}); it was not followed, so the key stayed here."
        )
        call.error = message
        return TrustedFormError(message, status=status, call=call)
    data = _json_or_none(response)
    reason = error_reason(data, response.text) if data is not None else _non_json_reason(response)
    meaning = STATUS_MEANINGS.get(status) or (
        "TrustedForm had a server error" if status >= 500 else f"TrustedForm answered HTTP {status}"
    )
    message = f"{meaning} (HTTP {status})" + (
        f": {reason}" if reason and reason.lower() not in meaning.lower() else "."
    )
    call.error = message
    retry_after = _retry_after(response.headers.get("Retry-After")) if status == 429 else None
    return TrustedFormError(
        message,
        status=status,
        reason=reason or meaning,
        retryable=status in RETRYABLE_STATUSES or status >= 500,
        pauses_account=status in ACCOUNT_STATUSES,
        retry_after=retry_after,
        call=call,
    )


def error_reason(data: Any, text: str) -> str:
    if isinstance(data, Mapping):
        for key in ("reason", "message", "error"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        errors = data.get("errors")
        if isinstance(errors, Mapping) and isinstance(detail := errors.get("detail"), str):
            return detail
    return ""


def _non_json_reason(response: requests.Response) -> str:
    text = response.text.strip()
    if not text:
        return "an empty answer"
    if text.lstrip().lower().startswith(("<!doctype", "<html")) or "<html" in text[:200].lower():
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        return f"an HTML error page{': ' + title.group(1).strip()[:100] if title else ''}"
    return text[:200]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def json_object(
    response: requests.Response, call: CallRecord, *, allow_empty: bool = False
) -> dict[str, Any]:
    if allow_empty and not response.content.strip():
        return {}
    data = _json_or_none(response)
    if data is None and allow_empty and response.text.strip() == "null":
        return {}
    if not isinstance(data, dict):
        message = (
            f"TrustedForm answered HTTP {response.status_code} with {_non_json_reason(response)}, "
            "which is not the JSON object expected."
        )
        # The call was processed but its answer is unreadable: it may have claimed, so the next attempt
        # looks it up (view) before claiming again (unknown=True), just as after a read timeout.
        call.outcome, call.error = "unknown", message
        raise TrustedFormError(message, status=response.status_code, retryable=True, unknown=True, call=call)
    return data


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in value]
    return []


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


# Counts and seconds TrustedForm sends are small; one beyond this would overflow a database column.
MAX_INT = 2**53


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(value) if number is not None and abs(number) <= MAX_INT else None


def _float(value: Any) -> float | None:
    """A finite number as a float; None for anything else. A JSON number beyond a double (1e400, or an
    integer of 400 digits) is valid JSON, but it is no measurement: it becomes None, never an error."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _outcome(value: Any) -> str:
    return value if value in ("success", "failure", "error") else "error"

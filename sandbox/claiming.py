"""The certificate API's behaviour: the order of checks (§10), v3 Consent claims and v4 operations.

Every function here takes an already-parsed request and answers (status, body) or raises ApiError; the
views only translate HTTP to these calls.
"""

import base64
import binascii
import hmac
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest, QueryDict

from sandbox import clock, fingerprints, ids, insights, readings, scan, store, verify
from sandbox import responses as r
from sandbox.models import Certificate, State

V3 = "3.0"
V4 = "4.0"
OPERATIONS = ("match_lead", "retain", "insights", "verify")


@dataclass
class Call:
    """What every endpoint knows about a request before handling it."""

    state: State
    now: datetime
    version: str | None  # "3.0" / "4.0", or None when the Api-Version header names another
    auth_ok: bool

    @property
    def answer_version(self) -> str:
        """The generation whose error bodies this request gets (v4's for an unsupported version)."""
        return self.version or V4


def resolve_version(request: HttpRequest, state: State) -> str | None:
    """`Api-Version` header (any case), else the account's default (§2.1)."""
    header = request.headers.get("Api-Version")
    if header is None or not header.strip():
        return state.default_api_version
    return readings.API_VERSIONS.get(header.strip())


def authenticated(request: HttpRequest, state: State) -> bool:
    """HTTP Basic with the API key as the password; the username is ignored (§0.1)."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    _, colon, password = decoded.partition(":")
    return bool(colon) and hmac.compare_digest(password.encode(), state.api_key.encode())


def account_checks(call: Call) -> None:
    """401 bad key, 402 inactive account, then 400 for an Api-Version the service does not speak."""
    if not call.auth_ok:
        raise r.ApiError(r.UNAUTHORIZED)
    if not call.state.active:
        raise r.ApiError(r.INACTIVE)
    if call.version is None:
        raise r.ApiError(r.UNSUPPORTED_VERSION)


def canonical_id(raw_id: str) -> str:
    cert_id = ids.canonical(raw_id)
    if cert_id is None:
        raise r.ApiError(r.MALFORMED_ID)
    return cert_id


def live_certificate(call: Call, raw_id: str) -> Certificate:
    """The checks every authenticated call runs, in §10's order, up to 404."""
    account_checks(call)
    cert = store.find_live(canonical_id(raw_id), call.now)
    if cert is None:
        raise r.ApiError(r.NOT_FOUND)
    return cert


def claimable_certificate(call: Call, raw_id: str) -> Certificate:
    cert = live_certificate(call, raw_id)
    if cert.is_sandbox:
        raise r.ApiError(r.NOT_CLAIMABLE)
    return cert


# --- request bodies ----------------------------------------------------------------------------------------


def _is_json(request: HttpRequest) -> bool:
    return (request.content_type or "").lower() == "application/json"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a double")
    return value


def _double_int(text: str) -> int:
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise ValueError(f"{text[:20]}... does not fit a double") from None
    return value


def strict_json(text: bytes | str) -> Any:
    """RFC 8259 JSON only: NaN, Infinity and numbers beyond a double raise ValueError."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_double_int)


def _json_body(request: HttpRequest) -> Any:
    if not request.body.strip():
        return {}
    try:
        return strict_json(request.body)
    except (ValueError, UnicodeDecodeError):
        raise r.ApiError(r.SCHEMA) from None


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


@dataclass
class ConsentParams:
    """The parameters of a v3 Consent claim or ping (§2.3)."""

    reference: str | None
    vendor: str | None
    emails: list[str]
    phones: list[str]
    hashes: list[str]
    required: list[scan.Term]
    forbidden: list[scan.Term]
    delimiter: str | None


def _form_values(form: QueryDict, name: str) -> list[str]:
    return form.getlist(name) + form.getlist(f"{name}[]")


def _numbered(keys: list[str], base: str) -> list[str]:
    """`base`, `base[]` and `base_1`, `base_2`... in numeric order."""
    numbered = [k for k in keys if k.startswith(f"{base}_") and k[len(base) + 1 :].isdigit()]
    return [base, f"{base}[]", *sorted(numbered, key=lambda k: int(k[len(base) + 1 :]))]


def parse_consent(request: HttpRequest) -> ConsentParams:
    """A v3 body: JSON (templates allowed) or form-encoded (`[]` names too)."""
    if _is_json(request):
        data = _json_body(request)
        if not isinstance(data, dict):
            raise r.ApiError(r.SCHEMA)

        def values(name: str) -> list[Any]:
            return [v for key in (name, f"{name}[]") for v in _as_list(data.get(key))]

        def numbered(base: str) -> list[Any]:
            return [v for key in _numbered(list(data), base) for v in _as_list(data.get(key))]

    else:
        form = QueryDict(request.body, encoding="utf-8")

        def values(name: str) -> list[Any]:
            return _form_values(form, name)

        def numbered(base: str) -> list[Any]:
            return [v for key in _numbered(list(form), base) for v in form.getlist(key)]

    params = ConsentParams(
        reference=(values("reference") or [None])[0],
        vendor=(values("vendor") or [None])[0],
        emails=numbered("email"),
        phones=numbered("phone"),
        hashes=values("fingerprint") + values("fingerprints"),
        required=values("required_scan_terms"),
        forbidden=values("forbidden_scan_terms"),
        delimiter=(values("scan_delimiter") or [None])[0] or None,
    )
    strings = [
        params.reference,
        params.vendor,
        params.delimiter,
        *params.emails,
        *params.phones,
        *params.hashes,
    ]
    if not all(v is None or isinstance(v, str) for v in strings):
        raise r.ApiError(r.SCHEMA)
    if not all(scan.is_valid_term(t) for t in params.required + params.forbidden):
        raise r.ApiError(r.SCHEMA)
    return params


# --- v3 ------------------------------------------------------------------------------------------------------------


def _scan(page_text: str, required: list, forbidden: list, delimiter: str | None) -> scan.ScanResult:
    try:
        return scan.scan(page_text, required, forbidden, delimiter)
    except scan.DelimiterError as exc:
        raise r.ApiError(r.delimiter_problem(str(exc))) from None


def consent_evaluation(cert: Certificate, params: ConsentParams, call: Call) -> dict[str, Any]:
    """The v3 Consent(+Insights) body of a certificate, without the claim's own fields (§3.7)."""
    provided = [fingerprints.email_fingerprint(e) for e in params.emails]
    provided += [fingerprints.phone_fingerprint(p) for p in params.phones]
    provided += [fingerprints.fingerprint(h) for h in params.hashes]
    provided = list(dict.fromkeys(provided))
    # A masked certificate never matches (§4).
    recorded = (
        set() if cert.kind == Certificate.MASKED else {*cert.email_fingerprints, *cert.phone_fingerprints}
    )
    matching = [h for h in provided if h in recorded]
    warnings = []
    if provided and not matching:
        warnings.append("none of the provided fingerprints match")
    scanned = _scan(cert.page_text, params.required, params.forbidden, params.delimiter)
    if scanned.required_not_found:
        warnings.append("string not found in snapshot")
    if scanned.forbidden_found:
        warnings.append("string found in snapshot")
    body: dict[str, Any] = {
        "outcome": "failure" if warnings else "success",
        "reason": warnings[0] if warnings else "",
        "is_masked": cert.kind == Certificate.MASKED,
        "masked_cert_url": ids.cert_url(cert.cert_id) if cert.kind == Certificate.MASKED else None,
        "fingerprints": {"matching": matching, "non_matching": [h for h in provided if h not in recorded]},
        "scans": {
            "required_found": scanned.required_found,
            "required_not_found": scanned.required_not_found,
            "forbidden_found": scanned.forbidden_found,
            "forbidden_not_found": scanned.forbidden_not_found,
        },
        "warnings": warnings,
    }
    if "insights" in call.state.products:
        body["cert"] = insights.v3_cert_block(cert, call.now)
    return body


def claim_v3(call: Call, cert: Certificate, request: HttpRequest) -> tuple[int, dict[str, Any]]:
    if "retain" not in call.state.products:
        raise r.ApiError(r.unavailable_product("retain") if call.state.products else r.NO_VALID_PRODUCTS)
    params = parse_consent(request)
    evaluation = consent_evaluation(cert, params, call)

    def build(context: store.RetainContext) -> dict[str, Any]:
        body = {
            "id": context.claim_id,
            "created_at": clock.isoformat(context.created_at),
            readings.V3_RETAINED_EXPIRY_FIELD: clock.isoformat(context.retained_until),
            "reference": params.reference,
            "vendor": params.vendor,
            **evaluation,
        }
        body["masked_cert_url"] = context.masked_cert_url
        return body

    body = store.record_claim(
        cert,
        now=call.now,
        claim_limit=call.state.claim_limit,
        api_version=V3,
        reference=params.reference,
        vendor=params.vendor,
        build_body=build,
    )
    if body is None:
        raise r.ApiError(r.TOO_MANY_CLAIMS)
    return 201, body


# --- v4 -------------------------------------------------------------------------------------------------------------


def _string_or_strings(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_entitlement(body: dict[str, Any], state: State) -> list[str]:
    operations = [op for op in OPERATIONS if op in body]
    if not state.products or not operations:
        raise r.ApiError(r.NO_VALID_PRODUCTS)
    for op in operations:
        product = readings.OPERATION_PRODUCT[op]
        if product not in state.products:
            raise r.ApiError(r.unavailable_product(product))
    return operations


def _check_schema(body: dict[str, Any], cert: Certificate) -> None:
    """The v4 request schema (SPEC4 components), with the KB's specific reasons where it gives them."""
    web = cert.kind in (Certificate.WEB, Certificate.MASKED)
    if "match_lead" in body:
        lead = body["match_lead"]
        if not isinstance(lead, dict) or not set(lead) <= {"email", "phone"}:
            raise r.ApiError(r.SCHEMA)
        if not web:
            raise r.ApiError(r.MATCH_LEAD_NEEDS_WEB)
        if not any(_as_list(lead.get(key)) for key in ("email", "phone")):
            raise r.ApiError(r.MATCH_LEAD_EMPTY)
        for key, too_many in (("email", r.TOO_MANY_EMAILS), ("phone", r.TOO_MANY_PHONES)):
            if key in lead and lead[key] is not None and not _string_or_strings(lead[key]):
                raise r.ApiError(r.SCHEMA)
            if len(_as_list(lead.get(key))) > readings.MAX_MATCH_LEAD_VALUES:
                raise r.ApiError(too_many)
    if "retain" in body:
        retain = body["retain"]
        if not isinstance(retain, dict):
            raise r.ApiError(r.SCHEMA)
        if any(retain.get(k) is not None and not isinstance(retain[k], str) for k in retain):
            raise r.ApiError(r.SCHEMA)
        if any(k in retain and retain[k] is None for k in readings.RETAIN_ECHOED):
            raise r.ApiError(r.SCHEMA)
        if web and "match_lead" not in body:
            raise r.ApiError(r.MATCH_LEAD_REQUIRED)
    if "insights" in body:
        wanted = body["insights"]
        if not isinstance(wanted, dict) or not ({"properties", "scans"} & set(wanted)):
            raise r.ApiError(r.SCHEMA)
        if "properties" in wanted:
            names = wanted["properties"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise r.ApiError(r.SCHEMA)
            if not set(names) <= set(insights.PROPERTY_NAMES):
                raise r.ApiError(r.INVALID_PROPERTY)
        if "scans" in wanted:
            scans = wanted["scans"]
            if not isinstance(scans, dict) or not set(scans) <= {"required", "forbidden", "delimiter"}:
                raise r.ApiError(r.SCHEMA)
            if any(k in scans and not _string_or_strings(scans[k]) for k in ("required", "forbidden")):
                raise r.ApiError(r.SCHEMA)
            delimiter = scans.get("delimiter")
            if "delimiter" in scans and not isinstance(delimiter, str):
                raise r.ApiError(r.SCHEMA)
            try:
                scan.check_delimiter(delimiter)
            except scan.DelimiterError as exc:
                raise r.ApiError(r.delimiter_problem(str(exc))) from None
    if "verify" in body:
        params = body["verify"]
        if not isinstance(params, dict):
            raise r.ApiError(r.SCHEMA)
        if "advertiser_name" in params and not isinstance(params["advertiser_name"], str):
            raise r.ApiError(r.SCHEMA)
        for key in ("min_font_size_px_required", "min_contrast_ratio_required"):
            if key in params and not _number(params[key]):
                raise r.ApiError(r.SCHEMA)
        allowed = params.get("opt_in_types_allowed", [])
        # Each item's type is checked first: an object or a list in it must not reach a set() (readings).
        if not isinstance(allowed, list) or not all(
            isinstance(a, str) and a in readings.OPT_IN_TYPES for a in allowed
        ):
            raise r.ApiError(r.SCHEMA)


def _match_lead(cert: Certificate, lead: dict[str, Any]) -> dict[str, Any]:
    masked = cert.kind == Certificate.MASKED
    section: dict[str, Any] = {key: lead[key] for key in ("email", "phone") if _as_list(lead.get(key))}

    def matched(key: str, recorded: list[str], digest) -> bool | None:
        values = _as_list(lead.get(key))
        if not values:
            return None  # not provided (§5 "v4 match result semantics")
        return not masked and any(digest(v) in recorded for v in values)

    email_match = matched("email", cert.email_fingerprints, fingerprints.email_fingerprint)
    phone_match = matched("phone", cert.phone_fingerprints, fingerprints.phone_fingerprint)
    section["result"] = {
        "email_match": email_match,
        "phone_match": phone_match,
        "success": bool(email_match or phone_match),
    }
    return section


def _insights(cert: Certificate, wanted: dict[str, Any], now: datetime) -> dict[str, Any]:
    section: dict[str, Any] = {}
    if "properties" in wanted:
        section["properties"] = insights.requested_properties(cert, wanted["properties"], now)
    params = wanted.get("scans") or {}
    required, forbidden = _as_list(params.get("required")), _as_list(params.get("forbidden"))
    scanned = _scan(cert.page_text, required, forbidden, params.get("delimiter"))
    section["scans"] = {
        "required": params.get("required", []),
        "forbidden": params.get("forbidden", []),
        **({"delimiter": params["delimiter"]} if "delimiter" in params else {}),
        "result": {
            "required": {"found": scanned.required_found, "not_found": scanned.required_not_found},
            "forbidden": {"found": scanned.forbidden_found, "not_found": scanned.forbidden_not_found},
            # null when no scan terms were sent (SPEC4 ScansResult)
            "success": scanned.success if (required or forbidden) else None,
        },
    }
    return section


def run_operations(call: Call, cert: Certificate, request: HttpRequest) -> tuple[int, dict[str, Any]]:
    """A v4 call: entitlement, schema, then each requested operation; retain happens even on failure."""
    if not _is_json(request):
        body: Any = None
    else:
        body = _json_body(request)
    if not isinstance(body, dict):
        raise r.ApiError(r.SCHEMA)
    _check_entitlement(body, call.state)
    _check_schema(body, cert)

    reasons: list[str] = []
    sections: dict[str, Any] = {}
    if "match_lead" in body:
        sections["match_lead"] = _match_lead(cert, body["match_lead"])
        if not sections["match_lead"]["result"]["success"]:
            reasons.append("No matches found")
    if "insights" in body:
        sections["insights"] = _insights(cert, body["insights"], call.now)
        if sections["insights"]["scans"]["result"]["success"] is False:
            reasons.append("Insights page scans unsuccessful")
    if "verify" in body:
        verified = verify.run(cert, body["verify"])
        sections["verify"] = verified.body
        if verified.failure_reason:
            reasons.append(verified.failure_reason)

    def build(context: store.RetainContext | None) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "outcome": "failure" if reasons else "success",
            "reason": reasons[0] if reasons else None,
        }
        if "match_lead" in sections:
            answer["match_lead"] = sections["match_lead"]
        if context is not None:
            answer["retain"] = {
                **{k: body["retain"][k] for k in readings.RETAIN_ECHOED if k in body["retain"]},
                "results": {
                    "expires_at": clock.isoformat(context.retained_until),
                    "previously_retained": context.previously_retained,
                    "masked_cert_url": context.masked_cert_url,
                    "share_url": f"{ids.cert_url(cert.cert_id)}?shared_token={context.claim_id}",
                },
            }
        for name in ("insights", "verify"):
            if name in sections:
                answer[name] = sections[name]
        return answer

    if "retain" not in body:
        return 200, build(None)
    answer = store.record_claim(
        cert,
        now=call.now,
        claim_limit=call.state.claim_limit,
        api_version=V4,
        reference=body["retain"].get("reference"),
        vendor=body["retain"].get("vendor"),
        build_body=build,
    )
    if answer is None:
        raise r.ApiError(r.TOO_MANY_CLAIMS)
    return 200, answer


# --- the endpoints -------------------------------------------------------------------------------------------------


def claim(call: Call, raw_id: str, request: HttpRequest) -> tuple[int, dict[str, Any]]:
    """`POST /<cert_id>`: v3 Consent (201) or v4 operations (200)."""
    cert = claimable_certificate(call, raw_id)
    if call.version == V4:
        return run_operations(call, cert, request)
    return claim_v3(call, cert, request)


def view(call: Call, raw_id: str) -> tuple[int, dict[str, Any]]:
    """`GET /<cert_id>`: your last claim's answer again, while the retained copy is kept; else 404."""
    account_checks(call)
    claim_row = store.latest_retained_claim(canonical_id(raw_id), call.now)
    if claim_row is None:
        raise r.ApiError(r.NOT_FOUND)
    return 200, claim_row.response_body


def check_in(call: Call, raw_id: str) -> tuple[int, dict[str, Any]]:
    """`POST /<cert_id>/check_in`: extend the claim window to 90 days without claiming (§3.9)."""
    cert = claimable_certificate(call, raw_id)
    if cert.kind == Certificate.MASKED:
        raise r.ApiError(r.MASKED_NOT_EXTENDABLE)
    store.check_in(cert, call.now)
    return 200, {}


def ping(call: Call, raw_id: str, request: HttpRequest) -> tuple[int, dict[str, Any]]:
    """`POST /<id>/ping` (v3 ping: the Consent evaluation, nothing claimed); `GET` the legacy ping data."""
    cert = live_certificate(call, raw_id)
    if request.method == "GET":
        return 200, insights.legacy_ping(cert, call.now)
    return 200, consent_evaluation(cert, parse_consent(request), call)


def ping_url(raw_id: str) -> tuple[int, dict[str, Any]]:
    """`GET /<id>/ping_url`: unauthenticated; a new, equally valid ping URL on every call (§1)."""
    canonical_id(raw_id)
    return 200, {"url": f"{ids.PING_HOST}/{ids.new_ping_id()}"}


VALIDATE_LABEL = {
    Certificate.WEB: "Web",
    Certificate.MASKED: "Web",
    Certificate.MOBILE: "Mobile",
    Certificate.META: "Facebook",
}


def validate(call: Call, raw_id: str) -> tuple[int, dict[str, Any]]:
    """`GET /<id>/validate`: format and age only (§3.9)."""
    account_checks(call)
    cert_id = ids.canonical(raw_id)
    cert = store.find(cert_id) if cert_id else None
    if cert is None:
        return 200, {"outcome": "failure", "reason": "This is an invalid certificate id"}
    if call.now - cert.created_at > readings.VALIDATE_MAX_AGE:
        return 200, {"outcome": "failure", "reason": "Certificate is more than 90 days old"}
    return 200, {
        "outcome": "success",
        "reason": f"This is a valid {VALIDATE_LABEL[cert.kind]} certificate id",
    }

"""The official v4 spec (tests/fixtures/trustedform/openapi-v4.json), corrected where recorded answers differ.

Where the spec and the recorded real answers (tests/fixtures/trustedform/cases.json) disagree, the
recordings win. Every correction is listed in CORRECTIONS with its evidence, and applied by
`corrected_spec()`; nothing else about the spec is changed.

The 200 answer's `insights` is the spec's `oneOf` web / mobile / Meta result. Those three schemas allow
extra keys, so one answer can match several of them and fail the `oneOf`. `corrected_spec(kind)` uses
the one result schema for the certificate's kind instead.
"""

import copy
import json
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "trustedform" / "openapi-v4.json"
OPERATION_PATH = "/{cert_id}"

WEB = "web"
MOBILE = "mobile"
META = "meta"
MASKED = "masked"
INSIGHTS_RESULT = {
    WEB: "WebInsightsResult",
    MASKED: "WebInsightsResult",
    MOBILE: "MobileInsightsResult",
    META: "MetaLeadAdsInsightsResult",
}

# What each correction changes and the evidence for it.
CORRECTIONS = {
    "openapi-version": 'The file says "openapi": "3.0"; schemathesis loads only "3.0.x", so it is read as '
    "3.0.3. A loading formality: no schema changes.",
    "bad-request-body": "A 400 body needs only `outcome` and `reason` (the spec requires `errors` and "
    "`message` too): the KB's error answers C075, C077, C093-C096 and C099-C101 carry just those two; the "
    "spec's own example C063 still conforms.",
    "match-lead-values": "match_lead `email` and `phone` are a string or a list of at most 3 strings, in the "
    'request and echoed as sent in the answer: C095/C096 ("must be a list of 3 or less"), C022 (the email '
    "echoed as sent).",
    "match-result-null": "match_lead `email_match`, `phone_match` and `success` may be null: the spec's own "
    'descriptions of them say "A null value indicates that no emails were provided" (docs/trustedform.md '
    '§5 "v4 match result semantics"), while their type says boolean.',
    "version-parts-null": "browser and os `version.major/minor/patch` may be null: C022/C026 record "
    '`"patch": null` for "Mac OS X 10.15" (a part the version does not have).',
    "parent-page-url-null": "`parent_page_url` may be null: C022/C026 record it null for a page not framed.",
    "masked-page-url-null": "For a masked certificate `page_url` may be null: a masked certificate hides the "
    "page URL (docs/trustedform.md §4, KB what-is-masked). No recording covers a masked answer, so this "
    "is the one correction taken from documentation rather than a recorded answer.",
}


def load_spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def _nullable(schema: dict[str, Any]) -> None:
    schema["nullable"] = True


def _string_or_list(max_items: int) -> dict[str, Any]:
    return {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}, "maxItems": max_items},
        ]
    }


def corrected_spec(kind: str = WEB) -> dict[str, Any]:
    """The spec with CORRECTIONS applied and the 200 answer's insights narrowed to `kind`'s result."""
    spec = copy.deepcopy(load_spec())
    spec["openapi"] = "3.0.3"
    schemas = spec["components"]["schemas"]

    schemas["BadRequest"]["required"] = ["outcome", "reason"]

    for name in ("MatchLeadEmailParameters", "MatchLeadPhoneParameters", "MatchLeadPhoneEmailParameters"):
        for key in schemas[name]["properties"]:
            schemas[name]["properties"][key] = _string_or_list(3)
    result = schemas["MatchLeadResult"]["properties"]
    result["email"] = _string_or_list(3)
    result["phone"] = _string_or_list(3)
    for key in ("email_match", "phone_match", "success"):
        _nullable(result["result"]["properties"][key])

    for name in ("WebInsightsResult", "MobileInsightsResult"):
        properties = schemas[name]["properties"]["properties"]["properties"]
        for block in ("browser", "os"):
            if block in properties:
                for part in ("major", "minor", "patch"):
                    _nullable(properties[block]["properties"]["version"]["properties"][part])
    web = schemas["WebInsightsResult"]["properties"]["properties"]["properties"]
    _nullable(web["parent_page_url"])
    if kind == MASKED:
        _nullable(web["page_url"])

    schemas["InsightsResponse"]["properties"]["insights"] = {
        "$ref": f"#/components/schemas/{INSIGHTS_RESULT[kind]}"
    }
    return spec


def answer_schemas(kind: str = WEB) -> dict[int, dict[str, Any]]:
    """Each documented status of the claim operation and the (corrected) schema of its JSON body."""
    spec = corrected_spec(kind)
    operation = spec["paths"][OPERATION_PATH]["post"]
    answers = {}
    for status, response in operation["responses"].items():
        if "$ref" in response:
            response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        answers[int(status)] = response["content"]["application/json"]["schema"]
    return answers

"""Fuzz the running sandbox with the official v4 spec (issue 19).

Schemathesis generates requests from tests/fixtures/trustedform/openapi-v4.json, valid ones and invalid
ones, as corrected where recorded real answers contradict it (tests/support/openapi_v4.py names each
correction and its case id). Every request goes to a certificate minted for it: web, mobile, Meta, masked,
sandbox, expired or reused (retained before, up to the claim limit), or to an id the sandbox never issued.
Every answer must be no 5xx, a documented status with a documented content type, a body that conforms to
the schema for the certificate's kind, and strict RFC 8259 JSON (no NaN or Infinity).

FUZZ_EXAMPLES (default 1000) and FUZZ_SEED (default 19; "random" for a new one) set the run;
`make fuzz` runs it long with a random seed.
"""

import base64
import json
import os
import random
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
import schemathesis.checks
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from tests.support.openapi_v4 import MASKED, META, MOBILE, OPERATION_PATH, WEB, corrected_spec
from tests.support.sandbox import SandboxAdmin

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))
SEED_SETTING = os.environ.get("FUZZ_SEED", "19")
SEED = random.randrange(2**32) if SEED_SETTING == "random" else int(SEED_SETTING)

# The certificate a request goes to, and the spec kind whose insights schema its answer follows.
TARGETS = {
    "web": WEB,
    "mobile": MOBILE,
    "meta": META,
    "masked": MASKED,
    "sandbox": WEB,  # 405
    "expired": WEB,  # 404
    "reused": WEB,  # previously retained, or 422 once the claim limit is reached
    "never-issued": WEB,  # the generated id as is: 400 malformed or 404
}
CLAIM_LIMIT = 2  # low, so that "reused" reaches the 422 in two prior claims
LEAD_EMAIL = "kelly@thethings.biz"
LEAD_PHONE = "(513) 555-6719"
V3_VERSIONS = {"3", "3.0"}  # the v4 spec describes v4 answers only

# Left alone, generation favours bodies with no operation at all ("No valid products detected"). Each
# focus also requires some operations of the body: still the spec's request schema, only narrower.
FOCUSES: tuple[tuple[str, ...], ...] = (
    (),
    ("match_lead", "retain"),
    ("insights",),
    ("verify",),
    ("match_lead",),
    ("match_lead", "retain", "insights", "verify"),
)


def focused_spec(kind: str, required: tuple[str, ...]) -> dict[str, Any]:
    spec = corrected_spec(kind)
    if required:
        request_body = spec["paths"][OPERATION_PATH]["post"]["requestBody"]
        request_body["required"] = True
        request_body["content"]["application/json"]["schema"]["required"] = list(required)
    return spec


OPERATIONS = {
    (kind, focus): schemathesis.openapi.from_dict(focused_spec(kind, focus))[OPERATION_PATH]["POST"]
    for kind in set(TARGETS.values())
    for focus in FOCUSES
}
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def assert_strict_json(response: requests.Response) -> None:
    if response.headers.get("Content-Type", "").startswith("application/json"):
        json.loads(response.content, parse_constant=refuse_constant)


class Fuzzer:
    """Mints the target of each request and sends it; counts what was sent."""

    def __init__(self, sandbox: SandboxAdmin) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.trust_env = False
        self.sent: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()

    def target(self, target: str, prior_claims: int) -> str | None:
        if target == "never-issued":
            return None
        fields: dict[str, Any] = {"email": LEAD_EMAIL, "phone": LEAD_PHONE}
        if target in ("mobile", "meta", "masked"):
            fields["type"] = target
        elif target == "sandbox":
            fields["sandbox"] = True
        elif target == "expired":
            fields["age_hours"] = 100  # past the 72 h web window
        cert_id: str = self.sandbox.mint(**fields)["cert_id"]
        for _ in range(prior_claims if target == "reused" else 0):
            answer = self.session.post(
                f"{self.sandbox.base_url}/{cert_id}",
                json={"match_lead": {"email": LEAD_EMAIL}, "retain": {}},
                headers={"Api-Version": "4.0"},
                auth=("API", self.sandbox.api_key),
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            self.sent["prior claim"] += 1
        return cert_id

    def send(self, case: Any, target: str, cert_id: str | None, valid_key: bool) -> requests.Response:
        if cert_id is not None:
            case.path_parameters = {**(case.path_parameters or {}), "cert_id": cert_id}
        headers = dict(case.headers or {})
        for name in [n for n in headers if n.lower() == "api-version"]:
            if str(headers[name]).strip() in V3_VERSIONS:
                headers[name] = "4.0"
        if valid_key:
            headers.pop("Authorization", None)
            token = base64.b64encode(f"API:{self.sandbox.api_key}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        case.headers = headers
        response = case.call(base_url=self.sandbox.base_url, session=self.session, timeout=30)
        self.sent["fuzz"] += 1
        self.statuses[response.status_code] += 1
        return response


@pytest.fixture
def fuzzer(sandbox: SandboxAdmin) -> Fuzzer:
    sandbox.set_account(default_api_version="4.0", claim_limit=CLAIM_LIMIT)
    return Fuzzer(sandbox)


def test_the_sandbox_answers_the_fuzzed_v4_spec_as_documented(fuzzer: Fuzzer, sandbox: SandboxAdmin) -> None:
    cases = {
        key: st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
        )
        for key, operation in OPERATIONS.items()
    }

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(sorted(TARGETS)), label="target")
        prior_claims = (
            data.draw(st.integers(1, CLAIM_LIMIT), label="prior claims") if target == "reused" else 0
        )
        valid_key = data.draw(st.integers(0, 9), label="key") > 0  # mostly valid; else as generated
        focus = data.draw(st.sampled_from(FOCUSES), label="focus")
        case = data.draw(cases[(TARGETS[target], focus)], label="case")
        cert_id = fuzzer.target(target, prior_claims)
        response = fuzzer.send(case, target, cert_id, valid_key)
        case.validate_response(response, checks=CHECKS)
        assert_strict_json(response)

    try:
        fuzz()
    finally:
        print(
            f"FUZZ_SEED={SEED} FUZZ_EXAMPLES={EXAMPLES}: sent {dict(fuzzer.sent)}, statuses {fuzzer.statuses}"
        )
    logged = sandbox.requests(endpoint="certificate", limit=100_000)
    assert len(logged) == fuzzer.sent["fuzz"] + fuzzer.sent["prior claim"]
    # Hypothesis may stop a little short of max_examples, never far: the test cannot pass sending nothing.
    assert fuzzer.sent["fuzz"] >= EXAMPLES * 0.9
    assert fuzzer.statuses[200], "no request got past the checks to the operations"

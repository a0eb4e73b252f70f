"""The client against every answer the v4 spec allows: a typed result or one TrustedFormError, nothing else.

Answers are generated from the v4 response schemas (tests/support/openapi_v4.py: the official spec,
corrected where recorded answers differ) by schemathesis' own generator, and served over a real socket
by a small local HTTP server; `requests` is never mocked.
"""

import json
import threading
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, fields, is_dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from tests.support.openapi_v4 import INSIGHTS_RESULT, WEB, answer_schemas, corrected_spec
from trustedform import V4, ClaimResult, Lead, ScanTerms, TrustedFormClient, TrustedFormError

CERT_URL = "https://cert.trustedform.com/eb9fc4dd9bed9ad451a5648946cf4bf09b5bb947"
EXAMPLES = 300
# JSON numbers no double holds: valid JSON (RFC 8259 §6 leaves their range to the parser) and valid for
# every `number` and `integer` of the spec, so an answer may carry one.
HUGE_NUMBERS = ("1" + "0" * 400, "-1" + "0" * 400, "1e400", "-1e400")
NUMBER_MARK = "\x00number\x00"


@dataclass
class Answer:
    status: int
    body: bytes


class AnswerServer:
    """A loopback HTTP server that answers every request with the answer set last."""

    def __init__(self) -> None:
        self.answer = Answer(200, b"{}")
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _respond(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests += 1
                self.send_response(server.answer.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(server.answer.body)))
                self.end_headers()
                self.wfile.write(server.answer.body)

            do_GET = do_POST = _respond

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "AnswerServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def answer_spec() -> dict[str, Any]:
    """A spec whose operations take each documented answer as their request body, to generate answers
    with schemathesis' generator: POST /<status>/<kind> for 200 per certificate kind, /<status> else."""
    spec = corrected_spec(WEB)
    paths: dict[str, Any] = {}
    for kind in sorted(set(INSIGHTS_RESULT)):
        for status, schema in answer_schemas(kind).items():
            if status != 200 and kind != WEB:
                continue
            path = f"/{status}/{kind}" if status == 200 else f"/{status}"
            content = {"application/json": {"schema": schema}}
            operation = {
                "requestBody": {"required": True, "content": content},
                "responses": {"200": {"description": "OK"}},
            }
            paths[path] = {"post": operation}
    return {**spec, "paths": paths}


def answers() -> st.SearchStrategy[Answer]:
    schema = schemathesis.openapi.from_dict(answer_spec())
    strategies = []
    for path in schema.raw_schema["paths"]:
        operation = schema[path]["POST"]
        status = int(path.split("/")[1])
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE).map(partial(with_status, status)))
    return st.tuples(st.one_of(strategies), st.sampled_from((None, *HUGE_NUMBERS))).map(encode)


def with_status(status: int, case: Any) -> tuple[int, Any]:
    return status, case.body


def mark_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: mark_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mark_numbers(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return NUMBER_MARK
    return value


def encode(generated: tuple[tuple[int, Any], str | None]) -> Answer:
    """The generated body as JSON, its numbers written as `huge` when one is given."""
    (status, body), huge = generated
    if huge is None:
        return Answer(status, json.dumps(body, allow_nan=False).encode())
    text = json.dumps(mark_numbers(body)).replace(json.dumps(NUMBER_MARK), huge)
    return Answer(status, text.encode())


def assert_typed(value: Any, hint: Any, where: str) -> None:
    """`value` is an instance of the annotation `hint` (recursing into dataclasses, lists and tuples)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return
    if origin in (types.UnionType, typing.Union):
        errors = []
        for option in typing.get_args(hint):
            try:
                assert_typed(value, option, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: {value!r} is none of {hint}: {errors}")
    if hint is type(None):
        assert value is None, f"{where}: {value!r} is not None"
        return
    if origin in (list, tuple):
        assert isinstance(value, origin), f"{where}: {value!r} is not a {origin.__name__}"
        item_hint = typing.get_args(hint)[0]
        for index, item in enumerate(value):
            assert_typed(item, item_hint, f"{where}[{index}]")
        return
    if origin is dict:
        assert isinstance(value, dict), f"{where}: {value!r} is not a dict"
        return
    if hint is float:
        assert isinstance(value, float), f"{where}: {value!r} is not a float"
        assert value == value and abs(value) != float("inf"), f"{where}: {value!r} is not finite"
        return
    assert isinstance(value, hint), f"{where}: {value!r} is not a {hint}"
    if hint is int:
        assert not isinstance(value, bool), f"{where}: {value!r} is a bool, not an int"
    if is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        for field in fields(hint):
            if field.name not in ("raw", "call"):
                assert_typed(getattr(value, field.name), hints[field.name], f"{where}.{field.name}")


@pytest.fixture(scope="module")
def server() -> Iterator[AnswerServer]:
    with AnswerServer() as running:
        yield running


@pytest.fixture(scope="module")
def client(server: AnswerServer) -> TrustedFormClient:
    return TrustedFormClient(
        api_key="property-test-key",
        api_base=server.base_url,
        allowed_hosts=["cert.trustedform.com"],
        api_version=V4,
        read_timeout=5.0,
    )


def call_client(client: TrustedFormClient, operation: str) -> ClaimResult:
    if operation == "claim":
        lead = Lead(email="kelly@thethings.biz", phone="(513) 555-6719", reference="lead-1", vendor="Acme")
        return client.claim(CERT_URL, lead, scans=ScanTerms(required=("quote",)), insights_properties=("ip",))
    return client.insights(CERT_URL, ["age_seconds", "browser", "os"])


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@example(
    answer=Answer(200, b'{"insights": {"properties": {"form_input_kpm": 1' + b"0" * 400 + b"}}}"),
    operation="insights",
)
@example(answer=Answer(200, b'{"insights": {"properties": {"age_seconds": 1e400}}}'), operation="insights")
@given(answer=answers(), operation=st.sampled_from(("claim", "insights")))
def test_the_client_answers_every_spec_answer_with_a_result_or_its_error(
    server: AnswerServer, client: TrustedFormClient, answer: Answer, operation: str
) -> None:
    server.answer = answer
    sent = server.requests
    try:
        result = call_client(client, operation)
    except TrustedFormError as exc:
        assert answer.status != 200 or exc.status == 200, exc  # a 200 only fails when unreadable
        assert isinstance(exc.message, str) and exc.message
    else:
        assert answer.status == 200
        assert_typed(result, ClaimResult, "result")
        assert result.outcome in ("success", "failure", "error")
    assert server.requests == sent + 1  # the answer was fetched over the socket, once

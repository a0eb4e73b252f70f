"""Structured logs: JSON lines on request, a request id, and the API key masked if it ever slips in."""

import base64
import io
import json
import logging
import os
import secrets
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from certificates.redaction import REDACTED
from tfdash.logs import JsonFormatter, RedactSecretsFilter, RequestIdFilter

ROOT = Path(__file__).resolve().parent.parent


def logger_writing_to(stream: io.StringIO, formatter: logging.Formatter) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger(f"tfdash.test.{secrets.token_hex(4)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger


def test_the_api_key_is_masked_in_messages_arguments_extras_and_tracebacks(api_key):
    stream = io.StringIO()
    log = logger_writing_to(stream, JsonFormatter())

    log.info("key is %s", api_key)
    log.warning(f"inline {api_key}")
    log.info("extra", extra={"header": f"Basic API:{api_key}"})
    try:
        raise ValueError(f"refused key {api_key}")
    except ValueError:
        log.exception("call failed")

    text = stream.getvalue()
    assert api_key not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["message"] == f"key is {REDACTED}"
    assert records[1]["message"] == f"inline {REDACTED}"
    assert records[2]["header"] == f"Basic API:{REDACTED}"
    assert f"ValueError: refused key {REDACTED}" in records[3]["exception"]


def test_the_api_key_is_masked_in_every_spelling_an_echo_can_carry(api_key):
    stream = io.StringIO()
    log = logger_writing_to(stream, JsonFormatter())
    basic = base64.b64encode(f"API:{api_key}".encode()).decode()

    log.info("upstream said %s", api_key.lower())
    log.info("echoed header", extra={"authorization": f"Basic {basic}"})
    log.info("query %s", urllib.parse.quote(api_key, safe=""))

    text = stream.getvalue()
    assert api_key.lower() not in text and basic not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["message"] == f"upstream said {REDACTED}"
    assert records[1]["authorization"] == f"Basic {REDACTED}"
    assert REDACTED in records[2]["message"]


def test_json_lines_carry_time_level_logger_and_message():
    stream = io.StringIO()
    log = logger_writing_to(stream, JsonFormatter())

    log.warning("claim %s failed", "abc", extra={"certificate": 7})

    record = json.loads(stream.getvalue())
    assert record["level"] == "WARNING"
    assert record["logger"].startswith("tfdash.test.")
    assert record["message"] == "claim abc failed"
    assert record["certificate"] == 7
    assert record["time"].endswith("+00:00")


@pytest.fixture
def json_log():
    """The production handler set-up (request id, redaction, JSON) on the root logger, into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactSecretsFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


@pytest.mark.django_db
def test_each_request_gets_an_id_in_its_log_records_and_response(client, json_log):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="proxy-id-123")
    generated = client.get("/no-such-page/")
    forged = client.get("/no-such-page/", HTTP_X_REQUEST_ID="bad id\nINFO forged line")

    assert response["X-Request-ID"] == "proxy-id-123"
    assert len(generated["X-Request-ID"]) == 32
    assert forged["X-Request-ID"] not in ("bad id\nINFO forged line", generated["X-Request-ID"])
    not_found = [json.loads(line) for line in json_log.getvalue().splitlines() if "Not Found" in line]
    assert [r["request_id"] for r in not_found] == [
        "proxy-id-123",
        generated["X-Request-ID"],
        forged["X-Request-ID"],
    ]


def run_and_capture_logs(tmp_path, **env) -> str:
    """Start Django in a subprocess with the production logging config and log one record."""
    script = (
        "import logging, django; django.setup(); "
        "from django.conf import settings; "
        "logging.getLogger('certificates.claiming').warning('sent key %s', settings.TRUSTEDFORM_API_KEY)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "tfdash.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "TRUSTEDFORM_API_KEY": "tfk_LOGTEST_distinctive_0123456789",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_log_format_json_configures_json_lines_with_the_key_redacted(tmp_path):
    output = run_and_capture_logs(tmp_path, LOG_FORMAT="json")

    line = next(line for line in output.splitlines() if "sent key" in line)
    assert json.loads(line)["message"] == f"sent key {REDACTED}"
    assert "tfk_LOGTEST" not in output


def test_plain_logs_by_default_with_the_key_redacted(tmp_path):
    output = run_and_capture_logs(tmp_path)

    line = next(line for line in output.splitlines() if "sent key" in line)
    assert line.endswith(f"WARNING certificates.claiming sent key {REDACTED}")
    assert "tfk_LOGTEST" not in output

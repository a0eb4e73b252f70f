"""Structured logs: JSON lines (LOG_FORMAT=json), a request id on every record, and the API key redacted.

Named `tfdash.logging`; inside this package `import logging` still means the standard library
(absolute imports).
"""

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from django.conf import settings

REDACTED = "[REDACTED]"
_request_id: ContextVar[str] = ContextVar("request_id", default="")
# An id from the proxy is kept only if it looks like one (no log injection through the header).
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Attributes every LogRecord has; anything else was passed in `extra=` and goes into the JSON.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id", "request"}


class RequestIdMiddleware:
    """Tag the request (and every log record written while serving it) with an id; echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs a 4xx/5xx after the middleware returned, with the request attached.
        request = getattr(record, "request", None)
        record.request_id = _request_id.get() or getattr(request, "request_id", "")
        return True


class RedactSecretsFilter(logging.Filter):
    """Belt and braces: nothing should log the API key, but if a record ever holds it, it is masked.

    The message is rendered with its arguments first, so a key passed as an argument is caught too;
    so are exception texts and tracebacks.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        key = settings.TRUSTEDFORM_API_KEY
        if not key:
            return True
        message = record.getMessage()
        if key in message:
            record.msg, record.args = message.replace(key, REDACTED), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and key in record.exc_text:
            record.exc_text = record.exc_text.replace(key, REDACTED)
        if record.stack_info and key in record.stack_info:
            record.stack_info = record.stack_info.replace(key, REDACTED)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str) and key in value:
                setattr(record, name, value.replace(key, REDACTED))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if request_id := getattr(record, "request_id", ""):
            entry["request_id"] = request_id
        for name, value in vars(record).items():
            if name not in _STANDARD:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)

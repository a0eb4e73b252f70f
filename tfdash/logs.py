"""Structured logs: JSON lines (LOG_FORMAT=json), a request id on every record, and the API key redacted.

Named `logs`, not `logging`, so that nothing can mistake it for the standard library's module.
"""

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

import pythonjsonlogger.json as jsonlogger
from django.conf import settings
from pythonjsonlogger.core import RESERVED_ATTRS

from certificates.redaction import contains_key, redact

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
    """Belt and braces: nothing should log the API key, but if a record ever holds it, in any spelling
    (certificates.redaction), it is masked.

    The message is rendered with its arguments first, so a key passed as an argument is caught too;
    so are exception texts, stacks and extras.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not settings.TRUSTEDFORM_API_KEY:
            return True
        message = record.getMessage()
        if contains_key(message):
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and contains_key(record.exc_text):
            record.exc_text = redact(record.exc_text)
        if record.stack_info and contains_key(record.stack_info):
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str) and contains_key(value):
                setattr(record, name, redact(value))
        return True


class JsonFormatter(jsonlogger.JsonFormatter):
    """One JSON object per line (python-json-logger): time, level, logger, message, request id,
    whatever was passed in `extra=`, and the exception."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "{levelname}{name}{message}")
        kwargs.setdefault("style", "{")
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger", "exc_info": "exception"})
        # django.request attaches the request object itself; its id is logged instead.
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        super().__init__(*args, **kwargs)

    # python-json-logger widens the return type (a traceback may be kept as a list of lines).
    def formatException(self, ei: Any) -> str | list[str]:  # type: ignore[override]  # noqa: N802
        # python-json-logger formats the traceback again rather than reuse the filtered exc_text.
        return _redacted(super().formatException(ei))

    def formatStack(self, stack_info: Any) -> str | list[str]:  # type: ignore[override]  # noqa: N802
        return _redacted(super().formatStack(stack_info))

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        if not log_data.get("request_id"):
            log_data.pop("request_id", None)


def _redacted(text: str | list[str]) -> str | list[str]:
    return redact(text) if isinstance(text, str) else [redact(line) for line in text]

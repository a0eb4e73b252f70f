"""Fault knobs: what goes wrong with a request before (or after) the API handles it.

Global knobs (state.faults) pick a fault at random per request: a connection reset, a 429, a 5xx (JSON
or HTML body) or a timeout. Per-certificate knobs queue exact failures (`fail_next`), replay a canned
answer (`respond`) or answer with a redirect (`redirect_to`).

Readings (the real service documents none of this, §7): a reset, a 429 and a 5xx happen before the
request is handled, so nothing is claimed; a timeout handles the request first (the claim is recorded)
and then holds the answer for `hang_seconds`, like a server that did the work but answered too late.
"""

import json
import os
import random
import re
import socket
import struct
import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.db import transaction
from django.http import HttpResponse

from sandbox import readings
from sandbox import responses as r
from sandbox.models import CertificateFault, State
from sandbox.state import STATE_ID

_STATUS_TOKEN = re.compile(r"(json|html)?([1-5]\d\d)")
NAMED_TOKENS = {"reset", "timeout", "429"}


@dataclass
class Plan:
    """What to do with one request; an empty plan means handle it normally."""

    response: HttpResponse | None = None
    reset: bool = False
    hang_seconds: float = 0.0
    label: str = ""


def is_valid_token(token: str) -> bool:
    return token in NAMED_TOKENS or bool(_STATUS_TOKEN.fullmatch(token))


def rate_limited(retry_after: int) -> HttpResponse:
    return r.json_response(
        {"outcome": "error", "reason": readings.RATE_LIMIT_REASON},
        status=429,
        headers={"Retry-After": str(retry_after)},
    )


def status_response(status: int, html: bool) -> HttpResponse:
    if html:
        return HttpResponse(r.SERVER_ERROR_HTML, status=status, content_type="text/html; charset=utf-8")
    if status >= 500:
        return r.json_response(r.SERVER_ERROR_JSON, status=status)
    return r.json_response({"outcome": "error", "reason": HTTPStatus(status).phrase}, status=status)


def canned_response(respond: dict[str, Any]) -> HttpResponse:
    """A recorded answer replayed as is: status, body (JSON value or text), content type and headers."""
    body = respond.get("body")
    if isinstance(body, str):
        content, default_type = body, "text/plain; charset=utf-8"
    elif body is None:
        content, default_type = "", "text/plain; charset=utf-8"
    else:
        content, default_type = json.dumps(body), "application/json; charset=utf-8"
    response = HttpResponse(
        content,
        status=int(respond.get("status", 200)),
        content_type=respond.get("content_type") or default_type,
    )
    for name, value in (respond.get("headers") or {}).items():
        response[name] = str(value)
    return response


def _token_plan(token: str, hang_seconds: float, retry_after: int) -> Plan:
    if token == "reset":
        return Plan(reset=True, label="reset")
    if token == "timeout":
        return Plan(hang_seconds=hang_seconds, label="timeout")
    if token == "429":
        return Plan(response=rate_limited(retry_after), label="429")
    match = _STATUS_TOKEN.fullmatch(token)
    assert match, token  # tokens are validated when set
    return Plan(response=status_response(int(match[2]), html=match[1] == "html"), label=token)


def set_certificate_faults(cert_id: str, knobs: dict[str, Any]) -> CertificateFault:
    """Replace one certificate's knobs; raises ValueError naming a bad one."""
    unknown = set(knobs) - {"fail_next", "respond", "times", "redirect_to", "hang_seconds", "retry_after"}
    if unknown:
        raise ValueError(f"unknown knob(s): {sorted(unknown)}")
    fail_next = [str(t) for t in knobs.get("fail_next") or []]
    bad = [t for t in fail_next if not is_valid_token(t)]
    if bad:
        raise ValueError(
            f"unknown fail_next token(s) {bad}: use reset, timeout, 429, NNN, jsonNNN or htmlNNN"
        )
    respond = knobs.get("respond")
    if respond is not None and (
        not isinstance(respond, dict) or not 100 <= int(respond.get("status", 200)) < 600
    ):
        raise ValueError("respond must be an object with a status between 100 and 599")
    times = knobs.get("times")
    fault = CertificateFault(
        cert_id=cert_id,
        fail_next=fail_next,
        respond=respond,
        redirect_to=knobs.get("redirect_to") or "",
        times_left=None if times is None else int(times),
        hang_seconds=knobs.get("hang_seconds"),
        retry_after=knobs.get("retry_after"),
    )
    fault.save()
    State.objects.filter(pk=STATE_ID).update(certificate_faults_set=True)
    return fault


def _certificate_plan(cert_id: str, state: State) -> Plan | None:
    if not state.certificate_faults_set:
        return None
    with transaction.atomic():
        fault = CertificateFault.objects.filter(cert_id=cert_id).first()
        if fault is None:
            return None
        hang = fault.hang_seconds or state.faults.get("hang_seconds") or readings.DEFAULT_HANG_SECONDS
        retry_after = (
            fault.retry_after or state.faults.get("retry_after") or readings.DEFAULT_RETRY_AFTER_SECONDS
        )
        if fault.fail_next:
            token = fault.fail_next.pop(0)
            fault.save(update_fields=["fail_next"])
            return _token_plan(token, hang, retry_after)
        if (fault.respond or fault.redirect_to) and fault.times_left != 0:
            if fault.times_left is not None:
                fault.times_left -= 1
                fault.save(update_fields=["times_left"])
            if fault.redirect_to:
                response = HttpResponse(status=302)
                response["Location"] = fault.redirect_to
                return Plan(response=response, label="redirect")
            return Plan(response=canned_response(fault.respond or {}), label="respond")
    return None


class _Dice:
    """A random source shared by the threads of a process, reseeded whenever the knobs change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision: int | None = None
        self._random = random.Random()

    def roll(self, state: State) -> float:
        with self._lock:
            if self._revision != state.faults_revision:
                self._revision = state.faults_revision
                self._random.seed(state.faults.get("seed"))
            return self._random.random()


_dice = _Dice()


def _global_plan(state: State) -> Plan | None:
    knobs = state.faults
    rates = [knobs.get(k, 0) for k in ("reset_rate", "rate_limit_rate", "error_rate", "timeout_rate")]
    if not any(rates):
        return None
    roll = _dice.roll(state)
    reset_rate, rate_limit_rate, error_rate, timeout_rate = rates
    if roll < reset_rate:
        return Plan(reset=True, label="reset")
    roll -= reset_rate
    if roll < rate_limit_rate:
        return Plan(
            response=rate_limited(knobs.get("retry_after", readings.DEFAULT_RETRY_AFTER_SECONDS)), label="429"
        )
    roll -= rate_limit_rate
    if roll < error_rate:
        style = knobs.get("error_body", "mixed")
        html = style == "html" or (style == "mixed" and _dice.roll(state) < 0.5)
        status = (500, 502, 503)[int(_dice.roll(state) * 3) % 3]
        return Plan(
            response=status_response(status, html=html), label=f"{'html' if html else 'json'}{status}"
        )
    roll -= error_rate
    if roll < timeout_rate:
        return Plan(hang_seconds=knobs.get("hang_seconds", readings.DEFAULT_HANG_SECONDS), label="timeout")
    return None


def plan(state: State, cert_id: str) -> Plan:
    """This request's fault: the certificate's own knobs first, then the global dice."""
    return _certificate_plan(cert_id, state) or _global_plan(state) or Plan()


def abort_connection(environ: dict[str, Any]) -> bool:
    """Reset the client's TCP connection (RST, not FIN); False when not served by gunicorn.

    SO_LINGER 0 makes the kernel send RST when the socket's last descriptor closes. Rather than closing
    gunicorn's socket under it, its descriptor number is pointed (dup2) at one end of a socket pair whose
    other end is closed: the TCP socket loses its last descriptor and resets, and gunicorn's attempt to
    write the answer fails quietly with EPIPE.
    """
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return False
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    placeholder, peer = socket.socketpair()
    peer.close()
    try:
        os.dup2(placeholder.fileno(), sock.fileno())
    finally:
        placeholder.close()
    return True

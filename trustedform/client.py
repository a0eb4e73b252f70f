"""The HTTP client: the only code in tfdash that sends requests (and the API key) anywhere."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from trustedform.ids import CertificateRef, parse_certificate_url
from trustedform.leads import Lead, ScanTerms, missing_match_lead
from trustedform.results import (
    CallRecord,
    CheckInResult,
    ClaimResult,
    LeadIncomplete,
    PingUrlResult,
    TrustedFormError,
    ValidationResult,
)
from trustedform.versions import V3, V4
from trustedform.wire import (
    API_VERSIONS,
    MAX_LOGGED_BODY,
    error_for_response,
    error_reason,
    json_object,
    parse_claim_response,
    v3_claim_body,
    v4_claim_body,
    v4_insights_body,
)

# Called with the record of a request just before it leaves, e.g. to log it first (write-ahead) or to
# re-check that the caller may still send it. Whatever it raises stops the request: nothing is sent.
# It may set `call.send_by`: if the sender is held up past that time (a GC pause, a frozen VM) between
# this check and the request's first byte, the request is not sent (TrustedFormError, `not_sent`).
type BeforeSend = Callable[[CallRecord], None]


class TrustedFormClient:
    """Talks to the TrustedForm certificate API at one base URL with one key.

    Thread-safe for concurrent calls: the session is configured once and never mutated afterwards, and its
    connection pool is as large as the thread pool that shares it.
    """

    def __init__(
        self,
        *,
        api_key: str,
        api_base: str,
        allowed_hosts: Iterable[str],
        api_version: str = V4,
        connect_timeout: float = 3.05,
        read_timeout: float = 30.0,
        pool_size: int = 16,
    ) -> None:
        if api_version not in API_VERSIONS:
            raise ValueError(f"Unsupported TrustedForm API version {api_version!r}; use 3.0 or 4.0.")
        self._key = api_key
        self.api_base = _validated_api_base(api_base)
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.api_version = api_version
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        # Ignore *_PROXY, .netrc and REQUESTS_CA_BUNDLE from the environment: no surprise credential route.
        self.session.trust_env = False
        # urllib3 retries only connection errors: nothing was sent, so a retry cannot bill a second claim.
        # Everything else is retried by the caller, each attempt logged.
        retry = Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0, backoff_factor=0.2)
        adapter = _SendByAdapter(
            max_retries=retry, pool_connections=2, pool_maxsize=max(pool_size, 1), pool_block=True
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def __repr__(self) -> str:
        return f"<TrustedFormClient base={self.api_base} version={self.api_version} key={'set' if self._key else 'unset'}>"

    def certificate(self, cert_url: str) -> CertificateRef:
        return parse_certificate_url(cert_url, self.allowed_hosts)

    # Operations

    def claim(
        self,
        cert_url: str,
        lead: Lead,
        *,
        scans: ScanTerms | None = None,
        insights_properties: Sequence[str] = (),
        api_version: str | None = None,
        before_send: BeforeSend | None = None,
    ) -> ClaimResult:
        """Claim (retain) a certificate with the lead's data, page-scan terms and, in v4, insights.

        Raises TrustedFormError on any HTTP error, timeout, redirect or unreadable answer, and
        InvalidCertificateUrl before any request for a URL that is not a TrustedForm certificate.
        """
        ref = self.certificate(cert_url)
        version = api_version or self.api_version
        if missing := missing_match_lead(lead.email, lead.phone, version):
            raise LeadIncomplete(missing)  # known now, so not sent (and not billed)
        if version == V4:
            body = v4_claim_body(lead, scans, insights_properties)
        else:
            body = v3_claim_body(lead, scans)
        response, call = self._send("claim", "POST", ref, version, body, before_send=before_send)
        if response.status_code not in (200, 201):
            raise error_for_response(response, call)
        data = json_object(response, call)
        result = parse_claim_response(
            data, status=response.status_code, api_version=version, lead=lead, scans=scans
        )
        result.call = call
        return result

    def view(
        self, cert_url: str, lead: Lead | None = None, *, before_send: BeforeSend | None = None
    ) -> ClaimResult:
        """Fetch the claim response again (`GET /<id>`), e.g. when the original answer was lost.

        Raises TrustedFormError (404 when this account never claimed it).
        """
        ref = self.certificate(cert_url)
        response, call = self._send("view", "GET", ref, V3, None, before_send=before_send)
        if response.status_code != 200:
            raise error_for_response(response, call)
        result = parse_claim_response(
            json_object(response, call), status=200, api_version=V3, lead=lead or Lead(), scans=None
        )
        result.call = call
        return result

    def check_in(self, cert_url: str, *, before_send: BeforeSend | None = None) -> CheckInResult:
        """Extend the claim window to 90 days without claiming (`POST /<id>/check_in`).

        Raises TrustedFormError, e.g. 404 when the certificate has already expired.
        """
        ref = self.certificate(cert_url)
        response, call = self._send(
            "check_in", "POST", ref, V3, None, suffix="/check_in", before_send=before_send
        )
        if response.status_code != 200:
            raise error_for_response(response, call)
        return CheckInResult(status=200, raw=json_object(response, call, allow_empty=True), call=call)

    def validate(self, cert_url: str) -> ValidationResult:
        """Ask whether an id is a valid, unexpired certificate (`GET /<id>/validate`). Claims nothing."""
        ref = self.certificate(cert_url)
        response, call = self._send("validate", "GET", ref, V3, None, suffix="/validate")
        if response.status_code not in (200, 400, 404):
            raise error_for_response(response, call)
        data = json_object(response, call, allow_empty=True)
        outcome = str(data.get("outcome") or "")
        reason = error_reason(data, response.text)
        return ValidationResult(
            valid=response.status_code == 200 and outcome == "success", reason=reason, call=call
        )

    def insights(
        self, cert_url: str, properties: Sequence[str], scans: ScanTerms | None = None
    ) -> ClaimResult:
        """v4 Insights without retaining: each returned property is billed. Raises TrustedFormError."""
        ref = self.certificate(cert_url)
        body: dict[str, Any] = {"insights": v4_insights_body(properties, scans)}
        response, call = self._send("insights", "POST", ref, V4, body)
        if response.status_code != 200:
            raise error_for_response(response, call)
        result = parse_claim_response(
            json_object(response, call), status=200, api_version=V4, lead=Lead(), scans=scans
        )
        result.call = call
        return result

    def ping_url(self, cert_url: str) -> PingUrlResult:
        """Mint a ping URL (`GET /<id>/ping_url`, deprecated, unauthenticated)."""
        ref = self.certificate(cert_url)
        response, call = self._send("ping_url", "GET", ref, V3, None, suffix="/ping_url", authenticate=False)
        if response.status_code != 200:
            raise error_for_response(response, call)
        url = json_object(response, call).get("url")
        return PingUrlResult(url=url.strip() if isinstance(url, str) else "", call=call)

    def ping(self, cert_url: str) -> dict[str, Any]:
        """Legacy ping data (`GET /<id>/ping`, deprecated): returned raw. Raises TrustedFormError."""
        ref = self.certificate(cert_url)
        response, call = self._send("ping", "GET", ref, V3, None, suffix="/ping")
        if response.status_code != 200:
            raise error_for_response(response, call)
        return json_object(response, call)

    # Transport

    def _send(
        self,
        operation: str,
        method: str,
        ref: CertificateRef,
        api_version: str,
        body: dict[str, Any] | None,
        *,
        suffix: str = "",
        authenticate: bool = True,
        before_send: BeforeSend | None = None,
    ) -> tuple[requests.Response, CallRecord]:
        # The URL is rebuilt from the validated id: the raw URL the vendor sent is never requested.
        url = f"{self.api_base}/{urllib.parse.quote(ref.cert_id, safe='.-_')}{suffix}"
        payload = json.dumps(body) if body is not None else None
        call = CallRecord(
            operation=operation,
            method=method,
            url=url,
            api_version=api_version,
            request_body=payload or "",
            started_at=time.time(),
        )
        headers = {"Accept": "application/json", "Api-Version": api_version}
        if method == "POST":
            # A POST without Content-Type gets an opaque 400 from TrustedForm (§2.1).
            headers["Content-Type"] = "application/json"
        auth = ("API", self._key) if authenticate else None
        if before_send is not None:
            before_send(call)
        started = time.perf_counter()
        _send_by.at = call.send_by
        try:
            response = self.session.request(
                method,
                url,
                data=payload if payload is not None else ("null" if method == "POST" else None),
                headers=headers,
                auth=auth,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except _SendByPassed:
            call.duration_ms = _elapsed_ms(started)
            call.outcome = "error"
            call.error = (
                "Not sent: the sender was held up past the time it had to send this request by (a stall); "
                "nothing reached TrustedForm."
            )
            raise TrustedFormError(call.error, retryable=True, not_sent=True, call=call) from None
        except requests.exceptions.ConnectTimeout:
            call.duration_ms = _elapsed_ms(started)
            call.outcome, call.error = "error", "Could not connect to TrustedForm in time."
            raise TrustedFormError(call.error, retryable=True, call=call) from None
        except requests.exceptions.ReadTimeout:
            call.duration_ms = _elapsed_ms(started)
            call.outcome = "unknown"
            call.error = f"TrustedForm did not answer within {self.timeout[1]:g} s; the request may have been processed."
            raise TrustedFormError(call.error, retryable=True, unknown=True, call=call) from None
        except requests.exceptions.ConnectionError as exc:
            call.duration_ms = _elapsed_ms(started)
            # A reset after the request was sent is as ambiguous as a read timeout.
            sent = _was_sent(exc)
            call.outcome = "unknown" if sent else "error"
            call.error = (
                "The connection to TrustedForm was closed before it answered; the request may have been processed."
                if sent
                else "Could not connect to TrustedForm."
            )
            raise TrustedFormError(call.error, retryable=True, unknown=sent, call=call) from None
        except requests.exceptions.RequestException as exc:
            call.duration_ms = _elapsed_ms(started)
            call.outcome, call.error = "error", f"The request to TrustedForm failed ({type(exc).__name__})."
            raise TrustedFormError(call.error, retryable=False, call=call) from None
        finally:
            _send_by.at = None
        call.duration_ms = _elapsed_ms(started)
        call.status = response.status_code
        call.response_body = response.text[:MAX_LOGGED_BODY]
        call.outcome = "ok" if 200 <= response.status_code < 300 else "error"
        return response, call


# The send-by check, made by the connection itself just before a request's first byte is written: after
# the connection was taken from the pool and (for https) connected, the slow steps a stall may hide in.
# requests has no hook that late, so the adapter gives its pools a connection class that checks. The
# deadline travels in a thread-local because a request is sent on the thread that called `_send`.
_send_by = threading.local()


class _SendByPassed(Exception):
    """Raised from inside urllib3 (which lets it through and discards the connection): nothing was written."""


class _SendByCheck:
    def send(self, data: Any) -> None:
        deadline = getattr(_send_by, "at", None)
        if deadline is not None:
            _send_by.at = None  # checked once, before the request's first byte; the rest follows it
            if time.time() > deadline:
                raise _SendByPassed
        super().send(data)  # type: ignore[misc]


class _SendByHTTPConnection(_SendByCheck, HTTPConnection):
    pass


class _SendByHTTPSConnection(_SendByCheck, HTTPSConnection):
    pass


class _SendByHTTPPool(HTTPConnectionPool):
    ConnectionCls = _SendByHTTPConnection


class _SendByHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _SendByHTTPSConnection


class _SendByAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _SendByHTTPPool, "https": _SendByHTTPSPool}


def _validated_api_base(api_base: str) -> str:
    """https for any host; http only for a loopback host (the local sandbox)."""
    parts = urllib.parse.urlsplit(api_base.strip())
    if parts.username or parts.password:
        raise ValueError("TRUSTEDFORM_API_BASE must not contain credentials.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        raise ValueError("TRUSTEDFORM_API_BASE must use https:// (http:// only for a loopback sandbox).")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"TRUSTEDFORM_API_BASE is not a valid base URL: {api_base!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _was_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """A connection dropped mid-exchange (ProtocolError) may have delivered the request; a refused or
    failed connection (NewConnectionError inside MaxRetryError) never did."""
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, urllib3.exceptions.MaxRetryError):
        cause = cause.reason
    return isinstance(cause, urllib3.exceptions.ProtocolError | ConnectionResetError)


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

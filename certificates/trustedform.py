"""The one HTTP client for the TrustedForm certificate API (design.md §6.1).

Nothing else in tfdash imports `requests`. This module:
- validates certificate URLs (https, exact host allow-list, no userinfo or port, one id of a known shape)
  and rebuilds every request URL from the validated id and the configured API base;
- sends the API key (Basic auth `API:<key>`) only to that base, never follows a redirect, ignores proxy
  and netrc settings from the environment, and always applies a connect and a read timeout;
- speaks API v3 (Consent, answers 201) and v4 (operations, answers 200) and turns either answer, or a v2
  one, into the same typed `ClaimResult`;
- raises one `TrustedFormError` for everything that went wrong, saying whether a retry can help;
- describes every attempt as a `CallRecord` (key-free) attached to the result or the error, so that the
  caller writes it to the API-call log from one thread.

It does not touch the database: the caller records the calls.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

V3 = "3.0"
V4 = "4.0"
API_VERSIONS = (V3, V4)

# Hosts that issue certificates outside production. Refused unless explicitly allowed, with a reason
# that names them (trustedform-api.md §1, §11.8).
STAGING_HOSTS = frozenset(
    {
        "cert.staging.trustedform.com",
        "cert.trustedform-staging.com",
        "cert.trustedform-dev.com",
        "cert.trustedform.localhost",
    }
)
PING_HOST = "ping.trustedform.com"

# v4 Insights properties (trustedform-api.md §2.2; `browser` is missing from the spec's enum but documented).
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

MAX_URL_LENGTH = 512
MAX_CERT_ID_LENGTH = 255  # trustedform-api.md §4
MAX_LOGGED_BODY = 64 * 1024

WEB_ID = re.compile(r"[0-9a-f]{40}")
MOBILE_ID = re.compile(r"[-_A-Za-z0-9]{40}|[-_A-Za-z0-9]{80}")
META_ID = re.compile(r"0\.[-_A-Za-z0-9=]+(\.[-_A-Za-z0-9=]+)+")
SHA1_HEX = re.compile(r"[0-9a-f]{40}")

# Account-level answers: retrying or failing certificates one by one cannot help (design.md §2).
ACCOUNT_STATUSES = frozenset({401, 402, 403})
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


# --- Certificate URLs -------------------------------------------------------------------------------


class InvalidCertificateUrl(ValueError):
    """A certificate URL that tfdash refuses to call, with the reason in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CertificateRef:
    """A validated certificate: its id, its type as the id shows it, and its canonical URL."""

    cert_id: str
    cert_type: str  # web | mobile | meta (a masked certificate looks like a web one)
    host: str

    @property
    def url(self) -> str:
        return f"https://{self.host}/{self.cert_id}"


def parse_certificate_url(raw: str, allowed_hosts: Iterable[str]) -> CertificateRef:
    """Validate a certificate URL as a lead vendor sent it.

    Trims whitespace and a trailing slash and lower-cases web ids; everything else that is not exactly
    `https://<allowed host>/<id>` is refused. Raises InvalidCertificateUrl with the reason.
    """
    allowed = {h.lower() for h in allowed_hosts}
    text = (raw or "").strip()
    if not text:
        raise InvalidCertificateUrl("The certificate URL is empty.")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidCertificateUrl(f"The certificate URL is too long ({len(text)} characters).")
    if "," in text or re.search(r"\s", text):
        raise InvalidCertificateUrl("This holds more than one URL (comma- or space-separated); send one.")
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidCertificateUrl("This is not a valid URL.") from None
    if parts.scheme.lower() != "https":
        if parts.scheme.lower() == "http":
            raise InvalidCertificateUrl("Certificate URLs must use https://, not http://.")
        raise InvalidCertificateUrl(
            "This is not a TrustedForm certificate URL (it must start with https://)."
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidCertificateUrl("The URL contains a user name or password; certificate URLs never do.")
    if port is not None or parts.netloc.endswith(":"):
        raise InvalidCertificateUrl("The URL names a port; certificate URLs never do.")
    host = (parts.hostname or "").lower()
    if host not in allowed:
        if host in STAGING_HOSTS:
            raise InvalidCertificateUrl(f"This is a staging certificate ({host}), not a production one.")
        if host == PING_HOST:
            raise InvalidCertificateUrl("This is a ping URL, not a certificate URL.")
        raise InvalidCertificateUrl(f"The host {host or '(none)'} is not a TrustedForm certificate host.")
    if parts.query or parts.fragment:
        raise InvalidCertificateUrl("The URL has a query string or fragment; send the plain certificate URL.")
    cert_id = parts.path.strip("/")
    if not cert_id or "/" in cert_id:
        raise InvalidCertificateUrl("The URL must name exactly one certificate id.")
    return CertificateRef(cert_id=_normalise_cert_id(cert_id), cert_type=cert_type_of(cert_id), host=host)


def cert_type_of(cert_id: str) -> str:
    """The certificate type its id shows (trustedform-api.md §4); raises InvalidCertificateUrl if none."""
    if len(cert_id) > MAX_CERT_ID_LENGTH:
        raise InvalidCertificateUrl("The certificate id is longer than 255 characters.")
    if WEB_ID.fullmatch(cert_id.lower()):
        return "web"
    if META_ID.fullmatch(cert_id):
        return "meta"
    if MOBILE_ID.fullmatch(cert_id):
        return "mobile"
    raise InvalidCertificateUrl("The certificate id has an unknown shape (expected 40 hex characters).")


def _normalise_cert_id(cert_id: str) -> str:
    return cert_id.lower() if WEB_ID.fullmatch(cert_id.lower()) else cert_id


# --- Lead matching ----------------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    """Lower-cased and trimmed, as TrustedForm hashes it (trustedform-api.md §5)."""
    return (email or "").strip().lower()


def normalise_phone(phone: str) -> str:
    """Digits only, 10-digit NANP (a leading 1 of an 11-digit number dropped), per §5's recommendation."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def fingerprint(value: str) -> str:
    """Lower-case hex SHA-1 of an already normalised value: what TrustedForm lists in `fingerprints`."""
    return hashlib.sha1(value.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Lead:
    """The lead data sent with a claim: matched against the consumer's fingerprints."""

    email: str = ""
    phone: str = ""
    reference: str = ""
    vendor: str = ""
    fingerprints: tuple[str, ...] = ()  # pre-hashed SHA-1 values

    @property
    def email_normalised(self) -> str:
        return normalise_email(self.email)

    @property
    def phone_normalised(self) -> str:
        return normalise_phone(self.phone)


@dataclass(frozen=True)
class ScanTerms:
    """Page-scan terms in wire form: strings, or v3 template objects `{"template", "variables"}`."""

    required: tuple[str | Mapping[str, Any], ...] = ()
    forbidden: tuple[str | Mapping[str, Any], ...] = ()
    delimiter: str = ""
    # v4 has no templates: the caller passes the expanded strings here (scanning.engine.expand_for_v4).
    required_v4: tuple[str, ...] | None = None
    forbidden_v4: tuple[str, ...] | None = None

    def __bool__(self) -> bool:
        return bool(self.required or self.forbidden)


@dataclass(frozen=True)
class VerifyCriteria:
    """v4 Verify parameters; all optional (trustedform-api.md §2.2)."""

    advertiser_name: str = ""
    min_font_size_px_required: int | None = None
    min_contrast_ratio_required: float | None = None
    opt_in_types_allowed: tuple[str, ...] = ()

    def as_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.advertiser_name:
            body["advertiser_name"] = self.advertiser_name
        if self.min_font_size_px_required is not None:
            body["min_font_size_px_required"] = self.min_font_size_px_required
        if self.min_contrast_ratio_required is not None:
            body["min_contrast_ratio_required"] = self.min_contrast_ratio_required
        if self.opt_in_types_allowed:
            body["opt_in_types_allowed"] = list(self.opt_in_types_allowed)
        return body


# --- Results ----------------------------------------------------------------------------------------


@dataclass
class CallRecord:
    """One HTTP attempt, as the API-call log keeps it. Never holds the API key."""

    operation: str
    method: str
    url: str
    api_version: str
    request_body: str
    started_at: float
    duration_ms: int = 0
    status: int | None = None
    response_body: str = ""
    outcome: str = ""  # ok | error | unknown (the request may have reached the server)
    error: str = ""


@dataclass
class Geo:
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country_code: str = ""
    time_zone: str = ""
    lat: float | None = None
    lon: float | None = None

    def __str__(self) -> str:
        place = ", ".join(p for p in (self.city, self.state, self.postal_code) if p)
        return f"{place} ({self.country_code})" if self.country_code else place


@dataclass
class Insights:
    """What TrustedForm knows of the consumer's session, from v4 `insights.properties` or the v3 `cert`."""

    age_seconds: int | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    geo: Geo | None = None
    browser: str = ""
    os: str = ""
    is_mobile: bool | None = None
    ip: str = ""
    domain: str = ""
    page_url: str = ""
    parent_page_url: str = ""
    seconds_on_page: int | None = None
    kpm: float | None = None
    wpm: float | None = None
    input_methods: tuple[str, ...] = ()
    is_framed: bool | None = None
    is_masked: bool | None = None
    bot_detected: bool | None = None
    confirmed_owner: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScanResults:
    """Which page-scan terms were found, echoed as sent (trustedform-api.md §6)."""

    required_found: list[str] = field(default_factory=list)
    required_not_found: list[str] = field(default_factory=list)
    forbidden_found: list[str] = field(default_factory=list)
    forbidden_not_found: list[str] = field(default_factory=list)

    @property
    def performed(self) -> bool:
        return bool(
            self.required_found or self.required_not_found or self.forbidden_found or self.forbidden_not_found
        )

    @property
    def success(self) -> bool | None:
        if not self.performed:
            return None
        return not self.required_not_found and not self.forbidden_found

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "required_found": self.required_found,
            "required_not_found": self.required_not_found,
            "forbidden_found": self.forbidden_found,
            "forbidden_not_found": self.forbidden_not_found,
        }


@dataclass
class ClaimResult:
    """TrustedForm's answer to a claim (or a view of one), the same for v2, v3 and v4."""

    outcome: str  # success | failure | error
    reason: str
    api_version: str
    status: int
    email_matched: bool | None = None
    phone_matched: bool | None = None
    fingerprints_matching: list[str] = field(default_factory=list)
    fingerprints_non_matching: list[str] = field(default_factory=list)
    scans: ScanResults = field(default_factory=ScanResults)
    warnings: list[str] = field(default_factory=list)
    masked_cert_url: str = ""
    share_url: str = ""
    expires_at: datetime | None = None  # when the retained copy expires
    previously_retained: bool | None = None
    is_masked: bool | None = None
    insights: Insights | None = None
    verify: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    call: CallRecord | None = None

    @property
    def fingerprint_summary(self) -> str:
        """all | some | none | no_data, as LeadConduit summarises fingerprints (trustedform-api.md §5)."""
        flags = [m for m in (self.email_matched, self.phone_matched) if m is not None]
        if not flags:
            if self.fingerprints_matching and not self.fingerprints_non_matching:
                return "all"
            if self.fingerprints_matching:
                return "some"
            return "none" if self.fingerprints_non_matching else "no_data"
        if all(flags):
            return "all"
        return "some" if any(flags) else "none"

    @property
    def retained(self) -> bool:
        # failure still retains the certificate; error means nothing was done (§0.4, §3.7)
        return self.outcome in ("success", "failure")


@dataclass
class CheckInResult:
    status: int
    raw: dict[str, Any]
    call: CallRecord | None = None


@dataclass
class ValidationResult:
    valid: bool
    reason: str
    call: CallRecord | None = None


@dataclass
class PingUrlResult:
    url: str
    call: CallRecord | None = None


class TrustedFormError(Exception):
    """Anything that kept a TrustedForm call from giving an answer to use.

    `status` is the HTTP status (None when no answer came), `reason` TrustedForm's own words when it gave
    any, `retryable` whether trying again later can help, `pauses_account` whether the account itself is
    refused (401/402/403), and `unknown` whether the request may have been processed anyway (read timeout).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str = "",
        retryable: bool = False,
        pauses_account: bool = False,
        unknown: bool = False,
        retry_after: float | None = None,
        call: CallRecord | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason or message
        self.retryable = retryable
        self.pauses_account = pauses_account
        self.unknown = unknown
        self.retry_after = retry_after
        self.call = call

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "retryable": self.retryable}


# --- Client -----------------------------------------------------------------------------------------


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
        # Everything else is retried by the caller, each attempt logged (ecosystem.md §3.2).
        retry = Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0, backoff_factor=0.2)
        adapter = HTTPAdapter(
            max_retries=retry, pool_connections=2, pool_maxsize=max(pool_size, 1), pool_block=True
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def __repr__(self) -> str:
        return f"<TrustedFormClient base={self.api_base} version={self.api_version} key={'set' if self._key else 'unset'}>"

    @property
    def has_key(self) -> bool:
        return bool(self._key)

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
        verify: VerifyCriteria | None = None,
        api_version: str | None = None,
    ) -> ClaimResult:
        """Claim (retain) a certificate with the lead's data, page-scan terms and, in v4, insights and verify.

        Raises TrustedFormError on any HTTP error, timeout, redirect or unreadable answer, and
        InvalidCertificateUrl before any request for a URL that is not a TrustedForm certificate.
        """
        ref = self.certificate(cert_url)
        version = api_version or self.api_version
        if version == V4:
            body = v4_claim_body(lead, scans, insights_properties, verify)
        else:
            body = v3_claim_body(lead, scans)
        response, call = self._send("claim", "POST", ref, version, body)
        if response.status_code not in (200, 201):
            raise _error_for(response, call)
        data = _json_object(response, call)
        result = parse_claim_response(
            data, status=response.status_code, api_version=version, lead=lead, scans=scans
        )
        result.call = call
        return result

    def view(self, cert_url: str, lead: Lead | None = None) -> ClaimResult:
        """Fetch the claim response again (`GET /<id>`), e.g. when the original answer was lost.

        Raises TrustedFormError (404 when this account never claimed it).
        """
        ref = self.certificate(cert_url)
        response, call = self._send("view", "GET", ref, V3, None)
        if response.status_code != 200:
            raise _error_for(response, call)
        result = parse_claim_response(
            _json_object(response, call), status=200, api_version=V3, lead=lead or Lead(), scans=None
        )
        result.call = call
        return result

    def check_in(self, cert_url: str) -> CheckInResult:
        """Extend the claim window to 90 days without claiming (`POST /<id>/check_in`).

        Raises TrustedFormError, e.g. 404 when the certificate has already expired.
        """
        ref = self.certificate(cert_url)
        response, call = self._send("check_in", "POST", ref, V3, None, suffix="/check_in")
        if response.status_code != 200:
            raise _error_for(response, call)
        return CheckInResult(status=200, raw=_json_object(response, call, allow_empty=True), call=call)

    def validate(self, cert_url: str) -> ValidationResult:
        """Ask whether an id is a valid, unexpired certificate (`GET /<id>/validate`). Claims nothing."""
        ref = self.certificate(cert_url)
        response, call = self._send("validate", "GET", ref, V3, None, suffix="/validate")
        if response.status_code not in (200, 400, 404):
            raise _error_for(response, call)
        data = _json_object(response, call, allow_empty=True)
        outcome = str(data.get("outcome") or "")
        reason = _text(data.get("reason")) or _error_reason(data, response.text)
        return ValidationResult(
            valid=response.status_code == 200 and outcome == "success", reason=reason, call=call
        )

    def insights(
        self, cert_url: str, properties: Sequence[str], scans: ScanTerms | None = None
    ) -> ClaimResult:
        """v4 Insights without retaining: each returned property is billed. Raises TrustedFormError."""
        ref = self.certificate(cert_url)
        body: dict[str, Any] = {"insights": _v4_insights(properties, scans)}
        response, call = self._send("insights", "POST", ref, V4, body)
        if response.status_code != 200:
            raise _error_for(response, call)
        result = parse_claim_response(
            _json_object(response, call), status=200, api_version=V4, lead=Lead(), scans=scans
        )
        result.call = call
        return result

    def ping_url(self, cert_url: str) -> PingUrlResult:
        """Mint a ping URL (`GET /<id>/ping_url`, deprecated, unauthenticated)."""
        ref = self.certificate(cert_url)
        response, call = self._send("ping_url", "GET", ref, V3, None, suffix="/ping_url", authenticate=False)
        if response.status_code != 200:
            raise _error_for(response, call)
        return PingUrlResult(url=_text(_json_object(response, call).get("url")), call=call)

    def ping(self, cert_url: str) -> dict[str, Any]:
        """Legacy ping data (`GET /<id>/ping`, deprecated): returned raw. Raises TrustedFormError."""
        ref = self.certificate(cert_url)
        response, call = self._send("ping", "GET", ref, V3, None, suffix="/ping")
        if response.status_code != 200:
            raise _error_for(response, call)
        return _json_object(response, call)

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
        started = time.perf_counter()
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
        call.duration_ms = _elapsed_ms(started)
        call.status = response.status_code
        call.response_body = response.text[:MAX_LOGGED_BODY]
        call.outcome = "ok" if 200 <= response.status_code < 300 else "error"
        return response, call


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


# --- Request bodies ---------------------------------------------------------------------------------


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
    verify: VerifyCriteria | None,
) -> dict[str, Any]:
    """The v4 operations body: match_lead (required with retain), retain, insights, verify (§2.2)."""
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
        body["insights"] = _v4_insights(insights_properties, scans)
    if verify is not None:
        body["verify"] = verify.as_wire()
    return body


def _v4_insights(properties: Sequence[str], scans: ScanTerms | None) -> dict[str, Any]:
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


# --- Response parsing -------------------------------------------------------------------------------


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
    seconds_on_page = round(duration_ms / 1000) if isinstance(duration_ms, int | float) else None
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


# --- Errors -----------------------------------------------------------------------------------------

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


def _error_for(response: requests.Response, call: CallRecord) -> TrustedFormError:
    status = response.status_code
    if 300 <= status < 400:
        message = (
            f"TrustedForm answered with a redirect ({status}); it was not followed, so the key stayed here."
        )
        call.error = message
        return TrustedFormError(message, status=status, call=call)
    data = _json_or_none(response)
    reason = _error_reason(data, response.text) if data is not None else _non_json_reason(response)
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


def _error_reason(data: Any, text: str) -> str:
    if isinstance(data, Mapping):
        for key in ("reason", "message", "error"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        errors = data.get("errors")
        if isinstance(errors, Mapping) and isinstance(errors.get("detail"), str):
            return errors["detail"]
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


def _json_object(
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
        call.outcome, call.error = "error", message
        # The call was processed (2xx) but the answer is unreadable: view it again rather than re-claim.
        raise TrustedFormError(message, status=response.status_code, retryable=False, call=call)
    return data


# --- Small typed readers ----------------------------------------------------------------------------


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


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _outcome(value: Any) -> str:
    return value if value in ("success", "failure", "error") else "error"

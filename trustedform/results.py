"""What a call gives back: typed results, the key-free record of each attempt, and the one error type."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    # The caller's handle on the log row it wrote for this request before it was sent (see BeforeSend).
    log_ref: Any = None
    # Wall-clock time (epoch seconds) after which the request must not leave any more: a caller that
    # cleared it under a lease sets it (see BeforeSend), and the connection checks it before the first byte.
    send_by: float | None = None


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
    """Which page-scan terms were found, echoed as sent (docs/trustedform.md §6)."""

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
        """all | some | none | no_data, as LeadConduit summarises fingerprints (docs/trustedform.md §5)."""
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
    refused (401/402/403), `unknown` whether the request may have been processed anyway (read timeout),
    and `not_sent` whether it was held back before its first byte because its send-by time had passed.
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
        not_sent: bool = False,
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
        self.not_sent = not_sent
        self.call = call

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "retryable": self.retryable}


class LeadIncomplete(TrustedFormError):
    """Refused before sending: the request as it stands could only be answered with an error (a v4
    claim needs the lead's email or phone). Nothing was sent, so nothing was billed or logged."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)

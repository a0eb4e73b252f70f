"""The one HTTP client for the TrustedForm certificate API (docs/architecture.md).

Nothing else in tfdash imports `requests` (only `client` and `wire` in this package do). It:
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

from trustedform.client import TrustedFormClient
from trustedform.ids import (
    STAGING_HOSTS,
    CertificateRef,
    InvalidCertificateUrl,
    cert_type_of,
    parse_certificate_url,
)
from trustedform.leads import (
    Lead,
    ScanTerms,
    fingerprint,
    missing_match_lead,
    normalise_email,
    normalise_phone,
)
from trustedform.results import (
    CallRecord,
    CheckInResult,
    ClaimResult,
    Geo,
    Insights,
    LeadIncomplete,
    PingUrlResult,
    ScanResults,
    TrustedFormError,
    ValidationResult,
)
from trustedform.versions import V3, V4
from trustedform.wire import (
    API_VERSIONS,
    INSIGHTS_PROPERTIES,
    parse_claim_response,
    v3_claim_body,
    v4_claim_body,
)

__all__ = [
    "API_VERSIONS",
    "INSIGHTS_PROPERTIES",
    "STAGING_HOSTS",
    "V3",
    "V4",
    "CallRecord",
    "CertificateRef",
    "CheckInResult",
    "ClaimResult",
    "Geo",
    "Insights",
    "InvalidCertificateUrl",
    "LeadIncomplete",
    "Lead",
    "PingUrlResult",
    "ScanResults",
    "ScanTerms",
    "TrustedFormClient",
    "TrustedFormError",
    "ValidationResult",
    "cert_type_of",
    "fingerprint",
    "missing_match_lead",
    "normalise_email",
    "normalise_phone",
    "parse_certificate_url",
    "parse_claim_response",
    "v3_claim_body",
    "v4_claim_body",
]

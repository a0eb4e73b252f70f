"""Every rule of the emulated service in one place, and the one reading picked where the real one is unknown.

Section numbers (§) refer to docs/trustedform.md. A
comment marked "Reading" is a choice made because the real behaviour is undocumented or the sources
conflict; anything not marked is documented behaviour.
"""

from datetime import timedelta

# --- Certificate lifetimes (§4) -------------------------------------------------------------------------
WEB_CLAIM_WINDOW = timedelta(hours=72)
EXTENDED_CLAIM_WINDOW = timedelta(days=90)  # form submitted, mobile, Meta, and after a check-in
MASKED_CLAIM_WINDOW = timedelta(hours=72)  # never extended (§4 "Masked: 72 h, no extension")
RETAINED_COPY_LIFETIME = timedelta(days=5 * 365)
# Reading (§4): the automatic 90-day extension for a submitted form starts "at least 15 min" after the
# event; the emulator grants it from the certificate's creation at once, so tests need not wait.
# Reading (§12 "effect on expires_at"): a check-in sets the claim window to end 90 days after the
# check-in, unless it already ended later.
# Reading (§4): `validate` checks only the format and that the certificate is at most 90 days old.
VALIDATE_MAX_AGE = timedelta(days=90)

# --- Claims ------------------------------------------------------------------------------------------------
# Reading (§12): the "claimed too many times" threshold is undocumented; the 6th claim of one
# certificate answers 422. Settable per run through /_sandbox/account {"claim_limit": N}.
DEFAULT_CLAIM_LIMIT = 5
# Reading (§3.7): v3 has no documented field for the expiry of the retained copy; like the v2 claim
# (§3.5), the v3 body carries the claim's own `id`, `created_at` and top-level `expires_at` = claim time +
# 5 years, while `cert.expires_at` stays the end of the claim window.
V3_RETAINED_EXPIRY_FIELD = "expires_at"
# Reading (§3.1): v4 `retain.results.expires_at` is described as when the certificate "will no longer be
# available for API requests"; the emulator answers the retained copy's expiry (claim time + 5 years).
# Reading (§3.1, SPEC4 RetainParameters/RetainResult): `reference` and `vendor` are strings; the answer
# echoes the ones sent and leaves out the ones not sent (the spec types them as strings, never null), and
# a null one is the schema error, like any other value of the wrong type.
RETAIN_ECHOED = ("reference", "vendor")
# Reading (§3.1 [X]): v4 `retain.results` carries `share_url` as in the only live recording (LeadConduit's
# fixture), although the spec says share URLs left the API.
# Reading (§3.1/§3.3): a v4 `retain` on a mobile or Meta certificate does not need `match_lead`, because
# `match_lead` on them is the error "match_lead requires a web certificate" (KB failure-outcomes).
# Reading (§4 [X]): matching a masked certificate always fails (KB masked), it never matches.
# Reading (§3.7, whatsnew 2022-02): a v3 claim that sends no fingerprint data at all is not a failure.

# --- Products (§2.2, §11.6) -----------------------------------------------------------------------------
ALL_PRODUCTS = ("retain", "insights", "verify")
# Reading: `match_lead` and `retain` belong to the Retain product; `insights` (properties and page scan)
# to Insights; `verify` to Verify. v3 Consent needs Retain; the `cert` block of Consent+Insights is added
# only when the account also has Insights.
OPERATION_PRODUCT = {"match_lead": "retain", "retain": "retain", "insights": "insights", "verify": "verify"}
# Reading (§3.4): the KB's variants of the 403 reason differ in punctuation; the emulator always answers
# "Unavailable product requested: <Product>".
PRODUCT_LABEL = {"retain": "Retain", "insights": "Insights", "verify": "Verify"}

# --- API versions (§2.1) ------------------------------------------------------------------------------------
DEFAULT_API_VERSION = "3.0"
API_VERSIONS = {"3": "3.0", "3.0": "3.0", "4": "4.0", "4.0": "4.0"}
# Reading: any other Api-Version value answers 400 {"outcome":"error","reason":"Unsupported API version"}.

# --- Request checks (§10) -----------------------------------------------------------------------------------
# Reading (§2.1 "opaque 400"): only the claim (`POST /<id>`) requires a Content-Type; check-in and ping
# bodies are optional (§3.9), so they do not need one. The one field observation is a 400 that said
# nothing useful; the emulator answers it as JSON like every other 400 (§3.4: v4 bodies carry `outcome`
# and `reason`), with the reason "Bad Request".
# Reading (§10 order of checks): missing credentials are reported first. The key and the account are
# checked (401, 402, unsupported Api-Version) before the Content-Type: the spec declares Content-Type as
# a parameter of the operation (tests/fixtures/trustedform/openapi-v4.json), validated with the request
# like the schema, while Basic auth guards every operation; and the field observation came from a caller
# with a valid key, so it cannot tell the order. A caller without a key learns nothing about its request.
MISSING_CONTENT_TYPE_REASON = "Bad Request"
MAX_CERT_ID_LENGTH = 255
# Reading (§2.2, SPEC4 VerifyParameters): `opt_in_types_allowed` is a list of the three enum strings;
# anything else in it (an object, a list, a number) is the schema error, never a server error.
OPT_IN_TYPES = ("manual", "pre-selected", "non-interactive")
# Reading (SPEC4 InsightsParameters): `scans.delimiter` is typed as a string, and the service rejects a
# body that does not meet "the expected schema" (KB, tests/fixtures/trustedform/cases.json C077), so
# `"delimiter": null` is that 400; leaving the key out keeps the default delimiter.
# Reading (RFC 8259 §6, C077): a body number that does not fit a double (1e400, or an integer of 400
# digits), and the non-JSON tokens NaN and Infinity, are the schema error; no answer ever carries NaN or
# Infinity (answers are serialised strictly).

# --- Fingerprints (§5) ----------------------------------------------------------------------------------------
# Reading (§5 [X]): a phone is fingerprinted as its 10-digit NANP national number: every character that
# is not a digit is removed, then the leading country code "1" of an 11-digit number is dropped, so
# "+1 (614) 555-0142", "1-614-555-0142", "614.555.0142" and "(614) 555 0142" are one fingerprint,
# SHA-1("6145550142"). The v4 wording (whitespace, hyphens, brackets and parentheses removed) leaves
# dots, "+" and the "1" open; three things settle them: §5 counts "10 digits, or 11 with a leading 1" of a
# NANP number as one phone, the support recipe strips every non-digit (its dotted vector 512.555.5785 is
# in tests/fixtures/trustedform/scan-and-fingerprint-vectors.json), and LeadConduit hashes the 10-digit
# national number against `fingerprints.matching`, which would miss every consumer who typed a "+1".
# The same normalisation applies to a phone a claim sends (match_lead `phone`, v3 `phone_N`, and a v3
# `fingerprint` without an @).
# Emails are trimmed and lower-cased.
PHONE_NATIONAL_DIGITS = 10
PHONE_COUNTRY_CODE = "1"
# Reading (§5): Certify fingerprints what a consumer typed only when it qualifies as a phone: it has no
# letters, at least 3 consecutive digits, and normalises to a NANP number (area code and exchange start
# with 2-9). So "tel: 614 555 0142" and "614-555-0142 ext 7" leave the certificate without a phone
# fingerprint, while other junk ("#", "*", quotes, a trailing ".") is only stripped. A claim's phone is
# the lead's phone by name, so it is normalised but never qualified (letters are dropped like any other
# non-digit). Minting a 40-hex phone stores it as a pre-hashed fingerprint.
PHONE_MIN_CONSECUTIVE_DIGITS = 3
# Reading (§12): an input of exactly 40 hex characters is a pre-hashed SHA-1 (compared lower-cased);
# base64-encoded SHA-1 input is not recognised.
MAX_MATCH_LEAD_VALUES = 3

# --- Insights (§3.1) -----------------------------------------------------------------------------------
# Reading (§3.1, cases.json C022/C026): a browser or OS version is split at its dots; a part after a
# trailing dot is the empty string ("Firefox 112.0." → patch ""), a part that is absent is null
# ("Mac OS X 10.15" → patch null), exactly as both recordings give them.

# --- Page scan (§6) ---------------------------------------------------------------------------------------------
DEFAULT_SCAN_DELIMITER = "{{"  # the default wildcard is {{*}}, variables {{name}}
# Reading (§6, §12): "homogeneous" means the same string opens and closes a wildcard or variable (|*|,
# |company|). A custom delimiter is 1 to 3 characters long (the longest documented example is |||);
# an empty or longer one is "Invalid delimiter length", checked after "contains whitespace characters".
# The wildcard matches the shortest run of any characters (non-greedy, possibly empty, crossing sentence
# boundaries) of the whitespace-collapsed, lower-cased page text. A template placeholder with no value
# in a variables object stays literal text; a template with no variables objects is scanned as written.
# Reading (§6 "HTML tags: not documented"): the page text is stored as plain visible text and scanned
# as is.
MAX_DELIMITER_LENGTH = 3

# --- Verify (§2.2, §3.3) -------------------------------------------------------------------------------------------
# Reading (§3.3 [X]): "not detected" when the certificate holds no consent language, "not approved" when
# it holds some that the account never approved (KB), although one LeadConduit fixture used the former.
# Reading: the KB gives no reason for a failed font-size, contrast or opt-in-type criterion; this one is
# the emulator's.
VERIFY_CRITERIA_REASON = "Consent language does not meet the verification criteria."
# Reading (cases.json C024, SPEC4 VerifyResult): `min_font_size_px_satisfied`, `min_contrast_ratio_satisfied`
# and `opt_in_types_satisfied` are booleans, present only for a criterion the request set: C024 asks
# `verify: {}` and its result has none of them.

# --- Check-in (§3.9) -----------------------------------------------------------------------------------------------
# Reading (§4, §12): a masked certificate cannot be extended; its check-in answers 405 with the
# reason below (v3 bodies use the lower-case form, like the other v3 405).
MASKED_CHECK_IN_STATUS = 405
MASKED_CHECK_IN_REASON = "Masked certificates cannot be extended"
# Reading (§12): check-in needs a valid key and an active account but no particular product; it answers
# 405 for a sandbox certificate like a claim does.

# --- Validate (§3.9) -----------------------------------------------------------------------------------------------
# Reading: `validate` answers 200 for every verdict, the failure verdicts too; an unknown (never issued)
# id is "invalid", as the real validator decrypts ids (§4).

# --- Rate limiting (not documented at all) ------------------------------------------------------------------------
# Reading: the fault knob's 429 carries `Retry-After: <seconds>` and {"outcome":"error","reason":"Too Many
# Requests"}; TrustedForm documents no 429.
RATE_LIMIT_REASON = "Too Many Requests"
DEFAULT_RETRY_AFTER_SECONDS = 1
DEFAULT_HANG_SECONDS = 10.0

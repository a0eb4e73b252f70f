"""The API-call log as a hash chain: write ahead, complete, verify, prune bodies.

The chain is a sequence of entries numbered 1, 2, 3... without gaps; each entry's hash covers what it
says and the previous entry's hash. An API call takes two entries:
- its *request* (`seq`, `row_hash`): who sent what, where, with which fencing token. It is written and
  committed before the request leaves (write-ahead), so the log holds every request that may have
  reached TrustedForm, even when the sender dies before the answer;
- its *answer* (`answer_seq`, `answer_hash`): status, duration, outcome, the response body's digest and
  the digest of the Claim or CheckIn row it produced, bound to the request's hash. A row without an
  answer entry is "sent, no answer recorded".
Rows written before this scheme (`hash_version` 1) are one entry each, hashed over the whole row.

Bodies enter the hashes through their SHA-256, so pruning can blank them: a pruned row must have empty
bodies, and every pruned row must be covered by a pruning entry (a row with operation `prune_bodies`)
that says when, up to which date and how many rows, so a "pruned" flag cannot be set to hide a forged
body. Claims and check-ins name the call they came from (`api_call_seq`, `api_call_hash`), so the log
can be neither shortened nor emptied while they exist, and a claim's stored outcome is checked against
the digest its call recorded.

A one-row ApiLogHead holds the end of the chain; writers lock it (SELECT ... FOR UPDATE on PostgreSQL;
on SQLite every transaction is BEGIN IMMEDIATE, see settings), so concurrent writers keep one chain.
Someone who can write the database *and* knows this algorithm could rebuild the whole chain and every
claim's reference; the head that `verify_api_log` prints, and the scheduler logs daily, pins it from
outside: `verify_api_log --expect SEQ:HASH` proves the log still extends a head kept elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certificates.apilog.models import ApiCall
    from certificates.models import CheckIn, Claim


GENESIS = "0" * 64
PRUNE_OPERATION = "prune_bodies"
# A retention run's record of the claims whose raw answer it blanked (certificates.evidence.retention).
RETENTION_OPERATION = "apply_retention"
# The fields each entry's hash covers, in order. Changing a list breaks every existing chain.
V1_FIELDS = (
    "seq",
    "created_at",
    "triggered_by_id",
    "trigger",
    "certificate_id",
    "operation",
    "method",
    "url",
    "api_version",
    "status",
    "duration_ms",
    "outcome",
    "error",
    "body_sha256",
    "prev_hash",
)
REQUEST_FIELDS = (
    "hash_version",
    "seq",
    "created_at",
    "triggered_by_id",
    "trigger",
    "certificate_id",
    "operation",
    "method",
    "url",
    "api_version",
    "fence",
    "request_sha256",
    "prev_hash",
)
ANSWER_FIELDS = (
    "answer_seq",
    "row_hash",
    "answered_at",
    "status",
    "duration_ms",
    "outcome",
    "error",
    "response_sha256",
    "result_sha256",
    "answer_prev_hash",
)
# The Claim and CheckIn fields the pages show as TrustedForm's answer: their digest goes into the chain.
CLAIM_FIELDS = (
    "certificate_id",
    "api_call_id",
    "claimed_by_id",
    "api_version",
    "outcome",
    "reason",
    "email_matched",
    "phone_matched",
    "fingerprint_result",
    "fingerprints",
    "scans",
    "scan_success",
    "warnings",
    "masked_cert_url",
    "expires_at",
    "previously_retained",
    "is_masked",
    "insights",
    "verify",
    "raw_response",
)
CHECK_IN_FIELDS = ("certificate_id", "api_call_id", "checked_in_by_id", "extended_until")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def body_digest(request_body: str, response_body: str) -> str:
    """Version 1: SHA-256 of both bodies together (kept for rows written before version 2)."""
    return sha256_text(json.dumps([request_body, response_body]))


def canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def _digest(obj: Any, names: tuple[str, ...]) -> str:
    fields = {name: canonical(getattr(obj, name, None)) for name in names}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return sha256_text(text)


def compute_row_hash(call: Any) -> str:
    """The hash of a row's request entry (version 2) or of the whole row (version 1; also the
    historical models of old migrations, which have no `hash_version`)."""
    if getattr(call, "hash_version", 1) == 1:
        return _digest(call, V1_FIELDS)
    return _digest(call, REQUEST_FIELDS)


def compute_answer_hash(call: ApiCall) -> str:
    return _digest(call, ANSWER_FIELDS)


def result_fields(row: Claim | CheckIn) -> tuple[str, ...]:
    return CLAIM_FIELDS if row._meta.model_name == "claim" else CHECK_IN_FIELDS


def result_digest(row: Claim | CheckIn) -> str:
    """The digest of what an answer produced, as stored (read back from the database)."""
    return _digest(row, result_fields(row))

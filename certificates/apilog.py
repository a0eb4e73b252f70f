"""The API-call log as a hash chain: append, verify, prune bodies.

Every ApiCall row carries `seq` (1, 2, 3... without gaps), `prev_hash` (the previous row's hash) and
`row_hash`: SHA-256 over a canonical JSON of the row's fields and `prev_hash`. The bodies enter the hash
only through `body_sha256`, so pruning old bodies keeps the chain verifiable. A one-row ApiLogHead holds
the end of the chain; writers lock it (SELECT ... FOR UPDATE on PostgreSQL; on SQLite every transaction
is BEGIN IMMEDIATE, see settings), so concurrent workers keep a single chain.

This detects edits made behind the application's back (raw SQL, a restored backup, a hand-edited row).
Someone who can write the database *and* knows this algorithm could rebuild the whole chain, so keep
the head hash that `verify_api_log` prints somewhere else (a ticket, a log shipper) to pin it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, models, transaction
from django.utils import timezone

from certificates.models import ApiCall, ApiLogHead

GENESIS = "0" * 64
# The fields a row's hash covers, in order. Changing this list breaks every existing chain.
HASHED_FIELDS = (
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


def body_digest(request_body: str, response_body: str) -> str:
    """SHA-256 of both bodies; it outlives the bodies themselves when they are pruned."""
    return hashlib.sha256(json.dumps([request_body, response_body]).encode()).hexdigest()


def _canonical(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def compute_row_hash(call) -> str:
    """SHA-256 over the canonical JSON of the hashed fields (works on historical models too)."""
    fields = {name: _canonical(getattr(call, name)) for name in HASHED_FIELDS}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _locked_head() -> ApiLogHead:
    """The chain head, locked until the surrounding transaction ends."""
    heads = ApiLogHead.objects.select_for_update() if connection.features.has_select_for_update else None
    heads = heads if heads is not None else ApiLogHead.objects.all()
    head = heads.filter(pk=1).first()
    if head is None:  # a fresh (or flushed) database: start from whatever the log holds
        last = ApiCall.objects.order_by("-seq").values("seq", "row_hash").first() or {}
        ApiLogHead.objects.bulk_create(
            [ApiLogHead(pk=1, last_seq=last.get("seq", 0), last_hash=last.get("row_hash", ""))],
            ignore_conflicts=True,
        )
        head = heads.get(pk=1)
    return head


def insert_chained(call: ApiCall) -> ApiCall:
    """Give a new ApiCall its place in the chain and insert it (ApiCall.save() calls this)."""
    call.body_sha256 = body_digest(call.request_body, call.response_body)
    call.bodies_pruned_at = None
    if timezone.is_naive(call.created_at):
        call.created_at = timezone.make_aware(call.created_at, UTC)
    with transaction.atomic():
        head = _locked_head()
        call.seq = head.last_seq + 1
        call.prev_hash = head.last_hash or GENESIS
        call.row_hash = compute_row_hash(call)
        models.Model.save(call, force_insert=True)
        ApiLogHead.objects.filter(pk=head.pk).update(last_seq=call.seq, last_hash=call.row_hash)
    return call


def append_api_call(**fields) -> ApiCall:
    """Append one row to the API-call log: the only way rows are written."""
    return insert_chained(ApiCall(**fields))


@dataclass(frozen=True)
class Verification:
    rows: int
    problem: str = ""  # the first break found, naming the row; empty when the chain is intact
    head_hash: str = ""

    @property
    def intact(self) -> bool:
        return not self.problem


def _name(call: ApiCall) -> str:
    return f"row #{call.seq} (API call id {call.pk}, {call.operation} at {_canonical(call.created_at)})"


def verify(chunk_size: int = 2000) -> Verification:
    """Walk the chain from the first row; stop at the first row that was altered or removed."""
    expected_seq, expected_prev, rows, previous = 1, GENESIS, 0, None
    for call in ApiCall.objects.order_by("seq").iterator(chunk_size=chunk_size):
        if call.seq != expected_seq:
            missing = (
                f"row #{expected_seq}"
                if call.seq == expected_seq + 1
                else f"rows #{expected_seq}-#{call.seq - 1}"
            )
            after = f"after {_name(previous)}" if previous else "at the start of the log"
            return Verification(rows, f"{missing} removed: the log jumps {after} to {_name(call)}.")
        if call.prev_hash != expected_prev:
            culprit = _name(previous) if previous else "the first row"
            return Verification(
                rows, f"{_name(call)} does not follow {culprit}: that row was altered or replaced."
            )
        if (
            call.bodies_pruned_at is None
            and body_digest(call.request_body, call.response_body) != call.body_sha256
        ):
            return Verification(rows, f"{_name(call)} was altered: its request or response body changed.")
        if compute_row_hash(call) != call.row_hash:
            return Verification(rows, f"{_name(call)} was altered: its fields no longer match its hash.")
        expected_seq, expected_prev, rows, previous = call.seq + 1, call.row_hash, rows + 1, call
    head = ApiLogHead.objects.filter(pk=1).first()
    if head is not None and (head.last_seq, head.last_hash or GENESIS) != (rows, expected_prev):
        last = _name(previous) if previous else "the start of the log"
        return Verification(
            rows, f"rows #{rows + 1}-#{head.last_seq} removed: the log ends at {last}.", expected_prev
        )
    return Verification(rows, "", expected_prev)


@dataclass(frozen=True)
class Pruning:
    rows: int
    before: datetime


def prune_bodies(*, before: datetime, dry_run: bool = False, batch: int = 5000) -> Pruning:
    """Blank the request/response bodies of rows older than `before`; their digest and hash remain."""
    due = ApiCall.objects.filter(created_at__lt=before, bodies_pruned_at__isnull=True).exclude(
        request_body="", response_body=""
    )
    if dry_run:
        return Pruning(due.count(), before)
    pruned, now = 0, timezone.now()
    while ids := list(due.order_by("seq").values_list("pk", flat=True)[:batch]):
        # The one sanctioned update of the log: bodies only, never a hashed field.
        pruned += models.QuerySet.update(
            ApiCall.objects.filter(pk__in=ids), request_body="", response_body="", bodies_pruned_at=now
        )
    return Pruning(pruned, before)

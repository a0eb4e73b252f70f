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
import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from certificates.models import ApiCall, ApiLogHead, CheckIn, Claim

GENESIS = "0" * 64
PRUNE_OPERATION = "prune_bodies"
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


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def _digest(obj: Any, names: tuple[str, ...]) -> str:
    fields = {name: _canonical(getattr(obj, name, None)) for name in names}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return sha256_text(canonical)


def compute_row_hash(call: Any) -> str:
    """The hash of a row's request entry (version 2) or of the whole row (version 1; also the
    historical models of old migrations, which have no `hash_version`)."""
    if getattr(call, "hash_version", 1) == 1:
        return _digest(call, V1_FIELDS)
    return _digest(call, REQUEST_FIELDS)


def compute_answer_hash(call: ApiCall) -> str:
    return _digest(call, ANSWER_FIELDS)


def result_digest(row: Claim | CheckIn) -> str:
    """The digest of what an answer produced, as stored (read back from the database)."""
    return _digest(row, CLAIM_FIELDS if isinstance(row, Claim) else CHECK_IN_FIELDS)


def _locked_head() -> ApiLogHead:
    """The chain head, locked until the surrounding transaction ends."""
    heads = ApiLogHead.objects.select_for_update() if connection.features.has_select_for_update else None
    heads = heads if heads is not None else ApiLogHead.objects.all()
    head = heads.filter(pk=1).first()
    if head is None:  # a fresh (or flushed) database: start from whatever the log holds
        last = _last_entry()
        ApiLogHead.objects.bulk_create(
            [ApiLogHead(pk=1, last_seq=last[0], last_hash=last[1])], ignore_conflicts=True
        )
        head = heads.get(pk=1)
    return head


def _last_entry() -> tuple[int, str]:
    request = ApiCall.objects.order_by("-seq").values_list("seq", "row_hash").first() or (0, "")
    answer = (
        ApiCall.objects.filter(answer_seq__isnull=False)
        .order_by("-answer_seq")
        .values_list("answer_seq", "answer_hash")
        .first()
    ) or (0, "")
    return max(request, answer)


def _take_place(head: ApiLogHead) -> tuple[int, str]:
    return head.last_seq + 1, head.last_hash or GENESIS


def _move_head(head: ApiLogHead, seq: int, entry_hash: str) -> None:
    ApiLogHead.objects.filter(pk=head.pk).update(last_seq=seq, last_hash=entry_hash)
    head.last_seq, head.last_hash = seq, entry_hash


def insert_chained(call: ApiCall) -> ApiCall:
    """Write a new row's request entry (ApiCall.save() calls this). The row awaits its answer unless
    it already carries one (a plain `ApiCall.objects.create(..., outcome="ok")`), which is then
    chained right after it."""
    answered = call.outcome and call.outcome != ApiCall.Outcome.SENT
    answer = {
        name: getattr(call, name) for name in ("status", "response_body", "duration_ms", "outcome", "error")
    }
    call.hash_version = 2
    call.request_sha256 = sha256_text(call.request_body)
    call.body_sha256 = ""
    call.response_body, call.status, call.duration_ms, call.error = "", None, 0, ""
    call.outcome = ApiCall.Outcome.SENT
    call.bodies_pruned_at = None
    if timezone.is_naive(call.created_at):
        call.created_at = timezone.make_aware(call.created_at, UTC)
    with transaction.atomic():
        head = _locked_head()
        call.seq, call.prev_hash = _take_place(head)
        call.row_hash = compute_row_hash(call)
        models.Model.save(call, force_insert=True)
        _move_head(head, call.seq, call.row_hash)
        if answered:
            _write_answer(call, head, **answer)
    return call


def open_call(**fields: Any) -> ApiCall:
    """Write ahead: log a request before it is sent. Complete it with `complete_call`."""
    fields.pop("outcome", None)
    return insert_chained(ApiCall(outcome=ApiCall.Outcome.SENT, **fields))


def complete_call(
    call: ApiCall,
    *,
    status: int | None,
    response_body: str,
    duration_ms: int,
    outcome: str,
    error: str = "",
    result: Claim | CheckIn | None = None,
) -> ApiCall:
    """Record the answer to a logged request: the answer entry joins the chain now.

    `result` is the Claim or CheckIn row the answer produced (already saved): its digest is chained, and
    it is given the call's place and hash so that each can be checked against the other.
    """
    with transaction.atomic():
        head = _locked_head()
        _write_answer(
            call, head, status=status, response_body=response_body, duration_ms=duration_ms,
            outcome=outcome, error=error, result=result,
        )  # fmt: skip
    return call


def _write_answer(
    call: ApiCall, head: ApiLogHead, *, result: Claim | CheckIn | None = None, **answer: Any
) -> None:
    if result is not None:
        result.refresh_from_db()  # digest what the database holds, as verification will read it
    call.status = answer["status"]
    call.response_body = answer["response_body"]
    call.duration_ms = answer["duration_ms"]
    call.outcome = answer["outcome"] or ApiCall.Outcome.ERROR
    call.error = answer["error"]
    call.answered_at = timezone.now()
    call.response_sha256 = sha256_text(call.response_body)
    call.result_sha256 = result_digest(result) if result is not None else ""
    call.answer_seq, call.answer_prev_hash = _take_place(head)
    call.answer_hash = compute_answer_hash(call)
    # The one sanctioned update of a logged row: its answer, once, while it has none.
    answered = models.QuerySet.update(
        ApiCall.objects.filter(pk=call.pk, answer_seq__isnull=True),
        **{name: getattr(call, name) for name in _ANSWER_COLUMNS},
    )
    if answered != 1:
        raise ValueError(f"API call {call.pk} already has its answer recorded.")
    _move_head(head, call.answer_seq, call.answer_hash)
    if result is not None:
        type(result).objects.filter(pk=result.pk).update(
            api_call_seq=call.seq, api_call_hash=call.answer_hash
        )
        result.api_call_seq, result.api_call_hash = call.seq, call.answer_hash


_ANSWER_COLUMNS = (
    "status",
    "response_body",
    "duration_ms",
    "outcome",
    "error",
    "answered_at",
    "response_sha256",
    "result_sha256",
    "answer_seq",
    "answer_prev_hash",
    "answer_hash",
)


def append_api_call(**fields: Any) -> ApiCall:
    """Log a call that is already over (request and answer together): two entries at once."""
    return insert_chained(ApiCall(**fields))


def current_head() -> str:
    """The end of the chain as `SEQ:HASH` (read, not verified), to be kept outside the database."""
    head = ApiLogHead.objects.filter(pk=1).first()
    return f"{head.last_seq}:{head.last_hash}" if head and head.last_seq else ""


# --- Verification -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    rows: int
    problem: str = ""  # the first break found, naming the entry; empty when the chain is intact
    head_hash: str = ""
    head_seq: int = 0

    @property
    def intact(self) -> bool:
        return not self.problem

    @property
    def head(self) -> str:
        """The head as `verify_api_log --expect` takes it."""
        return f"{self.head_seq}:{self.head_hash}"


def _name(call: ApiCall, kind: str) -> str:
    what = "the answer to" if kind == "answer" else "the request of"
    seq = call.answer_seq if kind == "answer" else call.seq
    return f"entry #{seq} ({what} API call id {call.pk}, {call.operation} at {_canonical(call.created_at)})"


def _entries(chunk_size: int) -> Iterator[tuple[int, str, ApiCall]]:
    """Every entry of the chain in order: requests and answers of the rows, merged by position."""
    requests = (
        (c.seq, "request", c) for c in ApiCall.objects.order_by("seq").iterator(chunk_size=chunk_size)
    )
    answers = (
        (c.answer_seq, "answer", c)
        for c in ApiCall.objects.filter(answer_seq__isnull=False)
        .order_by("answer_seq")
        .iterator(chunk_size=chunk_size)
    )
    return heapq.merge(requests, answers, key=lambda entry: entry[0])


class _Broken(Exception):
    pass


@dataclass
class _Prunings:
    """Pruning entries seen so far, and how many pruned rows each one covers."""

    by_time: dict[str, tuple[ApiCall, dict]]
    covered: dict[int, int]


def verify(chunk_size: int = 2000, *, expect: tuple[int, str] | None = None) -> Verification:
    """Walk the chain from the first entry and stop at the first one that was altered or removed;
    then check the claims and check-ins against the calls they name, and `expect` (a head kept
    elsewhere) against the chain."""
    expected_seq, expected_prev, rows, previous = 1, GENESIS, 0, None
    prunings = _Prunings({}, {})
    pruned_rows: list[ApiCall] = []
    expect_found = False
    try:
        for seq, kind, call in _entries(chunk_size):
            if seq != expected_seq:
                missing = (
                    f"entry #{expected_seq}"
                    if seq == expected_seq + 1
                    else f"entries #{expected_seq}-#{seq - 1}"
                )
                after = f"after {previous}" if previous else "at the start of the log"
                raise _Broken(f"{missing} removed: the log jumps {after} to {_name(call, kind)}.")
            entry_hash = _check_entry(call, kind, expected_prev, previous, prunings, pruned_rows)
            if expect is not None and seq == expect[0]:
                if entry_hash != expect[1]:
                    raise _Broken(
                        f"{_name(call, kind)} is not the entry kept elsewhere as #{expect[0]}: the log was rewritten."
                    )
                expect_found = True
            # A row is good once its last entry is: its answer, or its request while it awaits one.
            rows += kind == "answer" or call.hash_version == 1 or call.answer_seq is None
            expected_seq, expected_prev, previous = seq + 1, entry_hash, _name(call, kind)
        last_seq = expected_seq - 1
        head = ApiLogHead.objects.filter(pk=1).first()
        if head is not None and (head.last_seq, head.last_hash or GENESIS) != (last_seq, expected_prev):
            end = previous or "the start of the log"
            raise _Broken(f"entries #{last_seq + 1}-#{head.last_seq} removed: the log ends at {end}.")
        _check_prunings(prunings, pruned_rows)
        _check_results(Claim, "claim", last_seq)
        _check_results(CheckIn, "check-in", last_seq)
        if expect is not None and not expect_found:
            raise _Broken(
                f"the log ends at entry #{last_seq}, before entry #{expect[0]} kept elsewhere: it was shortened."
            )
    except _Broken as broken:
        return Verification(rows, str(broken))
    return Verification(rows, "", expected_prev if last_seq else "", last_seq)


def _check_entry(
    call: ApiCall,
    kind: str,
    expected_prev: str,
    previous: str | None,
    prunings: _Prunings,
    pruned: list[ApiCall],
) -> str:
    name = _name(call, kind)
    prev = call.answer_prev_hash if kind == "answer" else call.prev_hash
    if prev != expected_prev:
        culprit = previous or "the start of the log"
        raise _Broken(f"{name} does not follow {culprit}: that entry was altered or replaced.")
    if kind == "request":
        if call.bodies_pruned_at is not None:
            if call.request_body or call.response_body:
                raise _Broken(f"{name} was altered: it is marked pruned but carries a body.")
            pruned.append(call)
        elif call.hash_version == 1:
            if body_digest(call.request_body, call.response_body) != call.body_sha256:
                raise _Broken(f"{name} was altered: its request or response body changed.")
        elif sha256_text(call.request_body) != call.request_sha256:
            raise _Broken(f"{name} was altered: its request body changed.")
        if compute_row_hash(call) != call.row_hash:
            raise _Broken(f"{name} was altered: its fields no longer match its hash.")
        if call.hash_version == 1:
            return call.row_hash
        if call.operation == PRUNE_OPERATION:
            _note_pruning(call, prunings)
        return call.row_hash
    if call.bodies_pruned_at is None and sha256_text(call.response_body) != call.response_sha256:
        raise _Broken(f"{name} was altered: its response body changed.")
    if compute_answer_hash(call) != call.answer_hash:
        raise _Broken(f"{name} was altered: its fields no longer match its hash.")
    return call.answer_hash


def _note_pruning(call: ApiCall, prunings: _Prunings) -> None:
    try:
        details = json.loads(call.request_body)
        prunings.by_time[details["pruned_at"]] = (call, details)
    except (ValueError, KeyError, TypeError):
        raise _Broken(f"{_name(call, 'request')} was altered: its pruning record is unreadable.") from None
    prunings.covered[call.seq] = 0


def _check_prunings(prunings: _Prunings, pruned_rows: list[ApiCall]) -> None:
    for call in pruned_rows:
        found = prunings.by_time.get(_canonical(call.bodies_pruned_at))
        if found is None or found[0].seq < call.seq or _canonical(call.created_at) >= found[1]["before"]:
            raise _Broken(f"{_name(call, 'request')} is marked pruned, but no pruning entry covers it.")
        prunings.covered[found[0].seq] += 1
    for record, details in prunings.by_time.values():
        if prunings.covered[record.seq] != details["rows"]:
            raise _Broken(
                f"{_name(record, 'request')} pruned {details['rows']} rows, but "
                f"{prunings.covered[record.seq]} rows name it: pruned rows were changed."
            )


def _check_results(model: type[Claim] | type[CheckIn], label: str, last_seq: int, batch: int = 1000) -> None:
    """Every claim or check-in must name a call that exists, with the hash and result digest it says;
    and every call that recorded a result must still have it."""
    unnamed = model.objects.filter(api_call_seq__isnull=True, api_call__hash_version=2).first()
    if unnamed is not None:
        raise _Broken(
            f"{label} {unnamed.pk} of certificate {unnamed.certificate_id} lost its entry in the log."
        )
    orphan = (
        ApiCall.objects.filter(
            hash_version=2, answer_seq__isnull=False, claim__isnull=True, check_in__isnull=True
        )
        .exclude(result_sha256="")
        .first()
    )
    if orphan is not None:
        raise _Broken(f"{_name(orphan, 'answer')} recorded a claim or check-in that no longer exists.")
    last_id = 0
    while rows := list(
        model.objects.filter(pk__gt=last_id, api_call_seq__isnull=False).order_by("pk")[:batch]
    ):
        calls = {c.seq: c for c in ApiCall.objects.filter(seq__in=[r.api_call_seq for r in rows])}
        for row in rows:
            call = calls.get(row.api_call_seq)
            where = f"{label} {row.pk} of certificate {row.certificate_id}"
            if call is None:
                shortened = (
                    " (the log ends before it: it was shortened or emptied)"
                    if row.api_call_seq > last_seq
                    else ""
                )
                raise _Broken(f"{where} came from entry #{row.api_call_seq}, which is missing{shortened}.")
            if call.answer_hash != row.api_call_hash or call.pk != row.api_call_id:
                raise _Broken(
                    f"{where} names {_name(call, 'request')}, whose hash is not the one it recorded."
                )
            if call.result_sha256 != result_digest(row):
                raise _Broken(
                    f"{where} was altered: it no longer matches what {_name(call, 'answer')} recorded."
                )
        last_id = rows[-1].pk


# --- Pruning ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pruning:
    rows: int
    before: datetime


def prune_bodies(*, before: datetime, dry_run: bool = False, batch: int = 5000) -> Pruning:
    """Blank the request/response bodies of answered rows older than `before`; their digests, hashes and
    a chained pruning entry per batch (when, up to which date, how many rows) remain."""
    due = (
        ApiCall.objects.filter(created_at__lt=before, bodies_pruned_at__isnull=True, answer_seq__isnull=False)
        .exclude(request_body="", response_body="")
        .exclude(operation=PRUNE_OPERATION)
    )
    if dry_run:
        return Pruning(due.count(), before)
    pruned = 0
    while ids := list(due.order_by("seq").values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            now = timezone.now()
            count = models.QuerySet.update(
                ApiCall.objects.filter(pk__in=ids), request_body="", response_body="", bodies_pruned_at=now
            )
            append_api_call(
                trigger="prune_api_log",
                operation=PRUNE_OPERATION,
                method="",
                url="",
                request_body=json.dumps(
                    {"pruned_at": _canonical(now), "before": _canonical(before), "rows": count},
                    sort_keys=True,
                ),
                outcome=ApiCall.Outcome.OK,
            )
        pruned += count
    return Pruning(pruned, before)

"""Verifying the API-call log: every entry, every pruning, every claim and check-in against its call."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from django.db.models import QuerySet

from certificates.apilog.chain import (
    GENESIS,
    PRUNE_OPERATION,
    RETENTION_OPERATION,
    body_digest,
    canonical,
    compute_answer_hash,
    compute_row_hash,
    result_digest,
    sha256_text,
)
from certificates.apilog.models import ApiCall, ApiLogHead
from certificates.models import CheckIn, Claim

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
    return f"entry #{seq} ({what} API call id {call.pk}, {call.operation} at {canonical(call.created_at)})"


def _entries(chunk_size: int) -> Iterator[tuple[int, str, ApiCall]]:
    """Every entry of the chain in order: requests and answers of the rows, merged by position."""
    requests = (
        (c.seq, "request", c) for c in ApiCall.objects.order_by("seq").iterator(chunk_size=chunk_size)
    )
    answers = (
        (c.answer_seq or 0, "answer", c)  # never 0: only rows with an answer are read
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
    # Results a retention entry re-recorded: "claim:<pk>" -> (digest before, digest after).
    rerecorded: dict[str, tuple[str, str]]


def verify(chunk_size: int = 2000, *, expect: tuple[int, str] | None = None) -> Verification:
    """Walk the chain from the first entry and stop at the first one that was altered or removed;
    then check the claims and check-ins against the calls they name, and `expect` (a head kept
    elsewhere) against the chain."""
    expected_seq, expected_prev, rows, previous = 1, GENESIS, 0, None
    prunings = _Prunings({}, {}, {})
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
        _check_results(Claim, "claim", last_seq, prunings.rerecorded)
        _check_results(CheckIn, "check-in", last_seq, prunings.rerecorded)
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
        elif call.operation == RETENTION_OPERATION:
            _note_retention(call, prunings)
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


def _note_retention(call: ApiCall, prunings: _Prunings) -> None:
    try:
        results = json.loads(call.request_body)["results"]
        prunings.rerecorded.update({key: (old, new) for key, (old, new) in results.items()})
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _Broken(f"{_name(call, 'request')} was altered: its retention record is unreadable.") from None


def _check_prunings(prunings: _Prunings, pruned_rows: list[ApiCall]) -> None:
    for call in pruned_rows:
        found = prunings.by_time.get(canonical(call.bodies_pruned_at))
        if found is None or found[0].seq < call.seq or canonical(call.created_at) >= found[1]["before"]:
            raise _Broken(f"{_name(call, 'request')} is marked pruned, but no pruning entry covers it.")
        prunings.covered[found[0].seq] += 1
    for record, details in prunings.by_time.values():
        if prunings.covered[record.seq] != details["rows"]:
            raise _Broken(
                f"{_name(record, 'request')} pruned {details['rows']} rows, but "
                f"{prunings.covered[record.seq]} rows name it: pruned rows were changed."
            )


def _check_results(
    model: type[Claim | CheckIn],
    label: str,
    last_seq: int,
    rerecorded: dict[str, tuple[str, str]],
    batch: int = 1000,
) -> None:
    """Every claim or check-in must name a call that exists, with the hash and result digest it says
    (or, after retention, the digest a retention entry re-recorded from exactly that one); and every
    call that recorded a result must still have it."""
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
    rows: list[Claim | CheckIn]
    while rows := list(
        cast(
            "QuerySet[Claim | CheckIn]",
            model._default_manager.filter(pk__gt=last_id, api_call_seq__isnull=False).order_by("pk")[:batch],
        )
    ):
        calls = {c.seq: c for c in ApiCall.objects.filter(seq__in=[r.api_call_seq for r in rows])}
        for row in rows:
            assert row.api_call_seq is not None  # selected so
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
            digest = result_digest(row)
            if call.result_sha256 != digest and rerecorded.get(f"{label}:{row.pk}") != (
                call.result_sha256,
                digest,
            ):
                raise _Broken(
                    f"{where} was altered: it no longer matches what {_name(call, 'answer')} recorded."
                )
        last_id = rows[-1].pk

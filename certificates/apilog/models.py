"""The API-call log's rows: append-only, hash-chained (docs/architecture.md, "The log")."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, models, transaction
from django.urls import reverse
from django.utils import timezone

from certificates.apilog.chain import (
    GENESIS,
    compute_answer_hash,
    compute_row_hash,
    result_digest,
    result_fields,
    sha256_text,
)

if TYPE_CHECKING:
    from certificates.models import CheckIn, Claim


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete a row of the API-call log."""


class ApiCallQuerySet(models.QuerySet):
    """Bulk writes would bypass the hash chain (certificates.apilog), so they are refused."""

    def update(self, **kwargs):
        raise AppendOnlyError("The API-call log is append-only: rows are never updated.")

    def delete(self):
        raise AppendOnlyError("The API-call log is append-only: rows are never deleted.")

    def bulk_create(self, objs, *args, **kwargs):
        raise AppendOnlyError("Append API calls one at a time with certificates.apilog.append_api_call().")

    def bulk_update(self, objs, *args, **kwargs):
        raise AppendOnlyError("The API-call log is append-only: rows are never updated.")


class ApiCall(models.Model):
    """One HTTP attempt to TrustedForm. Append-only: TrustedForm keeps no log of its own.

    Rows form a hash chain (certificates.apilog): `seq` numbers them without gaps, `row_hash` covers every
    field (the bodies through `body_sha256`) plus the previous row's hash, so `manage.py verify_api_log`
    finds a row that was altered or removed. Bodies may be pruned after the retention period; their
    digest stays, so the chain still verifies.
    """

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent, no answer recorded"
        OK = "ok", "Answered"
        ERROR = "error", "Error"
        UNKNOWN = "unknown", "Unknown (may have been processed)"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # PROTECT, not SET_NULL: clearing the link would alter hashed evidence (deactivate users instead).
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    trigger = models.CharField(max_length=64)  # "web", "worker", "command", ...
    certificate = models.ForeignKey(
        "certificates.Certificate", on_delete=models.PROTECT, null=True, blank=True, related_name="api_calls"
    )
    operation = models.CharField(max_length=32)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=600)
    api_version = models.CharField(max_length=8, blank=True)
    request_body = models.TextField(blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome)
    error = models.CharField(max_length=500, blank=True)
    # The lease's fencing token the sender held when the row was written (certificates.leasing).
    fence = models.BigIntegerField(null=True, blank=True, editable=False)
    answered_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The hash chain (certificates.apilog). Version 2 rows take two places in it: the request (`seq`,
    # `row_hash`), written before it is sent, and the answer (`answer_seq`, `answer_hash`), written after.
    hash_version = models.PositiveSmallIntegerField(default=2, editable=False)
    seq = models.BigIntegerField(unique=True, editable=False)
    body_sha256 = models.CharField(max_length=64, editable=False)  # version 1: both bodies together
    request_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    response_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    # What the answer produced (the Claim or CheckIn row), so the pages' copy can be checked against it.
    result_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    bodies_pruned_at = models.DateTimeField(null=True, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    row_hash = models.CharField(max_length=64, editable=False)
    answer_seq = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    answer_prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    answer_hash = models.CharField(max_length=64, blank=True, editable=False)

    objects = ApiCallQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("view_api_log", "Can read and export the API-call log")]

    def __str__(self) -> str:
        return f"{self.method} {self.url} → {self.status or self.outcome}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"API call {self.pk} is already logged; the log is append-only.")
        insert_chained(self)

    def get_absolute_url(self) -> str:
        return reverse("certificates:api-call", args=[self.pk])

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"API call {self.pk} cannot be deleted; the log is append-only.")

    @property
    def awaiting_answer(self) -> bool:
        """Written before sending, with no answer recorded (the sender stopped, or it is still out)."""
        return self.outcome == self.Outcome.SENT


class ApiLogHead(models.Model):
    """One row: the end of the API-call hash chain. Writers lock it, so concurrent writers keep one chain."""

    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"API-call log head #{self.last_seq}"


# --- Writing the chain: write ahead, then the answer (docs/architecture.md, "The log") ---------------


def _locked_head() -> ApiLogHead:
    """The chain head, locked until the surrounding transaction ends (inside `chain_batch`, the one the
    batch locked)."""
    if _batch.active and _batch.head is not None:
        return _batch.head
    heads = ApiLogHead.objects.select_for_update() if connection.features.has_select_for_update else None
    heads = heads if heads is not None else ApiLogHead.objects.all()
    head = heads.filter(pk=1).first()
    if head is None:  # a fresh (or flushed) database: start from whatever the log holds
        last = _last_entry()
        ApiLogHead.objects.bulk_create(
            [ApiLogHead(pk=1, last_seq=last[0], last_hash=last[1])], ignore_conflicts=True
        )
        head = heads.get(pk=1)
    if _batch.active:
        _batch.head = head
    return head


class _Batch(threading.local):
    """The head a `chain_batch` holds in this thread (Django's connections are per thread too)."""

    active = False
    head: ApiLogHead | None = None
    moved = False


_batch = _Batch()


@contextmanager
def chain_batch() -> Iterator[None]:
    """Write several chain entries in one transaction: the head is locked once and moved once, at the
    end, instead of once per entry (the worker writes a batch of requests, then a batch of answers).

    The entries are the same, numbered and hashed one after another exactly as one at a time; only the
    head's row is written once. Nothing inside may roll back to a savepoint and carry on after writing
    an entry (nothing does: an error ends the whole transaction), or the head would run ahead of the
    rows; `verify_api_log` would report that gap, it could not hide one.
    """
    if _batch.active:  # already inside a batch: it holds the head
        yield
        return
    with transaction.atomic(savepoint=False):
        _batch.active, _batch.head, _batch.moved = True, None, False
        try:
            yield
            head = _batch.head
            if _batch.moved and head is not None:
                ApiLogHead.objects.filter(pk=head.pk).update(last_seq=head.last_seq, last_hash=head.last_hash)
        finally:
            _batch.active, _batch.head, _batch.moved = False, None, False


def _last_entry() -> tuple[int, str]:
    request = ApiCall.objects.order_by("-seq").values_list("seq", "row_hash").first() or (0, "")
    answered = (
        ApiCall.objects.filter(answer_seq__isnull=False)
        .order_by("-answer_seq")
        .values_list("answer_seq", "answer_hash")
        .first()
    )
    answer = (answered[0] or 0, answered[1]) if answered else (0, "")
    return max(request, answer)


def _take_place(head: ApiLogHead) -> tuple[int, str]:
    return head.last_seq + 1, head.last_hash or GENESIS


def _move_head(head: ApiLogHead, seq: int, entry_hash: str) -> None:
    head.last_seq, head.last_hash = seq, entry_hash
    if _batch.active:
        _batch.moved = True  # written once when the batch ends
    else:
        ApiLogHead.objects.filter(pk=head.pk).update(last_seq=seq, last_hash=entry_hash)


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
    # No savepoint: an error here is never caught and carried on from, so the enclosing transaction (the
    # sender's, when there is one) is what rolls back; two round trips saved on every call.
    with transaction.atomic(savepoint=False):
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
    with transaction.atomic(savepoint=False):  # as in insert_chained
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
        # Digest what the database holds, as verification will read it (a JSON number, a datetime
        # may come back otherwise than it went in). Only the digested columns: refresh_from_db()
        # would cost as much again.
        names = result_fields(result)
        stored = type(result).objects.filter(pk=result.pk).values_list(*names).get()
        for name, value in zip(names, stored, strict=True):
            setattr(result, name, value)
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

"""Leases and fencing: the one door through which every claim, look-up and check-in is sent.

Claims are billed, so a certificate must be claimed once whatever door asks (the claim form, "Claim
now", bulk actions, the worker, the scheduler, commands) and whatever crashes or stalls. Rows are the
truth, so the door is in the certificate's row:

1. **Lease.** A sender takes the row's lease in a short transaction (the row locked FOR UPDATE, or
   SKIP LOCKED for the worker, on PostgreSQL; SQLite's IMMEDIATE transactions serialise writers) and
   commits before any HTTP. Taking a lease bumps `lease_fence`, the fencing token. A second sender finds
   the live lease and reports it (`LeaseHeld`) instead of sending; a final state refuses (`AlreadyFinal`).
   A lease whose sender died simply expires and is taken over by the next one.
2. **Fence, then write ahead.** Immediately before a request leaves, `guard` re-reads the row in a
   transaction: if its fence is no longer the sender's (the lease was taken over while the sender was
   stalled: a GC pause, a frozen VM) or the certificate was finished or cancelled meanwhile, it raises
   `Fenced` and nothing is sent. Otherwise it writes the API-call row (chained, "sent", carrying the
   fence) in that same transaction and renews the lease. So the log holds every request that may have
   reached TrustedForm, and a taken-over lease costs at most a look-up, never a second claim.
3. **Results under the fence.** An answer changes the certificate only while the sender still holds
   the fence; a late answer to a stale sender is logged and changes nothing.

4. **Send by.** A request cleared under a lease must leave within half of it (`send_window`): the
   client's connection checks that time immediately before the request's first byte is written, and a
   sender held up past it (stopped between the guard's commit and the send: a stall, a connection slow
   to open) sends nothing; its write-ahead row gets a "not sent" answer. A request that does leave thus
   leaves at least half a lease before the lease can be taken over, and the next sender's look-up
   (`GET /<id>`, made because the previous lease was never released) finds its claim.

What is left is a stall in the few instructions between that check and the write, or a request that
takes TrustedForm longer than half a lease to process: then the look-up may come first and a second
claim be sent. No client can close that without an idempotency key, which the API does not offer
(docs/trustedform.md §4: a second claim is accepted, not refused; we count every accepted claim as billed).

Only this module writes the lease columns (Certificate.save() leaves them alone), so a stale copy of a
row saved elsewhere can never move a fence backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from certificates.apilog import models as api_log
from certificates.models import OPEN_STATES, Actor, Certificate
from certificates.redaction import redact
from trustedform import CallRecord
from trustedform.client import BeforeSend


class AlreadyFinal(Exception):
    """The certificate already has a final answer: claims are billable, so it is not claimed again."""


class LeaseHeld(Exception):
    """Another sender (the worker, a colleague, a second submit) holds the certificate's lease now."""

    def __init__(self, owner: str, expires_at: datetime | None) -> None:
        self.owner, self.expires_at = owner, expires_at
        who = describe_owner(owner)
        super().__init__(
            f"{who} is already sending this certificate's request; nothing more was sent. "
            "Its answer appears on the certificate's page when it arrives."
        )


class Fenced(Exception):
    """The sender's lease was taken over, or the certificate finished meanwhile: the request was not sent."""


@dataclass(frozen=True)
class Lease:
    certificate_id: int
    owner: str
    fence: int
    # The previous lease was never released: its sender may have died mid-request, so look first.
    orphaned: bool = False


def describe_owner(owner: str) -> str:
    if owner.startswith("worker"):
        return "The background worker"
    if owner.startswith("sweep"):
        return "The scheduler's check-in"
    return "Another request (a colleague, or a second click)"


def lease_duration() -> timedelta:
    return timedelta(seconds=settings.CLAIM_LEASE_SECONDS)


def send_window() -> timedelta:
    """How long a cleared request may take to leave: half the lease renewed with it, so a request that
    leaves at all leaves half a lease before anyone can take the lease over and look the certificate up."""
    return lease_duration() / 2


def _rows(pk: Any = None, *, skip_locked: bool = False) -> QuerySet[Certificate]:
    rows = Certificate.objects.all() if pk is None else Certificate.objects.filter(pk=pk)
    if connection.features.has_select_for_update:
        rows = rows.select_for_update(
            skip_locked=skip_locked and connection.features.has_select_for_update_skip_locked
        )
    return rows


def take(certificate: Certificate, *, owner: str, require_pending: bool = True) -> Lease:
    """Take one certificate's lease for a manual door (form, "Claim now", command, sweep).

    Raises AlreadyFinal when it is no longer pending (unless `require_pending` is false, for a look-up
    of a finished claim) and LeaseHeld when a live lease is someone else's.
    """
    now = timezone.now()
    with transaction.atomic():
        row = _rows(certificate.pk).values("state", "lease_owner", "lease_expires_at", "lease_fence").get()
        if require_pending and row["state"] not in OPEN_STATES:
            label = Certificate.State(row["state"]).label.lower()
            raise AlreadyFinal(f"This certificate is already {label}.")
        if row["lease_owner"] and row["lease_expires_at"] and row["lease_expires_at"] > now:
            raise LeaseHeld(row["lease_owner"], row["lease_expires_at"])
        fence = row["lease_fence"] + 1
        Certificate.objects.filter(pk=certificate.pk).update(
            lease_owner=owner[:64], lease_expires_at=now + lease_duration(), lease_fence=fence
        )
    certificate.lease_owner, certificate.lease_fence = owner[:64], fence
    return Lease(certificate.pk, owner[:64], fence, orphaned=bool(row["lease_owner"]))


def take_due(limit: int, *, owner: str, now: datetime | None = None) -> list[tuple[Certificate, Lease]]:
    """Take up to `limit` due certificates for the worker, earliest deadline first.

    SKIP LOCKED on PostgreSQL lets many workers share the table; on SQLite the IMMEDIATE transaction
    serialises them. A worker that dies leaves leases that simply expire.
    """
    if limit <= 0:
        return []
    now = now or timezone.now()
    with transaction.atomic():
        due = Certificate.objects.due(now).order_by("claim_deadline", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        previous_owner = dict(due.values_list("id", "lease_owner")[:limit])
        if not previous_owner:
            return []
        Certificate.objects.filter(id__in=previous_owner).update(
            lease_owner=owner[:64], lease_expires_at=now + lease_duration(), lease_fence=F("lease_fence") + 1
        )
        leased = list(
            Certificate.objects.filter(id__in=previous_owner)
            .select_related("vendor")
            .order_by("claim_deadline", "id")
        )
    return [(c, Lease(c.pk, owner[:64], c.lease_fence, orphaned=bool(previous_owner[c.pk]))) for c in leased]


def holds(lease: Lease) -> Certificate | None:
    """The certificate, re-read (locked inside a transaction), if `lease` is still its current one."""
    return holding([lease]).get(lease.certificate_id)


def holding(leases: list[Lease]) -> dict[int, Certificate]:
    """The certificates whose lease is still the one given, re-read and locked (inside a transaction),
    by id: one statement for a worker's batch of answers. Only the certificate rows are locked (not
    their vendor's, which every worker's answers share)."""
    if not leases:
        return {}
    rows = _rows().filter(pk__in=[lease.certificate_id for lease in leases]).order_by("pk")
    if connection.features.has_select_for_update_of:
        rows = rows.select_for_update(of=("self",))
    found = {row.pk: row for row in rows}
    return {
        lease.certificate_id: certificate
        for lease in leases
        if (certificate := _current(found.get(lease.certificate_id), lease)) is not None
    }


def _current(certificate: Certificate | None, lease: Lease) -> Certificate | None:
    if certificate is None or (certificate.lease_fence, certificate.lease_owner) != (
        lease.fence,
        lease.owner,
    ):
        return None
    return certificate


def lock_open(certificate: Certificate) -> Certificate | None:
    """The certificate, re-read and locked (inside a transaction), if it is not final."""
    return _rows(certificate.pk).select_related("vendor").filter(state__in=OPEN_STATES).first()


def release(lease: Lease) -> None:
    """Give the lease back, unless it was taken over meanwhile (then it is not ours to clear)."""
    Certificate.objects.filter(
        pk=lease.certificate_id, lease_fence=lease.fence, lease_owner=lease.owner
    ).update(lease_owner="", lease_expires_at=None)


def release_held(leases: list[Lease]) -> None:
    """Give back leases that `holding()` just found current, in the same transaction: their rows are
    locked since, so no one can have taken them over, and one statement releases them all."""
    if leases:
        Certificate.objects.filter(pk__in=[lease.certificate_id for lease in leases]).update(
            lease_owner="", lease_expires_at=None
        )


@dataclass(frozen=True)
class Send:
    """A request about to leave, with the lease it is sent under (None: a certificate tfdash does not
    hold) and who sends it."""

    lease: Lease | None
    certificate_id: int | None
    call: CallRecord
    user: Actor = None
    trigger: str = ""


def guard(lease: Lease | None, *, certificate_id: int | None, user: Actor = None, trigger: str) -> BeforeSend:
    """The client's last step before a request leaves: check the fence and write the log row first.

    Without a lease (a command claiming a certificate tfdash does not hold) only the write-ahead applies.
    """

    def before_send(call: CallRecord) -> None:
        refusal = clear_sends([Send(lease, certificate_id, call, user, trigger)])[0]
        if refusal is not None:
            raise refusal

    return before_send


def clear_sends(sends: list[Send]) -> list[Fenced | None]:
    """Fence and write ahead several requests in one transaction (the worker's threads wait together).

    For each: Fenced if it must not be sent, else None, and its write-ahead row (`call.log_ref`) is in
    the log when this returns. The rows are locked, their fences checked, their leases renewed and their
    requests chained with one statement each, not one per request; the chain entries are the same.
    """
    refusals: list[Fenced | None] = [None] * len(sends)
    with transaction.atomic(), api_log.chain_batch():
        leased = [send.lease.certificate_id for send in sends if send.lease is not None]
        rows = (
            {r["id"]: r for r in _rows().filter(pk__in=leased).order_by("pk").values(*_FENCE_COLUMNS)}
            if leased
            else {}
        )
        for index, send in enumerate(sends):
            if send.lease is not None:
                refusals[index] = _refusal(rows.get(send.lease.certificate_id), send.lease, send.call)
        cleared = [
            send.lease.certificate_id
            for send, refusal in zip(sends, refusals, strict=True)
            if send.lease is not None and refusal is None
        ]
        now = timezone.now()
        if cleared:
            Certificate.objects.filter(pk__in=cleared).update(lease_expires_at=now + lease_duration())
        for send, refusal in zip(sends, refusals, strict=True):
            if refusal is None:
                send.call.log_ref = _write_ahead(send)
                if send.lease is not None:
                    send.call.send_by = (now + send_window()).timestamp()
    return refusals


_FENCE_COLUMNS = ("id", "lease_fence", "lease_owner", "state")


def _refusal(row: dict[str, Any] | None, lease: Lease, call: CallRecord) -> Fenced | None:
    if row is None or (row["lease_fence"], row["lease_owner"]) != (lease.fence, lease.owner):
        return Fenced("The lease was taken over by another sender; this request was not sent.")
    if call.operation in ("claim", "check_in") and row["state"] not in OPEN_STATES:
        return Fenced("The certificate was finished or cancelled meanwhile; this request was not sent.")
    return None


def _write_ahead(send: Send) -> api_log.ApiCall:
    user, call = send.user, send.call
    return api_log.open_call(
        created_at=timezone.now(),
        triggered_by=user if user is not None and user.is_authenticated else None,
        trigger=send.trigger[:64],
        certificate_id=send.certificate_id,
        operation=call.operation,
        method=call.method,
        url=redact(call.url),
        api_version=call.api_version,
        request_body=redact(call.request_body),
        fence=send.lease.fence if send.lease is not None else None,
    )

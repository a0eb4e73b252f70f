"""The background claimer: claim every due certificate with a pool of threads, and the task that runs it.

Tasks take ids (or nothing), are idempotent, and only wake the work: the certificate rows hold the
truth, so a lost or repeated task loses nothing (docs/architecture.md, "Leases").
"""

from __future__ import annotations

import os
import queue
import socket
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.tasks import task
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from certificates import claiming, leasing
from certificates.apilog import models as api_log
from certificates.models import (
    AccountStatus,
    Certificate,
)
from certificates.reports import rollups
from trustedform import (
    CallRecord,
)


@dataclass
class WorkStats:
    claimed: int = 0
    retried: int = 0
    final_errors: int = 0
    not_sent: int = 0  # fenced: the lease was taken over, or the certificate finished meanwhile
    paused: bool = False

    def add(self, certificate: Certificate, attempt: claiming.Attempt) -> None:
        if attempt.fenced is not None:
            self.not_sent += 1
        elif certificate.state == Certificate.State.CLAIMED:
            self.claimed += 1
        elif certificate.state == Certificate.State.PENDING:
            self.retried += 1
        else:
            self.final_errors += 1


class _Gate:
    """Runs the threads' fence checks and write-ahead rows on the writing thread.

    A thread about to send hands its request here and waits; the writing thread runs the guard (one
    short transaction on its own connection) and lets it go, or raises Fenced in it. So the check is
    still made immediately before the request leaves, and only one thread ever touches the database:
    a thread's own connection could not see, or would lock out, the writer's open transaction (SQLite
    has one writer at a time).
    """

    def __init__(self) -> None:
        self.events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()

    def before_send_for(self, job: claiming.ClaimJob) -> leasing.BeforeSend:
        def before_send(call: CallRecord) -> None:
            cleared: Future[None] = Future()
            self.events.put(("send", (job, call, cleared)))
            cleared.result()  # re-raises Fenced: nothing is sent

        return before_send

    def clear(self, sends: list[tuple[claiming.ClaimJob, CallRecord, Future[None]]]) -> None:
        """Clear every request waiting now in one transaction (leasing.clear_sends)."""
        try:
            refusals = leasing.clear_sends([job.send(call) for job, call, _ in sends])
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting threads, which raise it
            for _, _, cleared in sends:
                cleared.set_exception(exc)
            return
        for (_, _, cleared), refusal in zip(sends, refusals, strict=True):
            if refusal is None:
                cleared.set_result(None)
            else:
                cleared.set_exception(refusal)


def claim_due(*, owner: str, threads: int | None = None, max_seconds: float | None = None) -> WorkStats:
    """Claim due certificates until none is due (or time runs out), keeping the thread pool busy.

    Threads do HTTP only; this thread leases rows, clears each request through the door just before it
    leaves (`_Gate`) and writes every answer. At most `threads` requests are out at once, so a
    401/402/403 stops the rest: the account is paused, nothing more is leased, and what was leased but
    not sent is released.
    """
    threads = threads or settings.CLAIM_THREADS
    client = claiming.get_client()
    stats = WorkStats()
    trigger = f"worker {owner}"[:64]
    deadline = time.monotonic() + max_seconds if max_seconds else None
    leased: deque[tuple[Certificate, claiming.ClaimJob]] = deque()
    in_flight: dict[Future, Certificate] = {}
    gate = _Gate()
    next_lease_at = 0.0
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="claim") as pool:

        def top_up() -> None:
            while not stats.paused and leased and len(in_flight) < threads:
                certificate, job = leased.popleft()
                future = pool.submit(claiming.attempt_claim, client, job, gate.before_send_for(job))
                in_flight[future] = certificate
                future.add_done_callback(lambda done: gate.events.put(("done", done)))

        while True:
            accepting = not stats.paused and (deadline is None or time.monotonic() < deadline)
            # Lease ahead when half the next pool's worth is left, a dozen at a time, not a few every
            # round: every round the writing thread spends leasing, the threads wait at the gate.
            # Once the due rows run out, look again each second (or when nothing is left to wait for).
            if (
                accepting
                and len(leased) <= threads // 2
                and (not in_flight or time.monotonic() >= next_lease_at)
            ):
                if AccountStatus.current().claiming_paused:
                    stats.paused = True
                else:
                    wanted = threads * 2 - len(leased) - len(in_flight)
                    taken = leasing.take_due(wanted, owner=trigger)
                    jobs = claiming.jobs_for(taken, trigger=trigger)
                    leased.extend(
                        (certificate, job) for (certificate, _), job in zip(taken, jobs, strict=True)
                    )
                    if len(taken) < wanted:
                        next_lease_at = time.monotonic() + 1.0
            if accepting:
                top_up()
            if not in_flight:
                break
            finished, sends = [], []
            kind, event = gate.events.get()
            while True:
                if kind == "send":
                    sends.append(event)
                elif event in in_flight:
                    finished.append((in_flight.pop(event), event.result()))
                try:
                    kind, event = gate.events.get_nowait()
                except queue.Empty:
                    break
            if sends:
                gate.clear(sends)  # the threads waiting to send go first: they wait on it
            if not finished:
                continue
            if any(a.error is not None and a.error.pauses_account for _, a in finished):
                stats.paused = True
            if accepting:
                top_up()  # refill the threads first, then write: the writes overlap the next calls
            _write_worker_attempts(finished, stats)
    for _certificate, job in leased:
        if job.lease is not None:
            leasing.release(job.lease)
    return stats


def _write_worker_attempts(finished: list[tuple[Certificate, claiming.Attempt]], stats: WorkStats) -> None:
    """The answers that came back together, in one transaction: one commit, the rows locked and re-read
    with one statement, the chain's head moved once and the leases given back with one statement."""
    with transaction.atomic(), api_log.chain_batch():
        # Re-read the rows under their lock: a user may have cancelled or checked one in while the call
        # was out, or (after a stall) another worker may have taken it over.
        current = leasing.holding([a.job.lease for _, a in finished if a.job.lease is not None])
        for certificate, attempt in finished:
            row = current.get(certificate.pk) if attempt.job.lease is not None else None
            if row is not None:
                claiming.refresh_from(certificate, row)
            claiming.record_attempt(certificate, attempt, current=row is not None)
            stats.add(certificate, attempt)
        leasing.release_held(
            [a.job.lease for c, a in finished if a.job.lease is not None and c.pk in current]
        )


# --- Claiming a selection ---------------------------------------------------------------------------


@dataclass
class QueuedClaims:
    """What "Claim selected" did with each certificate it was given."""

    queued: int = 0  # made due now: the worker claims them through their leases
    in_flight: int = 0  # a sender holds the lease right now: it will answer, nothing more is sent
    final: int = 0  # already claimed, expired, not claimable or cancelled: not sent again


def queue_claims(certificate_ids: list[int]) -> QueuedClaims:
    """Make the selected pending certificates due now and wake the worker.

    A bulk action does not claim in the web request (thousands of claims would outlast it): it puts the
    certificates first in the worker's queue, whose leases make sure each is sent once.
    """
    now = timezone.now()
    selected = Certificate.objects.filter(pk__in=certificate_ids)
    done = QueuedClaims()
    with transaction.atomic():
        pending = selected.filter(state=Certificate.State.PENDING)
        done.final = selected.count() - pending.count()
        in_flight = pending.filter(lease_expires_at__gt=now).exclude(lease_owner="")
        done.in_flight = in_flight.count()
        done.queued = pending.exclude(pk__in=in_flight.values("pk")).update(next_attempt_at=now)
    if done.queued:
        transaction.on_commit(wake_claimer)
    return done


# --- The task -----------------------------------------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@task()
def claim_due_certificates() -> dict[str, int]:
    """Claim everything that is due, with this worker's thread pool."""
    stats = claim_due(owner=worker_name())
    rollups.refresh_dirty()
    return {
        "claimed": stats.claimed,
        "retried": stats.retried,
        "final_errors": stats.final_errors,
        "not_sent": stats.not_sent,
    }


def wake_claimer() -> None:
    """Enqueue a claim task unless one is already waiting: the task claims everything due anyway."""
    backend = claim_due_certificates.get_backend()
    if isinstance(backend, DatabaseBackend):
        waiting = DBTaskResult.objects.ready().filter(
            task_path=claim_due_certificates.module_path, backend_name=backend.alias
        )
        if waiting.exists():
            return
    claim_due_certificates.enqueue()


def worker_state() -> tuple[str, str | None]:
    """("ok" | "stale" | "unknown", when a worker last finished a task).

    The worker leaves no trace but the tasks it finishes, and it is idle when nothing is due, so an old
    last-finished time alone means nothing. Stale: a task has been ready for longer than
    HEALTH_WORKER_STALE_SECONDS and no worker took it. Unknown: no worker has ever finished a task.
    """
    finished = DBTaskResult.objects.finished().order_by("-finished_at")
    last_seen = finished.values_list("finished_at", flat=True).first()
    waiting_since = (
        DBTaskResult.objects.ready().order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    )
    stale_after = timedelta(seconds=settings.HEALTH_WORKER_STALE_SECONDS)
    seen = last_seen.isoformat() if last_seen else None
    if waiting_since is not None and timezone.now() - waiting_since > stale_after:
        return "stale", seen
    return ("ok" if last_seen else "unknown"), seen

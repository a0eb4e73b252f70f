"""Legal holds: place one on a scope, let later certificates join it, release it with a reason.

While a certificate is on an open hold, nothing in tfdash prunes, anonymises or deletes it or its claims,
check-ins, reviews and API calls: retention and pruning leave it out (`on_hold`), and deleting it is
refused at the model layer, whichever door it comes from (admin, a command, a cascade). Claims, check-ins
and reviews are only ever deleted with their certificate; API calls never are (append-only).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from certificates.evidence.models import HeldCertificate, LegalHold
from certificates.filters import CertificateFilter, person_q
from certificates.models import Actor, Certificate, Vendor, signed_in
from trustedform import normalise_email, normalise_phone

CHUNK = 2_000


def scope_of(hold: LegalHold) -> QuerySet[Certificate]:
    """The certificates a hold's scope selects (none for a hold without a scope). A person is matched by
    phone *or* email (one person's leads carry either); every other field narrows the scope."""
    q = Q()
    if hold.phone_normalised or hold.email_normalised:
        q &= person_q(hold.phone_normalised, hold.email_normalised)
    if hold.vendor_id:
        q &= Q(vendor_id=hold.vendor_id)
    if hold.reference:
        q &= Q(reference=hold.reference)
    if hold.received_from:
        q &= Q(received_at__gte=hold.received_from)
    if hold.received_until:
        q &= Q(received_at__lt=hold.received_until)
    if not q and not hold.query:
        return Certificate.objects.none()
    certificates = Certificate.objects.filter(q)
    if hold.query:
        certificates = CertificateFilter(QueryDict(hold.query), queryset=certificates).qs
    return certificates


def place_hold(
    *,
    name: str,
    user: Actor,
    description: str = "",
    phone: str = "",
    email: str = "",
    vendor: Vendor | None = None,
    reference: str = "",
    received_from: datetime | None = None,
    received_until: datetime | None = None,
    query: str = "",
    certificates: QuerySet[Certificate] | None = None,
) -> LegalHold:
    """Open a hold on everything its scope selects now (and, given, `certificates` beside it)."""
    with transaction.atomic():
        hold = LegalHold(
            name=name,
            description=description,
            placed_by=signed_in(user),
            phone_normalised=normalise_phone(phone),
            email_normalised=normalise_email(email),
            vendor=vendor,
            reference=reference.strip(),
            received_from=received_from,
            received_until=received_until,
            query=query,
        )
        hold._history_user = signed_in(user)  # type: ignore[attr-defined]  # simple_history's hook
        hold.save()
        hold_certificates(hold, scope_of(hold))
        if certificates is not None:
            hold_certificates(hold, certificates)
    return hold


def hold_certificates(hold: LegalHold, certificates: QuerySet[Certificate] | Iterable[int]) -> int:
    """Add certificates (a queryset or ids) to a hold, in chunks so a large scope stays flat in memory;
    returns how many were offered (those already held by it stay as they are)."""
    ids = (
        certificates.order_by().values_list("pk", flat=True).iterator(chunk_size=CHUNK)
        if isinstance(certificates, QuerySet)
        else iter(certificates)
    )
    now, offered, chunk = timezone.now(), 0, []
    for pk in ids:
        chunk.append(HeldCertificate(hold=hold, certificate_id=pk, joined_at=now))
        if len(chunk) == CHUNK:
            HeldCertificate.objects.bulk_create(chunk, ignore_conflicts=True)
            offered, chunk = offered + len(chunk), []
    if chunk:
        HeldCertificate.objects.bulk_create(chunk, ignore_conflicts=True)
        offered += len(chunk)
    return offered


def join_open_holds(certificates: QuerySet[Certificate]) -> int:
    """Certificates that just arrived (or whose lead was corrected) join every open hold whose scope
    they match. Intake calls this for each chunk it stores; without an open hold it costs one query."""
    joined = 0
    for hold in LegalHold.objects.filter(released_at__isnull=True, joins_later=True):
        joined += hold_certificates(hold, scope_of(hold).filter(pk__in=certificates.values("pk")))
    return joined


def release_hold(hold: LegalHold, *, user: Actor, reason: str) -> LegalHold:
    """Release a hold; the reason is required and kept (the hold's history records who and when)."""
    reason = reason.strip()
    if not reason:
        raise ValueError("Say why the hold is released: the reason is kept with it.")
    if hold.released_at is not None:
        raise ValueError(f"The hold “{hold.name}” was already released on {hold.released_at:%b %-d, %Y}.")
    hold.released_at, hold.released_by, hold.release_reason = timezone.now(), signed_in(user), reason
    hold._history_user = signed_in(user)  # type: ignore[attr-defined]  # simple_history's hook
    hold.save()
    return hold


def open_holds_of(certificate: Certificate) -> QuerySet[LegalHold]:
    return LegalHold.objects.filter(memberships__certificate=certificate, released_at__isnull=True)


def is_held(certificate_id: int) -> bool:
    return HeldCertificate.objects.filter(
        certificate_id=certificate_id, hold__released_at__isnull=True
    ).exists()

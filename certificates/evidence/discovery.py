"""Discovery requests: everything on record about one person, in one package, with a hold on it.

A request names a person by phone and/or email (matched by normalised value, as search does; either
one matches), optionally a vendor and a received-date range. Building it places a legal hold named by
the request on everything found (so later certificates of that person join too), then writes one ZIP:
each certificate's evidence as in any package, `summary.csv`, a readable `index.html`, the person's
revocations (`revocations.csv`), `manifest.json` and `MANIFEST.sha256` (and its RFC 3161 timestamp when a
timestamp authority is configured). Streamed chunk by chunk, so memory stays flat.
"""

from __future__ import annotations

import csv
import tempfile
from datetime import date, datetime, time, timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet
from django.tasks import task
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html

from certificates.evidence import packages
from certificates.evidence.holds import place_hold, scope_of
from certificates.evidence.models import DiscoveryRequest, LegalHold
from certificates.exporting import neutralise
from certificates.models import Actor, Certificate, Vendor, signed_in
from certificates.revocations.recording import revocations_of
from trustedform import normalise_email, normalise_phone

SUMMARY_COLUMNS = [
    "cert_id",
    "cert_url",
    "vendor",
    "reference",
    "email",
    "phone",
    "received_at",
    "state",
    "outcome",
    "outcome_reason",
    "fingerprints",
    "scan_passed",
    "review_status",
    "last_review",
    "claimed_at",
    "share_url",
    "anonymised_at",
]


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(settings.TIME_ZONE))


def scope(request: DiscoveryRequest) -> LegalHold:
    """The request as an (unsaved) hold scope: what it finds is what the hold will cover."""
    return LegalHold(
        phone_normalised=request.phone_normalised,
        email_normalised=request.email_normalised,
        vendor_id=request.vendor_id,
        received_from=day_start(request.since) if request.since else None,
        received_until=day_start(request.until + timedelta(days=1)) if request.until else None,
    )


def found(request: DiscoveryRequest) -> QuerySet[Certificate]:
    return scope_of(scope(request))


def open_request(
    *,
    user: Actor,
    hold_name: str,
    phone: str = "",
    email: str = "",
    vendor: Vendor | None = None,
    since: date | None = None,
    until: date | None = None,
) -> DiscoveryRequest:
    """Record a discovery request (not built yet). A phone or an email is required."""
    if not normalise_phone(phone) and not normalise_email(email):
        raise ValueError("Give the person's phone or email: a discovery request is about one person.")
    if not hold_name.strip():
        raise ValueError("Name the hold (the matter): everything found is placed on it.")
    return DiscoveryRequest.objects.create(
        requested_by=signed_in(user),
        phone=phone.strip(),
        email=email.strip(),
        phone_normalised=normalise_phone(phone),
        email_normalised=normalise_email(email),
        vendor=vendor,
        since=since,
        until=until,
        hold_name=hold_name.strip()[:200],
    )


def start_discovery(**kwargs: Any) -> DiscoveryRequest:
    """Open a request and have a worker build it; the page follows its progress."""
    request = open_request(**kwargs)
    build_discovery_task.enqueue(request.pk)
    return request


def build(request: DiscoveryRequest, *, out: Path | None = None) -> DiscoveryRequest:
    """Hold what the request finds and write its package (to `out`, or the export directory)."""
    if request.hold_id is None:
        hold = place_hold(
            name=request.hold_name,
            user=request.requested_by,
            description=f"Discovery request #{request.pk}: {request.asked}.",
            phone=request.phone,
            email=request.email,
            vendor=request.vendor,
            received_from=scope(request).received_from,
            received_until=scope(request).received_until,
        )
        DiscoveryRequest.objects.filter(pk=request.pk).update(hold=hold)
        request.hold = hold
    certificates = found(request)
    request.state, request.total, request.done, request.error = (
        DiscoveryRequest.State.RUNNING,
        certificates.count(),
        0,
        "",
    )
    request.save(update_fields=["state", "total", "done", "error"])
    final = out or packages.export_dir() / f"discovery-{request.pk}-{request.created_at:%Y%m%d-%H%M%S}.zip"
    partial = packages.partial_path(final)
    try:
        with tempfile.TemporaryDirectory() as work, partial.open("wb") as handle:
            sealed = _write(request, certificates, handle, Path(work))
        packages.complete(partial, final)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        DiscoveryRequest.objects.filter(pk=request.pk).update(
            state=DiscoveryRequest.State.FAILED, error=str(exc)[:500], finished_at=timezone.now()
        )
        raise
    request.state, request.file_path, request.finished_at = (
        DiscoveryRequest.State.DONE,
        str(final),
        timezone.now(),
    )
    request.sha256, request.manifest_sha256, request.timestamped = (
        packages.file_sha256(final),
        sealed.manifest_sha256,
        sealed.timestamped,
    )
    request.save()
    return request


def _write(
    request: DiscoveryRequest, certificates: QuerySet[Certificate], handle: Any, work: Path
) -> packages.Sealed:
    package = packages.ManifestZip(
        handle,
        description={
            "discovery": request.pk,
            "asked": request.asked,
            "hold": request.hold_name,
            "certificates": request.total,
        },
    )
    summary_path, rows_path = work / "summary.csv", work / "rows.html"
    with (
        summary_path.open("w", newline="", encoding="utf-8") as summary,
        rows_path.open("w", encoding="utf-8") as rows,
    ):
        writer = csv.writer(summary)
        writer.writerow(SUMMARY_COLUMNS)
        for ids in packages.ids_in_chunks(certificates):
            for certificate in packages.with_evidence(Certificate.objects.filter(pk__in=ids)).order_by("pk"):
                for name, data in packages.package_files(certificate):
                    package.write(f"{certificate.cert_id}/{name}", data)
                line = _summary(certificate)
                writer.writerow([neutralise(v) for v in line.values()])
                rows.write(_row_html(certificate, line))
            request.done += len(ids)
            DiscoveryRequest.objects.filter(pk=request.pk).update(
                done=request.done, progressed_at=timezone.now()
            )
    package.write_file("summary.csv", summary_path)
    revocations = list(
        revocations_of(request.phone_normalised, request.email_normalised).order_by("revoked_at")
    )
    package.write("revocations.csv", _revocations_csv(revocations))
    top, bottom = render_to_string(
        "certificates/discovery_index.html",
        {"request": request, "revocations": revocations, "generated_at": timezone.now()},
    ).split("<!-- rows -->")
    index_path = work / "index.html"
    with index_path.open("w", encoding="utf-8") as index, rows_path.open(encoding="utf-8") as rows:
        index.write(top)
        for block in iter(lambda: rows.read(1 << 20), ""):
            index.write(block)
        index.write(bottom)
    package.write_file("index.html", index_path)
    return package.close()


def _summary(certificate: Certificate) -> dict[str, str]:
    reviews = list(certificate.reviews.all())
    last = reviews[-1] if reviews else None
    share = next((u for c in certificate.claims.all() if (u := packages.share_url(c.raw_response))), "")
    return {
        "cert_id": certificate.cert_id,
        "cert_url": certificate.cert_url,
        "vendor": certificate.vendor.name,
        "reference": certificate.reference,
        "email": certificate.lead_email,
        "phone": certificate.lead_phone,
        "received_at": _iso(certificate.received_at),
        "state": certificate.get_state_display(),
        "outcome": certificate.get_outcome_display(),
        "outcome_reason": certificate.outcome_reason,
        "fingerprints": certificate.get_fingerprint_result_display(),
        "scan_passed": {True: "yes", False: "no", None: ""}[certificate.scan_success],
        "review_status": certificate.get_review_status_display(),
        "last_review": f"{last.get_decision_display()}: {last.note}" if last else "",
        "claimed_at": _iso(certificate.claimed_at),
        "share_url": share,
        "anonymised_at": _iso(certificate.anonymised_at),
    }


def _iso(value: datetime | None) -> str:
    return value.astimezone(ZoneInfo("UTC")).isoformat(timespec="seconds") if value else ""


def _row_html(certificate: Certificate, line: dict[str, str]) -> str:
    return format_html(
        "<tr><td class=mono><a href='{}/evidence.html'>{}</a></td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
        certificate.cert_id,
        certificate.cert_id,
        line["vendor"],
        line["received_at"],
        line["state"] + (f" · {line['outcome']}" if line["outcome"] else ""),
        line["fingerprints"] or "—",
        line["review_status"] + (f" ({line['last_review']})" if line["last_review"] else ""),
        line["share_url"] and "replay" or "—",
    )


def _revocations_csv(revocations: list) -> bytes:
    lines = [["phone", "email", "revoked_at", "channel", "note", "honour_by", "state", "honoured_at"]]
    for r in revocations:
        lines.append(
            [r.phone, r.email, _iso(r.revoked_at), r.get_channel_display(), r.note, r.honour_by.isoformat(),
             r.get_state_display(), _iso(r.honoured_at)]
        )  # fmt: skip
    out = StringIO(newline="")
    csv.writer(out).writerows([[neutralise(v) for v in line] for line in lines])
    return out.getvalue().encode()


@task()
def build_discovery_task(request_id: int) -> dict:
    """Build one request's package. Idempotent: a finished one is kept, one being built by another task
    is left to it (packages.take_build)."""
    if packages.take_build(DiscoveryRequest, request_id) is None:
        return {"state": DiscoveryRequest.objects.values_list("state", flat=True).get(pk=request_id)}
    request = DiscoveryRequest.objects.select_related("vendor", "requested_by").get(pk=request_id)
    build(request)
    return {"state": DiscoveryRequest.State.DONE, "certificates": request.done}

"""Evidence packages: everything tfdash knows about a lead's certificate, in a ZIP a lawyer can read.

A package holds, per certificate, a self-contained HTML page and the same facts as JSON (the lead, every
claim answer with fingerprints, scans and insights, check-ins, reviews and the API-call log, each with
its timestamp), plus `manifest.json` and `MANIFEST.sha256` with the SHA-256 of every file. A set of
certificates is built in the background, streamed to disk entry by entry, so memory stays flat.

The API key never reaches a package: ApiCall rows are stored redacted, and the finished text is passed
through the same redaction once more before it is written.
"""

from __future__ import annotations

import glob
import hashlib
import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import QueryDict
from django.tasks import task
from django.template.loader import render_to_string
from django.utils import timezone

from certificates.claiming import redact
from certificates.evidence import timestamps
from certificates.filters import CertificateFilter
from certificates.models import (
    Actor,
    ApiCall,
    Certificate,
    CheckIn,
    Claim,
    DiscoveryRequest,
    EvidenceExport,
    HeldCertificate,
    Review,
    signed_in,
)

FORMAT_VERSION = 2  # 2: local_copy, share_url, anonymised_at, legal_holds
# What every package and the certificate page say about the copy tfdash keeps (README, "Evidence").
LOCAL_COPY = (
    "Everything TrustedForm answered when this certificate was claimed is kept in tfdash (each claim "
    "answer and every API call's request and response) for the whole retention period. Reading it needs no "
    "call to TrustedForm, even after TrustedForm has moved the certificate to cold storage."
)
# A package is for a dispute, not a data dump: past this, narrow the filter (or use the CSV export).
MAX_CERTIFICATES = 10_000
CHUNK = 200


def export_dir() -> Path:
    path = Path(settings.EVIDENCE_EXPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def with_evidence(queryset: QuerySet[Certificate]) -> QuerySet[Certificate]:
    """The certificates with everything a package needs, in a fixed number of queries."""
    return queryset.select_related("vendor").prefetch_related(
        Prefetch("claims", queryset=Claim.objects.select_related("claimed_by").order_by("created_at", "id")),
        Prefetch(
            "check_ins", queryset=CheckIn.objects.select_related("checked_in_by").order_by("created_at", "id")
        ),
        Prefetch("reviews", queryset=Review.objects.select_related("reviewer").order_by("created_at", "id")),
        Prefetch(
            "api_calls", queryset=ApiCall.objects.select_related("triggered_by").order_by("created_at", "id")
        ),
        Prefetch(
            "hold_memberships",
            queryset=HeldCertificate.objects.select_related("hold").order_by("joined_at", "id"),
        ),
    )


def _user(user: Actor) -> str | None:
    return user.get_username() if user is not None and user.is_authenticated else None


def share_url(raw_response: dict[str, Any]) -> str:
    """The session-replay link TrustedForm gave in a claim answer, if any: v4 `retain.results.share_url`,
    a Meta answer's top-level `share_url`, a v3 answer's `share_url` (docs/trustedform.md §3.1)."""
    retain = raw_response.get("retain") if isinstance(raw_response, dict) else None
    results = retain.get("results") if isinstance(retain, dict) else None
    for found in (
        results.get("share_url") if isinstance(results, dict) else None,
        raw_response.get("share_url"),
    ):
        if isinstance(found, str) and found.startswith("https://"):
            return found
    return ""


def evidence_for(certificate: Certificate) -> dict[str, Any]:
    """One certificate's evidence as plain data (expects `with_evidence` prefetching)."""
    return {
        "format": "tfdash-evidence",
        "format_version": FORMAT_VERSION,
        "generated_at": timezone.now(),
        "certificate": {
            "id": certificate.cert_id,
            "url": certificate.cert_url,
            "type": certificate.cert_type,
            "state": certificate.state,
            "state_reason": certificate.state_reason,
            "outcome": certificate.outcome,
            "outcome_reason": certificate.outcome_reason,
            "fingerprint_result": certificate.fingerprint_result,
            "scan_success": certificate.scan_success,
            "is_masked": certificate.is_masked,
            "bot_detected": certificate.bot_detected,
            "reused": certificate.reused,
            "review_status": certificate.review_status,
            "received_at": certificate.received_at,
            "claim_deadline": certificate.claim_deadline,
            "claimed_at": certificate.claimed_at,
            "checked_in_at": certificate.checked_in_at,
            "retained_until": certificate.retained_until,
        },
        "local_copy": LOCAL_COPY,
        "share_url": next(
            (share_url(c.raw_response) for c in certificate.claims.all() if share_url(c.raw_response)), ""
        ),
        "anonymised_at": certificate.anonymised_at,
        "legal_holds": [
            {
                "name": m.hold.name,
                "placed_at": m.hold.placed_at,
                "joined_at": m.joined_at,
                "released_at": m.hold.released_at,
            }
            for m in certificate.hold_memberships.all()
        ],
        "lead": {
            "vendor": certificate.vendor.name,
            "reference": certificate.reference,
            "email": certificate.lead_email,
            "phone": certificate.lead_phone,
            "email_normalised": certificate.email_normalised,
            "phone_normalised": certificate.phone_normalised,
            "lead_created_at": certificate.lead_created_at,
        },
        "claims": [
            {
                "created_at": c.created_at,
                "claimed_by": _user(c.claimed_by),
                "api_version": c.api_version,
                "outcome": c.outcome,
                "reason": c.reason,
                "email_matched": c.email_matched,
                "phone_matched": c.phone_matched,
                "fingerprint_result": c.fingerprint_result,
                "fingerprints": c.fingerprints,
                "scan_success": c.scan_success,
                "scans": c.scans,
                "warnings": c.warnings,
                "masked_cert_url": c.masked_cert_url,
                "expires_at": c.expires_at,
                "previously_retained": c.previously_retained,
                "is_masked": c.is_masked,
                "insights": c.insights,
                "verify": c.verify,
                "api_call_id": c.api_call_id,
                "share_url": share_url(c.raw_response),
                "raw_response": c.raw_response,
            }
            for c in certificate.claims.all()
        ],
        "check_ins": [
            {
                "created_at": c.created_at,
                "checked_in_by": _user(c.checked_in_by),
                "extended_until": c.extended_until,
            }
            for c in certificate.check_ins.all()
        ],
        "reviews": [
            {
                "created_at": r.created_at,
                "reviewer": _user(r.reviewer),
                "decision": r.decision,
                "note": r.note,
            }
            for r in certificate.reviews.all()
        ],
        "api_calls": [
            {
                "id": a.pk,
                "created_at": a.created_at,
                "trigger": a.trigger,
                "triggered_by": _user(a.triggered_by),
                "operation": a.operation,
                "method": a.method,
                "url": a.url,
                "api_version": a.api_version,
                "request_body": a.request_body,
                "status": a.status,
                "response_body": a.response_body,
                "duration_ms": a.duration_ms,
                "outcome": a.outcome,
                "error": a.error,
            }
            for a in certificate.api_calls.all()
        ],
    }


def package_files(certificate: Certificate) -> list[tuple[str, bytes]]:
    """The readable page and the raw JSON for one certificate, redacted once more on the way out."""
    data = evidence_for(certificate)
    as_json = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    page = render_to_string("certificates/evidence_package.html", {"e": data, "pretty": _pretty})
    return [("evidence.html", redact(page).encode()), ("evidence.json", redact(as_json).encode())]


def _pretty(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class Sealed:
    """How a package was closed: the digest of its MANIFEST.sha256, and whether a TSA stamped it."""

    manifest_sha256: str
    timestamped: bool


class ManifestZip:
    """A ZipFile that hashes every entry as it is written, then closes with the manifests: `manifest.json`,
    `MANIFEST.sha256` (`sha256sum -c` format, every file) and, with TIMESTAMP_AUTHORITY_URL set, the
    authority's timestamp of MANIFEST.sha256 as `MANIFEST.sha256.tsr`."""

    def __init__(self, target: IO[bytes] | Path, *, description: dict[str, Any]) -> None:
        self.zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED)
        self.description = description
        self.entries: list[dict[str, Any]] = []

    def write(self, name: str, data: bytes) -> None:
        self.zip.writestr(name, data)
        self.entries.append({"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})

    def write_file(self, name: str, path: Path) -> None:
        """Add a file from disk, streamed (a large summary never sits in memory whole)."""
        digest, size = hashlib.sha256(), 0
        with path.open("rb") as source, self.zip.open(name, "w", force_zip64=True) as target:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
                target.write(block)
        self.entries.append({"name": name, "sha256": digest.hexdigest(), "bytes": size})

    def close(self) -> Sealed:
        url = settings.TIMESTAMP_AUTHORITY_URL
        self.write(
            "README.txt",
            render_to_string("certificates/evidence_readme.txt", {"timestamped": bool(url)}).encode(),
        )
        manifest = json.dumps(
            {
                **self.description,
                "generated_at": timezone.now(),
                "algorithm": "sha256",
                "files": self.entries,
            },
            cls=DjangoJSONEncoder,
            indent=2,
        ).encode()
        self.write("manifest.json", manifest)
        lines = "".join(f"{e['sha256']}  {e['name']}\n" for e in self.entries).encode()
        self.zip.writestr("MANIFEST.sha256", lines)
        try:
            if url:
                stamped = timestamps.stamp(lines, url=url, timeout=settings.TIMESTAMP_TIMEOUT_SECONDS)
                self.zip.writestr("MANIFEST.sha256.tsr", stamped.reply)
        finally:
            self.zip.close()
        return Sealed(hashlib.sha256(lines).hexdigest(), bool(url))


def certificate_package(certificate: Certificate) -> bytes:
    """One certificate's package (small: built in memory)."""
    certificate = with_evidence(Certificate.objects.filter(pk=certificate.pk)).get()
    buffer = BytesIO()
    package = ManifestZip(buffer, description={"certificate": certificate.cert_id, "certificates": 1})
    for name, data in package_files(certificate):
        package.write(name, data)
    package.close()
    return buffer.getvalue()


def package_name(certificate: Certificate) -> str:
    return f"evidence-{certificate.cert_id[:16]}-{timezone.now():%Y%m%d-%H%M%S}.zip"


# --- A filtered set, in the background --------------------------------------------------------------


def filtered_certificates(query: str) -> QuerySet[Certificate]:
    """The certificates the list shows for this query string (the same filters, the same meaning)."""
    return CertificateFilter(QueryDict(query), queryset=Certificate.objects.all()).qs


def start_evidence_export(*, user: Actor, query: str) -> EvidenceExport:
    """Record the request and wake a worker; the row carries progress and, when done, the file."""
    export = EvidenceExport.objects.create(created_by=signed_in(user), query=query)
    build_evidence_export.enqueue(export.pk)
    return export


def ids_in_chunks(queryset: QuerySet[Certificate]) -> Iterator[list[int]]:
    chunk: list[int] = []
    for pk in queryset.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=2_000):
        chunk.append(pk)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# A build that shows no progress for this long has lost its worker (killed, or its machine gone): the
# scheduler queues it again (certificates.evidence.resuming). A chunk of CHUNK certificates takes seconds.
STALLED_AFTER = timedelta(minutes=5)


def take_build[Build: (EvidenceExport, DiscoveryRequest)](model: type[Build], pk: int) -> Build | None:
    """The package row, marked as being built by this task; None when it is done, or when another
    task showed progress on it within STALLED_AFTER (a second task for one package builds nothing)."""
    now = timezone.now()
    with transaction.atomic():
        row = model.objects.select_for_update().get(pk=pk)
        if row.state == model.State.DONE:
            return None
        last = row.progressed_at
        if row.state == model.State.RUNNING and last is not None and now - last < STALLED_AFTER:
            return None
        row.state, row.progressed_at = model.State.RUNNING, now
        row.save(update_fields=["state", "progressed_at"])
    return row


def partial_path(final: Path) -> Path:
    """Where one build writes before its file is complete: its own name, so that a build taken over from
    a worker thought stopped never writes into the same file as that worker."""
    return final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}.part")


def complete(partial: Path, final: Path) -> None:
    """Put a finished build in place, and remove what stopped builds of the same package left."""
    partial.replace(final)
    stale_before = timezone.now().timestamp() - STALLED_AFTER.total_seconds()
    for left in final.parent.glob(f"{glob.escape(final.name)}.*.part"):  # a name from --out may hold [ ]
        if left.stat().st_mtime < stale_before:
            left.unlink(missing_ok=True)


@task()
def build_evidence_export(export_id: int) -> dict:
    """Build one EvidenceExport's ZIP under the export directory. Idempotent: a finished one is kept,
    one being built by another task is left to it."""
    export = take_build(EvidenceExport, export_id)
    if export is None:
        return {"state": EvidenceExport.objects.values_list("state", flat=True).get(pk=export_id)}
    queryset = filtered_certificates(export.query)
    total = queryset.count()
    if total > MAX_CERTIFICATES:
        export.state, export.total = EvidenceExport.State.FAILED, total
        export.error = (
            f"This filter matches {total:,} certificates; an evidence package holds at most "
            f"{MAX_CERTIFICATES:,}. Narrow the filter."
        )
        export.finished_at = timezone.now()
        export.save()
        return {"state": export.state}
    export.state, export.total, export.done, export.error = EvidenceExport.State.RUNNING, total, 0, ""
    export.save(update_fields=["state", "total", "done", "error"])

    final = export_dir() / f"evidence-export-{export.pk}-{export.created_at:%Y%m%d-%H%M%S}.zip"
    partial = partial_path(final)
    try:
        with partial.open("wb") as handle:
            package = ManifestZip(
                handle, description={"export": export.pk, "query": export.query, "certificates": total}
            )
            for ids in ids_in_chunks(queryset):
                for certificate in with_evidence(Certificate.objects.filter(pk__in=ids)).order_by("pk"):
                    for name, data in package_files(certificate):
                        package.write(f"{certificate.cert_id}/{name}", data)
                # Progress per chunk: one small UPDATE, not one per certificate.
                EvidenceExport.objects.filter(pk=export.pk).update(
                    done=export.done + len(ids), progressed_at=timezone.now()
                )
                export.done += len(ids)
            package.close()
        complete(partial, final)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        EvidenceExport.objects.filter(pk=export.pk).update(
            state=EvidenceExport.State.FAILED, error=str(exc)[:500], finished_at=timezone.now()
        )
        raise
    EvidenceExport.objects.filter(pk=export.pk).update(
        state=EvidenceExport.State.DONE,
        done=export.done,
        file_path=str(final),
        sha256=file_sha256(final),
        finished_at=timezone.now(),
    )
    return {"state": EvidenceExport.State.DONE, "certificates": export.done}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def done_file(done: bool, file_path: str) -> Path | None:
    """A finished package's file, only if it lies inside the export directory."""
    if not done or not file_path:
        return None
    path = Path(file_path).resolve()
    return path if path.is_file() and path.is_relative_to(export_dir().resolve()) else None

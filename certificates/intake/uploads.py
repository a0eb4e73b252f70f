"""Uploads: a file waits, with its dry run, until a person confirms it; then it is imported, by the worker when large."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.tasks import task

from certificates.intake.csvfile import CsvReport, read_csv
from certificates.intake.importer import RowOutcome, start_claiming
from certificates.models import (
    Actor,
    ImportBatch,
    signed_in,
)

DRY_RUN_LINES = 5_000


def dry_run_file(path: Path, *, default_vendor: str = "") -> CsvReport:
    """What importing an upload would do: all of a small file, the first DRY_RUN_LINES lines of a large one.

    A large file is imported by a worker (import_upload); its dry run must not parse the whole file in the
    web request either. The rest of it is checked on import, and its rejected rows are kept with the batch.
    """
    large = path.stat().st_size > inline_import_bytes()
    return read_csv(path, default_vendor=default_vendor, last_line=DRY_RUN_LINES if large else None)


def import_file(
    path: Path,
    *,
    source: str,
    filename: str = "",
    default_vendor: str = "",
    user=None,
    on_rejected: Callable[[RowOutcome], None] | None = None,
    batch: ImportBatch | None = None,
    new_vendors: Iterable[str] | None = None,
) -> tuple[ImportBatch, CsvReport]:
    """Import a CSV file for real: a new batch (or the given one), every good row saved, every bad row recorded.

    Claiming starts in the background once the rows are committed. Raises OSError, before creating
    the batch, when the file cannot be opened.
    """
    with path.open("rb"):
        pass
    if batch is None:
        batch = ImportBatch.objects.create(
            source=source,
            filename=filename[:255],
            created_by=user if user is not None and user.is_authenticated else None,
        )
    report = read_csv(
        path, default_vendor=default_vendor, batch=batch, on_rejected=on_rejected, new_vendors=new_vendors
    )
    ImportBatch.objects.filter(pk=batch.pk).update(still_reading=False)
    batch.refresh_from_db()
    if report.counts.new:
        start_claiming()
    return batch, report


def import_upload(token: str, *, user: Actor) -> tuple[ImportBatch, CsvReport | None]:
    """Import a confirmed upload: small files at once, large ones in the background (a task).

    Returns the batch, with the report when it was read at once. Raises UploadNotFound.
    """
    by = signed_in(user)
    path, meta = stored_upload(token, user_id=by.pk if by else None)
    if path.stat().st_size <= inline_import_bytes():
        batch, report = import_file(
            path,
            source=meta["source"],
            filename=meta["filename"],
            default_vendor=meta["vendor"],
            user=user,
            new_vendors=meta.get("new_vendors", []),
        )
        discard_upload(token)
        return batch, report
    # A web request must not read 100,000 rows: the batch page shows progress while a worker reads them.
    batch = ImportBatch.objects.create(
        source=meta["source"], filename=meta["filename"][:255], created_by=by, still_reading=True
    )
    transaction.on_commit(lambda: import_stored_upload.enqueue(batch.pk, token))
    return batch, None


def import_stored_upload_now(batch_id: int, token: str) -> None:
    """The background half of import_upload; idempotent (a finished or vanished upload is left alone)."""
    batch = ImportBatch.objects.filter(pk=batch_id, still_reading=True).select_related("created_by").first()
    if batch is None:
        return
    try:
        path, meta = stored_upload(token, user_id=batch.created_by_id)
    except UploadNotFound:
        ImportBatch.objects.filter(pk=batch.pk).update(still_reading=False)
        return
    import_file(
        path,
        source=batch.source,
        default_vendor=meta["vendor"],
        batch=batch,
        new_vendors=meta.get("new_vendors", []),
    )
    discard_upload(token)


def inline_import_bytes() -> int:
    return settings.INTAKE_INLINE_IMPORT_BYTES


# --- Uploads waiting for confirmation --------------------------------------------------------------

UPLOAD_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")
UPLOAD_MAX_AGE = timedelta(days=1)


class UploadNotFound(Exception):
    """The upload is gone (already imported, discarded, expired) or belongs to someone else."""


def upload_dir() -> Path:
    return Path(settings.INTAKE_UPLOAD_DIR)


def store_upload(
    chunks: Iterable[bytes], *, filename: str, vendor: str, source: str, user_id: int | None
) -> str:
    """Keep an upload on disk until the user confirms the dry run; returns the random key to it."""
    directory = upload_dir()
    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale_uploads(directory)
    token = secrets.token_urlsafe(24)
    with (directory / f"{token}.csv").open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    meta = {"filename": filename, "vendor": vendor, "source": source, "user_id": user_id}
    (directory / f"{token}.json").write_text(json.dumps(meta))
    return token


def stored_upload(token: str, *, user_id: int | None) -> tuple[Path, dict[str, Any]]:
    """The file and its details; raises UploadNotFound unless this user stored it and it is still there."""
    if not UPLOAD_TOKEN.fullmatch(token or ""):
        raise UploadNotFound
    path, meta_path = upload_dir() / f"{token}.csv", upload_dir() / f"{token}.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        raise UploadNotFound from None
    if meta.get("user_id") != user_id or not path.exists():
        raise UploadNotFound
    return path, meta


def confirm_new_vendors(token: str, *, user_id: int | None, names: Iterable[str]) -> None:
    """Record the new vendors a person confirmed for this upload: only these may be created by it."""
    path, meta = stored_upload(token, user_id=user_id)
    meta["new_vendors"] = sorted({n.lower() for n in names})
    (upload_dir() / f"{token}.json").write_text(json.dumps(meta))


def discard_upload(token: str) -> None:
    if UPLOAD_TOKEN.fullmatch(token or ""):
        for suffix in (".csv", ".json"):
            (upload_dir() / f"{token}{suffix}").unlink(missing_ok=True)


def _remove_stale_uploads(directory: Path) -> None:
    cutoff = time.time() - UPLOAD_MAX_AGE.total_seconds()
    for path in directory.glob("*.*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue


@task()
def import_stored_upload(batch_id: int, token: str) -> None:
    """Read a large confirmed upload into its batch (the batch page shows the progress)."""
    import_stored_upload_now(batch_id, token)

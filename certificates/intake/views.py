"""Intake pages: upload or paste leads, check the dry run, confirm, and watch the batch being claimed."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from certificates.exporting import SafeTableExport
from certificates.intake import batches, importer, leads, tokens, uploads
from certificates.intake.forms import ImportForm, IntakeTokenForm, too_large_message
from certificates.intake.tables import ImportBatchTable, RowErrorTable
from certificates.models import Certificate, ImportBatch, IntakeToken, Vendor
from certificates.paginators import LazyPaginator
from certificates.sweeping import check_in_at_risk_task

PER_PAGE = 50
# The batch's certificates a person must look at, each with its reason, on the batch page.
ATTENTION_STATES = (Certificate.State.HELD, Certificate.State.ERROR, Certificate.State.EXPIRED)
ATTENTION_ROWS = 20
# The progress bar's segments, in this order, over a pale track for what is still pending (colours:
# the stylesheet's .seg-<state>).
FINISHED_STATES = (
    Certificate.State.CLAIMED,
    Certificate.State.ERROR,
    Certificate.State.EXPIRED,
    Certificate.State.CANCELLED,
)
OUTCOME_BADGES = {
    importer.NEW: "badge-success",
    importer.DUPLICATE: "",
    importer.REUSED: "badge-pending",
    importer.REJECTED: "badge-failure",
}


@csrf_exempt  # only so the size is checked before CsrfViewMiddleware reads the body: _import_leads checks it
@permission_required("certificates.claim_certificate", raise_exception=True)
def import_leads(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        # Refused from the header alone: a 179 MB upload is never read into (or spooled by) the web process.
        size = _content_length(request)
        if size > settings.INTAKE_MAX_UPLOAD_BYTES:
            return _import_page(request, ImportForm(), too_large_message(size), status=413)
        try:
            request.POST  # noqa: B018 (parsed here, so that a too-large paste is a message, not a 400 page)
        except RequestDataTooBig:
            message = "The pasted rows are too long for the form: upload them as a CSV file instead."
            return _import_page(request, ImportForm(), message, status=413)
    return _import_leads(request)


@csrf_protect
def _import_leads(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["file"]:
            chunks, filename, source = data["file"].chunks(), data["file"].name, ImportBatch.Source.CSV
        else:
            chunks, filename, source = [data["text"].encode()], "pasted rows", ImportBatch.Source.PASTE
        token = uploads.store_upload(
            chunks, filename=filename, vendor=data["vendor"], source=source, user_id=request.user.pk
        )
        return redirect("intake:dry-run", token=token)
    return _import_page(request, form)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.headers.get("content-length") or 0)
    except ValueError:
        return 0  # Django then reads no body at all


def _import_page(request: HttpRequest, form: ImportForm, error: str = "", status: int = 200) -> HttpResponse:
    ctx = {
        "page": "import",
        "form": form,
        "upload_error": error,
        "vendors": Vendor.objects.values_list("name", flat=True)[:500],
    }
    return render(request, "certificates/intake/import.html", ctx, status=status)


@permission_required("certificates.claim_certificate", raise_exception=True)
def dry_run(request: HttpRequest, token: str) -> HttpResponse:
    path, meta = _upload_or_404(request, token)
    report = uploads.dry_run_file(path, default_vendor=meta["vendor"])
    mapping = report.columns.mapping if report.columns else []
    assert report.importer is not None  # a dry run always reads through an importer
    ctx = {
        "page": "import",
        "token": token,
        "meta": meta,
        "report": report,
        "columns": [(header, leads.FIELD_LABELS.get(name) if name else None) for header, name in mapping],
        "rows": [(row, OUTCOME_BADGES[row.status]) for row in report.importer.outcomes],
        "rejections": [(row.line, error) for row in report.importer.rejected for error in row.errors],
        "new_vendors": sorted(report.importer.new_vendor_names.values(), key=str.lower),
    }
    return render(request, "certificates/intake/dry_run.html", ctx)


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def confirm_import(request: HttpRequest, token: str) -> HttpResponse:
    new_vendors = request.POST.getlist("new_vendor")
    if new_vendors and not request.POST.get("confirm_new_vendors"):
        messages.error(
            request,
            f"The file names {len(new_vendors)} vendor{'' if len(new_vendors) == 1 else 's'} tfdash does not know "
            "yet: check the names below and tick the box to create them (or fix the file).",
        )
        return redirect("intake:dry-run", token=token)
    try:
        uploads.confirm_new_vendors(token, user_id=request.user.pk, names=new_vendors)
        batch, report = uploads.import_upload(token, user=request.user)
    except uploads.UploadNotFound:
        messages.info(request, "That upload was already imported or discarded; see the batches below.")
        return redirect("intake:batches")
    if report is None:
        messages.success(request, "Importing in the background: the rows appear below as they are read.")
    else:
        counts = report.counts
        messages.success(
            request,
            f"Imported {counts.new} new certificates ({counts.duplicates} duplicates, {counts.reused} reused, "
            f"{counts.rejected} rejected rows). Claiming has started.",
        )
    return redirect("intake:batch", pk=batch.pk)


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def discard_import(request: HttpRequest, token: str) -> HttpResponse:
    uploads.discard_upload(token)
    messages.info(request, "Discarded the upload; nothing was imported.")
    return redirect("intake:import")


@permission_required("certificates.view_certificate", raise_exception=True)
def batch_list(request: HttpRequest) -> HttpResponse:
    table = ImportBatchTable(ImportBatch.objects.select_related("created_by"))
    RequestConfig(request, paginate={"per_page": PER_PAGE, "paginator_class": LazyPaginator}).configure(table)
    return render(request, "certificates/intake/batch_list.html", {"page": "import", "table": table})


@permission_required("certificates.view_certificate", raise_exception=True)
def batch_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    batch = get_object_or_404(ImportBatch.objects.select_related("created_by", "intake_token"), pk=pk)
    table = RowErrorTable(batch.row_errors.all())
    RequestConfig(request, paginate={"per_page": PER_PAGE, "paginator_class": LazyPaginator}).configure(table)
    export = request.GET.get("_export")
    if export == "fix":
        # The whole rows, contacts included, to fix and import again: so the contact permission too.
        if not request.user.has_perms(["certificates.export_certificate", "certificates.view_lead_contact"]):
            raise PermissionDenied(
                "Downloading rejected rows to re-import needs the export and contact permissions."
            )
        response = StreamingHttpResponse(
            importer.rejected_rows_csv(batch), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-rejected-rows-to-fix.csv"'
        return response
    if SafeTableExport.is_valid_format(export):
        if not request.user.has_perm("certificates.export_certificate"):
            raise PermissionDenied("Exporting rejected rows needs the export permission.")
        return SafeTableExport(export, table).response(f"batch-{batch.pk}-rejected-rows.{export}")
    ctx = {
        "page": "import",
        **_progress_context(batch),
        "table": table,
        "uncancellable": batches.uncancellable(batch) if batch.cancelled_at else 0,
        "attention": list(
            Certificate.objects.filter(batch=batch, state__in=ATTENTION_STATES).order_by(
                "claim_deadline", "pk"
            )[:ATTENTION_ROWS]
        ),
    }
    return render(request, "certificates/intake/batch_detail.html", ctx)


@permission_required("certificates.view_certificate", raise_exception=True)
def batch_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The batch's progress: the page's progress section for htmx (which polls it), JSON for others."""
    batch = get_object_or_404(ImportBatch, pk=pk)
    if not request.headers.get("HX-Request"):
        return JsonResponse(batches.batch_progress(batch).as_json())
    response = render(request, "certificates/intake/_batch_progress.html", _progress_context(batch))
    if request.GET.get("reading") and not batch.still_reading:
        # The file was being read in the background and is done: reload the page once, for its
        # rejected rows and counts.
        response["HX-Refresh"] = "true"
    return response


def _progress_context(batch: ImportBatch) -> dict[str, Any]:
    progress = batches.batch_progress(batch)
    labels = dict(Certificate.State.choices)
    return {
        "batch": batch,
        "progress": progress,
        "progress_segments": _segments(progress),
        "states": [
            (state, labels[state].lower(), progress.counts[state]) for state in Certificate.State.values
        ],
        "list_url": f"{reverse('certificates:list')}?batch={batch.pk}",
    }


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def retry_batch(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(ImportBatch, pk=pk)
    count = batches.retry_failed(batch)
    if count:
        messages.success(request, f"Retrying {count} certificates that could not be claimed.")
    else:
        messages.info(request, "No certificate of this batch is in error; nothing to retry.")
    return redirect("intake:batch", pk=batch.pk)


@permission_required("certificates.claim_certificate", raise_exception=True)
def cancel_batch(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks, with the count; POST cancels. One click never cancels thousands of certificates."""
    batch = get_object_or_404(ImportBatch, pk=pk)
    if request.method != "POST":
        ctx = {"page": "import", "batch": batch, "preview": batches.preview_cancel(batch)}
        return render(request, "certificates/intake/cancel_batch.html", ctx)
    done = batches.cancel_batch(batch, user=request.user)
    text = (
        f"Cancelled {done.cancellable} certificate{'' if done.cancellable == 1 else 's'} of this batch: "
        "they will not be claimed. Claimed ones are kept."
    )
    if done.in_flight:
        text += (
            f" {done.in_flight} had a request out to TrustedForm already: their answers are recorded as they "
            "come back, and a retained one stays claimed."
        )
    messages.success(request, text + " Un-cancel puts them back in the queue while their windows are open.")
    return redirect("intake:batch", pk=batch.pk)


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def uncancel_batch(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(ImportBatch, pk=pk)
    count = batches.uncancel_batch(batch)
    messages.success(
        request,
        f"Un-cancelled: {count} certificate{'' if count == 1 else 's'} back in the queue. Those whose window "
        "closed meanwhile stay cancelled.",
    )
    return redirect("intake:batch", pk=batch.pk)


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def check_in_at_risk(request: HttpRequest) -> HttpResponse:
    check_in_at_risk_task.enqueue(user_id=request.user.pk)
    messages.success(
        request,
        "Checking in every certificate at risk in the background: each one's claim window is extended "
        "to 90 days as TrustedForm confirms it.",
    )
    return redirect("home")


@permission_required("certificates.manage_intake_tokens", raise_exception=True)
def token_list(request: HttpRequest) -> HttpResponse:
    form = IntakeTokenForm(request.POST or None)
    ctx = {"page": "import", "form": form, "raw_token": None, "new_token": None}
    if request.method == "POST" and form.is_valid():
        token, raw = tokens.issue_intake_token(
            name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"], user=request.user
        )
        # Rendered, not redirected: the raw token is shown in this one response and stored nowhere.
        ctx.update(raw_token=raw, new_token=token, form=IntakeTokenForm())
    ctx["tokens"] = IntakeToken.objects.select_related("created_by")
    response = render(request, "certificates/intake/tokens.html", ctx)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@permission_required("certificates.manage_intake_tokens", raise_exception=True)
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(IntakeToken, pk=pk)
    tokens.revoke_intake_token(token)
    messages.success(request, f"Revoked {token}. The lead system gets 401 with it from now on.")
    return redirect("intake:tokens")


def _upload_or_404(request: HttpRequest, token: str):
    try:
        return uploads.stored_upload(token, user_id=request.user.pk)
    except uploads.UploadNotFound:
        raise Http404("This upload was imported, discarded or has expired.") from None


def _segments(progress: batches.BatchProgress) -> list[tuple[str, float, float]]:
    """(state, x %, width %) for each finished state, one after the other."""
    segments, x = [], 0.0
    for state in FINISHED_STATES:
        width = progress.counts[state] * 100 / progress.total if progress.total else 0.0
        segments.append((str(state), round(x, 3), round(width, 3)))
        x += width
    return segments

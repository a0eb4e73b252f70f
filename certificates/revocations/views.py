"""The revocations page: record one, upload a CSV (dry run first), honour, export the suppression list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from certificates.exporting import stream_csv
from certificates.masking import CONTACT_PERMISSION
from certificates.revocations import recording
from certificates.revocations.forms import RevocationForm, RevocationUploadForm
from certificates.revocations.models import Revocation

RECORD_PERMISSION = "certificates.record_revocation"
# A revocation file is a list of people (about 10,000 rows per MB), not an import of leads; the dry-run
# page carries its text back for recording, so it stays small.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024


@permission_required(CONTACT_PERMISSION, raise_exception=True)
def revocation_list(request: HttpRequest) -> HttpResponse:
    """Open revocations by their deadline, then the honoured ones; record one here."""
    form = RevocationForm()
    if request.method == "POST":
        if not request.user.has_perm(RECORD_PERMISSION):
            raise PermissionDenied
        form = RevocationForm(request.POST)
        if form.is_valid():
            found, _ = recording.record_revocation(
                form.cleaned_data["clean"], user=request.user, source=Revocation.Source.PAGE
            )
            messages.success(request, f"Revocation recorded: honour it by {found.honour_by:%a %b %-d, %Y}.")
            return redirect("certificates:revocations")
    return _page(request, form=form, status=400 if form.errors else 200)


def _page(
    request: HttpRequest, *, form: RevocationForm | None = None, upload=None, read=None, status: int = 200
) -> HttpResponse:
    state = request.GET.get("state", "open")
    listed = Revocation.objects.select_related("recorded_by", "honoured_by")
    if state in Revocation.State.values:
        listed = listed.filter(state=state)
    ordered = (
        listed.order_by("honour_by", "id")
        if state == Revocation.State.OPEN
        else listed.order_by("-revoked_at", "-id")
    )
    ctx = {
        "page": "revocations",
        "revocations": ordered[:300],
        "state": state,
        "counts": recording.due_soon(),
        "today": timezone.localdate(),
        "form": form or RevocationForm(),
        "upload": upload or RevocationUploadForm(),
        "read": read,
    }
    return render(request, "certificates/revocations.html", ctx, status=status)


@require_POST
@permission_required((RECORD_PERMISSION, CONTACT_PERMISSION), raise_exception=True)
def revocation_upload(request: HttpRequest) -> HttpResponse:
    """A CSV of revocations: the dry run shows what would be recorded and every bad row with its line and
    reason; recording takes the good rows (the bad ones stay on the page to fix and upload again)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_UPLOAD_BYTES:
        messages.error(request, f"That file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it.")
        return redirect("certificates:revocations")
    upload = RevocationUploadForm(request.POST, request.FILES)
    if not upload.is_valid():
        return _page(request, upload=upload, status=400)
    read = recording.read_revocation_csv(upload.cleaned_data["text"])
    if read.missing_columns:
        upload.add_error(
            "file",
            f"The header row lacks: {', '.join(read.missing_columns)}. Columns: phone, email, revoked_at, channel, note.",
        )
        return _page(request, upload=upload, status=400)
    if request.POST.get("record") == "yes":
        recording.import_revocations(read, user=request.user)
        read.recorded_now = True
        messages.success(
            request,
            f"Recorded {read.recorded} revocation{'s' if read.recorded != 1 else ''}"
            + (f" ({read.already} already on record)" if read.already else "")
            + (
                f"; {len({p.line for p in read.problems})} rows were not recorded (below)."
                if read.problems
                else "."
            ),
        )
        upload = RevocationUploadForm()
    else:
        upload = RevocationUploadForm(initial={"text": upload.cleaned_data["text"]})
    return _page(request, upload=upload, read=read, status=200)


@require_POST
@permission_required(RECORD_PERMISSION, raise_exception=True)
def revocation_honour(request: HttpRequest, pk: int) -> HttpResponse:
    revocation = get_object_or_404(Revocation, pk=pk)
    try:
        recording.honour(revocation, user=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Marked honoured: {revocation}.")
    return redirect("certificates:revocations")


@permission_required(CONTACT_PERMISSION, raise_exception=True)
def suppression_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every phone and email with a revocation, once each, for the dialer's do-not-call list."""
    return stream_csv(recording.suppression_rows(), f"suppression-{timezone.localdate():%Y%m%d}")

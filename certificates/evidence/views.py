"""Evidence pages: one certificate's package, and the packages of filtered sets built in the background."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from certificates.evidence import discovery, holds, packages
from certificates.evidence.forms import DiscoveryForm, HoldForm, ReleaseForm
from certificates.evidence.models import DiscoveryRequest, EvidenceExport, LegalHold
from certificates.evidence.timestamps import TimestampError
from certificates.masking import CONTACT_PERMISSION
from certificates.models import Certificate

# Evidence carries the lead's full email and phone: a masked copy would mislead whoever relies on it,
# so a role that may not see contacts gets no evidence package rather than a masked one.
EVIDENCE_PERMISSIONS = ("certificates.export_certificate", CONTACT_PERMISSION)


@permission_required(EVIDENCE_PERMISSIONS, raise_exception=True)
def evidence_package(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = get_object_or_404(Certificate, pk=pk)
    try:
        package = packages.certificate_package(certificate)
    except TimestampError as exc:
        messages.error(request, f"The evidence package was not made: {exc} Try again, or ask an admin.")
        return redirect(certificate)
    response = HttpResponse(package, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{packages.package_name(certificate)}"'
    return response


@permission_required(EVIDENCE_PERMISSIONS, raise_exception=True)
def evidence_exports(request: HttpRequest) -> HttpResponse:
    exports = EvidenceExport.objects.filter(created_by_id=request.user.pk)[:50]
    running = any(e.state in (EvidenceExport.State.QUEUED, EvidenceExport.State.RUNNING) for e in exports)
    ctx = {"page": "exports", "exports": exports, "running": running}
    if request.headers.get("HX-Request"):
        return render(request, "certificates/_evidence_exports_table.html", ctx)
    return render(request, "certificates/evidence_exports.html", ctx)


@require_POST
@permission_required(EVIDENCE_PERMISSIONS, raise_exception=True)
def evidence_export_start(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("query", "")
    export = packages.start_evidence_export(user=request.user, query=query)
    messages.success(
        request, f"Evidence package #{export.pk} is being built. It appears here when it is ready."
    )
    return redirect("certificates:exports")


@permission_required(EVIDENCE_PERMISSIONS, raise_exception=True)
def evidence_export_download(request: HttpRequest, pk: int) -> FileResponse:
    export = get_object_or_404(EvidenceExport, pk=pk, created_by=request.user)
    path = packages.done_file(export.state == EvidenceExport.State.DONE, export.file_path)
    if path is None:
        raise Http404("This evidence package is not ready.")
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type="application/zip"
    )


# --- Legal holds ----------------------------------------------------------------------------------------

HOLD_PERMISSION = "certificates.manage_legal_hold"


@permission_required("certificates.view_legalhold", raise_exception=True)
def hold_list(request: HttpRequest) -> HttpResponse:
    """Every hold (open first) with its size; a manager places a new one here."""
    can_manage = request.user.has_perm(HOLD_PERMISSION)
    form = HoldForm(initial={"query": request.GET.get("query", "")}) if can_manage else None
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        form = HoldForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            hold = holds.place_hold(
                name=data["name"],
                description=data["description"],
                user=request.user,
                phone=data["phone"],
                email=data["email"],
                vendor=data["vendor"],
                reference=data["reference"],
                received_from=discovery.day_start(data["since"]) if data["since"] else None,
                received_until=discovery.day_start(data["until"] + timedelta(days=1))
                if data["until"]
                else None,
                query=data["query"],
            )
            messages.success(
                request, f"Hold “{hold.name}” placed on {hold.memberships.count():,} certificates."
            )
            return redirect(hold)
    listed = LegalHold.objects.annotate(held=Count("memberships")).select_related("placed_by", "released_by")
    ctx = {
        "page": "holds",
        "holds": listed.order_by(F("released_at").asc(nulls_first=True), "-placed_at")[:200],
        "form": form,
    }
    return render(
        request, "certificates/holds.html", ctx, status=400 if form is not None and form.errors else 200
    )


@permission_required("certificates.view_legalhold", raise_exception=True)
def hold_detail(request: HttpRequest, pk: int) -> HttpResponse:
    hold = get_object_or_404(LegalHold.objects.select_related("placed_by", "released_by", "vendor"), pk=pk)
    form = ReleaseForm()
    if request.method == "POST":
        if not request.user.has_perm(HOLD_PERMISSION):
            raise PermissionDenied
        form = ReleaseForm(request.POST)
        if form.is_valid():
            try:
                holds.release_hold(hold, user=request.user, reason=form.cleaned_data["reason"])
            except ValueError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request,
                    f"Hold “{hold.name}” released. Its certificates are held only by other holds now.",
                )
            return redirect(hold)
    ctx = {
        "page": "holds",
        "hold": hold,
        "held": hold.memberships.count(),
        "joined_later": hold.memberships.filter(joined_at__gt=hold.placed_at + timedelta(minutes=1)).count(),
        "history": hold.history.select_related("history_user").order_by("-history_date")[:20],
        "form": form,
    }
    return render(request, "certificates/hold.html", ctx, status=400 if form.errors else 200)


# --- Discovery requests -----------------------------------------------------------------------------------

DISCOVERY_PERMISSIONS = (HOLD_PERMISSION, *EVIDENCE_PERMISSIONS)


@permission_required(DISCOVERY_PERMISSIONS, raise_exception=True)
def discovery_list(request: HttpRequest) -> HttpResponse:
    form = DiscoveryForm()
    if request.method == "POST":
        form = DiscoveryForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            found = discovery.start_discovery(
                user=request.user, hold_name=data["hold_name"], phone=data["phone"], email=data["email"],
                vendor=data["vendor"], since=data["since"], until=data["until"],
            )  # fmt: skip
            messages.success(
                request, f"Discovery request #{found.pk} is being built; it appears below when ready."
            )
            return redirect("certificates:discovery")
    requests = DiscoveryRequest.objects.select_related("requested_by", "vendor", "hold")[:50]
    running = any(
        r.state in (DiscoveryRequest.State.QUEUED, DiscoveryRequest.State.RUNNING) for r in requests
    )
    ctx = {"page": "discovery", "requests": requests, "running": running, "form": form}
    if request.headers.get("HX-Request"):
        return render(request, "certificates/_discovery_table.html", ctx)
    return render(request, "certificates/discovery.html", ctx, status=400 if form.errors else 200)


@permission_required(DISCOVERY_PERMISSIONS, raise_exception=True)
def discovery_download(request: HttpRequest, pk: int) -> FileResponse:
    found = get_object_or_404(DiscoveryRequest, pk=pk)
    path = packages.done_file(found.state == DiscoveryRequest.State.DONE, found.file_path)
    if path is None:
        raise Http404("This discovery package is not ready.")
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type="application/zip"
    )

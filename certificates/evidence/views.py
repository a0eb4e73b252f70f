"""Evidence pages: one certificate's package, and the packages of filtered sets built in the background."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from certificates.evidence import packages
from certificates.evidence.models import EvidenceExport
from certificates.masking import CONTACT_PERMISSION
from certificates.models import Certificate

# Evidence carries the lead's full email and phone: a masked copy would mislead whoever relies on it,
# so a role that may not see contacts gets no evidence package rather than a masked one.
EVIDENCE_PERMISSIONS = ("certificates.export_certificate", CONTACT_PERMISSION)


@permission_required(EVIDENCE_PERMISSIONS, raise_exception=True)
def evidence_package(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = get_object_or_404(Certificate, pk=pk)
    response = HttpResponse(packages.certificate_package(certificate), content_type="application/zip")
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
    path = packages.export_file(export)
    if path is None:
        raise Http404("This evidence package is not ready.")
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type="application/zip"
    )

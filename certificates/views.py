import contextlib
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin

from certificates import checking_in, claiming, correcting, exporting, reviewing, worker
from certificates.evidence.models import on_hold
from certificates.evidence.packages import LOCAL_COPY, share_url
from certificates.filters import CertificateFilter
from certificates.forms import BulkReviewForm, ClaimForm, ClaimSelectedForm, LeadCorrectionForm, ReviewForm
from certificates.intake.leads import intake_lead, vendor_named
from certificates.masking import may_see_contact
from certificates.models import Certificate, Review, Vendor
from certificates.next_steps import next_step
from certificates.paginators import LazyPaginator
from certificates.reports import scorecards
from certificates.revocations.models import revoked
from certificates.revocations.recording import due_soon, revocations_for
from certificates.tables import CertificateTable, ReviewQueueTable
from certificates.templatetags.tfdash_format import when
from trustedform import TrustedFormError

PER_PAGE = 50


@permission_required("certificates.view_certificate", raise_exception=True)
def home(request: HttpRequest) -> HttpResponse:
    counts = dict(Certificate.objects.values_list("state").annotate(n=Count("id")))
    ctx = {
        "page": "home",
        "counts": {state: counts.get(state, 0) for state in Certificate.State.values},
        "at_risk": Certificate.objects.at_risk().count(),
        "to_review": reviewing.count_waiting(),
        "revocations": due_soon() if request.user.has_perm("certificates.view_lead_contact") else None,
    }
    if request.user.has_perm("certificates.view_vendordayrollup"):
        ctx["report_summary"] = scorecards.home_summary()
    return render(request, "certificates/home.html", ctx)


class CertificateListView(PermissionRequiredMixin, SingleTableMixin, FilterView):
    """Find certificates: filters in the URL, sortable indexed columns, CSV/XLSX of the filtered set.

    A CBV because SingleTableMixin + FilterView wire the filter, the table and its pagination for us.
    Exports bypass django-tables2's ExportMixin: it builds the whole set in memory (docs/architecture.md, "Library notes").
    """

    permission_required = "certificates.view_certificate"
    raise_exception = True
    table_class = CertificateTable
    filterset_class = CertificateFilter
    template_name = "certificates/list.html"
    # LazyPaginator: no COUNT(*) over the whole table per page view; never paginate_by.
    table_pagination = {"paginator_class": LazyPaginator, "per_page": PER_PAGE}
    # Built once per process: get_queryset hands each request a copy (.all()), never this one's rows.
    # Building the two EXISTS annotations cost about 0.5 ms a page.
    queryset = Certificate.objects.select_related("vendor").annotate(on_hold=on_hold(), revoked=revoked())

    def get_table_data(self) -> QuerySet[Certificate]:
        # The page's rows need only the columns they show; exports (below) load every column.
        return super().get_table_data().only(*CertificateTable.ROW_FIELDS)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        export_format = request.GET.get("_export")
        if export_format in ("csv", "xlsx"):
            return self.export(export_format)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), "page": "certificates"}

    def export(self, export_format: str) -> HttpResponseBase:
        if not self.request.user.has_perm("certificates.export_certificate"):
            raise PermissionDenied("Exporting certificates needs the export permission.")
        filterset = self.get_filterset(self.get_filterset_class())
        rows = filterset.qs if filterset.is_valid() else Certificate.objects.none()
        # The table applies the same sort as the page the user is looking at.
        table = self.get_table_class()(rows)
        RequestConfig(self.request, paginate=False).configure(table)
        ordered = table.data.data
        show_contact = may_see_contact(self.request.user)
        if export_format == "csv":
            return exporting.csv_response(ordered, "certificates", show_contact=show_contact)
        try:
            return exporting.xlsx_response(ordered, "certificates", show_contact=show_contact)
        except exporting.TooManyRows as exc:
            messages.error(self.request, str(exc))
            query = self.request.GET.copy()
            query.pop("_export", None)
            return redirect(f"{reverse('certificates:list')}?{query.urlencode()}")


certificate_list = CertificateListView.as_view()


@permission_required("certificates.claim_certificate", raise_exception=True)
def claim(request: HttpRequest) -> HttpResponse:
    form = ClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        vendor = vendor_named(data["vendor"])
        intake = intake_lead(
            data["cert_url"],
            vendor=vendor,
            email=data["email"],
            phone=data["phone"],
            reference=data["reference"],
        )
        certificate = intake.certificate
        if not intake.created and not certificate.is_final and (data["email"] or data["phone"]):
            # The same lead sent again with what it lacked (an email or phone): a correction, kept as one.
            # A request out for it right now makes this NotCorrectable: the claim below reports that.
            with contextlib.suppress(correcting.NotCorrectable):
                correcting.correct_lead(
                    certificate,
                    user=request.user,
                    lead_email=data["email"] or certificate.lead_email,
                    lead_phone=data["phone"] or certificate.lead_phone,
                    reference=data["reference"] or certificate.reference,
                    vendor=certificate.vendor,
                )
        return _claim_and_redirect(request, certificate)
    ctx = {"page": "claim", "form": form, "vendors": Vendor.objects.values_list("name", flat=True)[:500]}
    return render(request, "certificates/claim.html", ctx)


@permission_required("certificates.view_certificate", raise_exception=True)
def certificate_detail(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = get_object_or_404(Certificate.objects.select_related("vendor"), pk=pk)
    return render(request, "certificates/detail.html", _detail_context(request, certificate))


def _detail_context(
    request: HttpRequest,
    certificate: Certificate,
    review_form: ReviewForm | None = None,
    correction_form: LeadCorrectionForm | None = None,
) -> dict:
    claims = list(certificate.claims.select_related("claimed_by", "api_call"))  # api_call: the version sent
    holds = list(
        certificate.hold_memberships.select_related("hold").order_by("hold__released_at", "-joined_at")
    )
    return {
        "page": "certificates",
        "certificate": certificate,
        "next_step": next_step(certificate, claims[0] if claims else None),
        "correction_form": correction_form or LeadCorrectionForm.for_certificate(certificate),
        "corrections": list(certificate.corrections.select_related("changed_by")[:20]),
        "vendors": Vendor.objects.values_list("name", flat=True)[:500],
        "latest_claim": claims[0] if claims else None,
        "claims": claims,
        "check_ins": list(certificate.check_ins.select_related("checked_in_by")),
        "reviews": list(certificate.reviews.select_related("reviewer")),
        "review_form": review_form or ReviewForm(),
        "api_calls": list(certificate.api_calls.select_related("triggered_by"))
        if request.user.has_perm("certificates.view_api_log")
        else None,
        "holds": holds,
        "on_hold": any(m.hold.released_at is None for m in holds),
        "revocations": list(revocations_for(certificate)),
        "local_copy": LOCAL_COPY,
        "share_url": next((url for c in claims if (url := share_url(c.raw_response))), ""),
        "retention_years": settings.RETENTION_YEARS,
    }


@require_POST
@permission_required("certificates.review_certificate", raise_exception=True)
def review(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = get_object_or_404(Certificate.objects.select_related("vendor"), pk=pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return render(
            request, "certificates/detail.html", _detail_context(request, certificate, form), status=400
        )
    done = reviewing.review_certificate(certificate, reviewer=request.user, **form.cleaned_data)
    messages.success(request, f"{done.get_decision_display()}, with your note.")
    return redirect(certificate)


@permission_required("certificates.review_certificate", raise_exception=True)
def review_queue(request: HttpRequest) -> HttpResponse:
    """Open reviews, oldest first; accept or reject one or several with one note."""
    form = BulkReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        count = reviewing.review_certificates(
            data["certificates"], reviewer=request.user, decision=data["decision"], note=data["note"]
        )
        verb = Review.Decision(data["decision"]).label.lower()
        messages.success(request, f"{count} certificate{'' if count == 1 else 's'} {verb}, with your note.")
        return redirect("certificates:review-queue")
    # One row more than a page says whether more are waiting, without counting them.
    rows = reviewing.review_queue(reviewing.QUEUE_PAGE + 1)
    table = ReviewQueueTable(rows[: reviewing.QUEUE_PAGE])
    RequestConfig(request, paginate=False).configure(table)  # the request's user decides the masking
    ctx = {"page": "review", "table": table, "form": form, "more": len(rows) > reviewing.QUEUE_PAGE}
    return render(request, "certificates/review_queue.html", ctx, status=400 if form.errors else 200)


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def claim_now(request: HttpRequest, pk: int) -> HttpResponse:
    return _claim_and_redirect(request, get_object_or_404(Certificate, pk=pk))


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def claim_selected(request: HttpRequest) -> HttpResponse:
    form = ClaimSelectedForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Tick the certificates to claim first.")
        return redirect(form.back_to())
    done = worker.queue_claims(form.cleaned_data["certificates"])
    parts = [f"{done.queued} queued: the worker claims them now, each once"]
    if done.in_flight:
        parts.append(f"{done.in_flight} already being claimed (not sent again)")
    if done.final:
        parts.append(f"{done.final} already have a final answer (not claimed again: claims are billed)")
    messages.success(request, "; ".join(parts) + ".")
    return redirect(form.back_to())


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def correct_lead(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = get_object_or_404(Certificate.objects.select_related("vendor"), pk=pk)
    form = LeadCorrectionForm(request.POST)
    if not form.is_valid():
        ctx = _detail_context(request, certificate, correction_form=form)
        return render(request, "certificates/detail.html", ctx, status=400)
    data = form.cleaned_data
    try:
        done = correcting.correct_lead(
            certificate,
            user=request.user,
            lead_email=data["lead_email"],
            lead_phone=data["lead_phone"],
            reference=data["reference"],
            vendor=vendor_named(data["vendor"]),
        )
    except correcting.NotCorrectable as exc:
        messages.error(request, f"Not changed. {exc}")
    else:
        if done is None:
            messages.info(request, "Nothing changed.")
        elif done.requeued:
            messages.success(
                request, "Lead corrected. The certificate is back in the queue and is claimed now."
            )
        else:
            messages.warning(request, f"Lead corrected, but it is still on hold: {certificate.state_reason}")
    return redirect(certificate)


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def check_in(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = get_object_or_404(Certificate, pk=pk)
    try:
        done = checking_in.check_in_certificate(certificate, user=request.user)
    except (claiming.AlreadyFinal, claiming.LeaseHeld, claiming.Fenced, TrustedFormError) as exc:
        messages.error(request, f"Not checked in. {exc}")
    else:
        messages.success(request, f"Checked in: the claim window now runs until {when(done.extended_until)}.")
    return redirect(certificate)


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def view_again(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = get_object_or_404(Certificate, pk=pk)
    try:
        claiming.view_claim_again(certificate, user=request.user)
    except (claiming.LeaseHeld, claiming.Fenced) as exc:
        messages.info(request, f"Not fetched. {exc}")
    except TrustedFormError as exc:
        messages.error(request, f"Could not fetch the claim again. {exc}")
    else:
        messages.success(request, "Fetched TrustedForm's answer again and stored it.")
    return redirect(certificate)


def _claim_and_redirect(request: HttpRequest, certificate: Certificate) -> HttpResponse:
    try:
        claim = claiming.claim_certificate(certificate, user=request.user)
    except claiming.AlreadyFinal as exc:
        messages.info(
            request, f"Not claimed again: {exc} Claims are billed, so tfdash claims each certificate once."
        )
    except (claiming.LeaseHeld, claiming.Fenced) as exc:
        messages.info(request, f"Not sent again: {exc} Claims are billed, so tfdash sends each claim once.")
    except claiming.ClaimingPaused as exc:
        messages.error(
            request, f"Claiming is paused for the account: {exc} The certificate is kept as pending."
        )
    except TrustedFormError as exc:
        messages.error(request, f"Not claimed. {exc}" + (" tfdash will try again." if exc.retryable else ""))
    else:
        messages.success(request, f"Claimed: outcome {claim.outcome}.")
    return redirect(certificate)

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_tables2 import LazyPaginator, RequestConfig

from certificates import claiming
from certificates.forms import ClaimForm
from certificates.importing import intake_lead, vendor_named
from certificates.models import ApiCall, Certificate, Vendor
from certificates.tables import ApiCallTable, CertificateTable
from certificates.trustedform import TrustedFormError

PER_PAGE = 50


def home(request: HttpRequest) -> HttpResponse:
    counts = dict(Certificate.objects.values_list("state").annotate(n=Count("id")))
    ctx = {
        "page": "home",
        "counts": {state: counts.get(state, 0) for state in Certificate.State.values},
        "at_risk": Certificate.objects.at_risk().count(),
    }
    return render(request, "certificates/home.html", ctx)


@permission_required("certificates.view_certificate", raise_exception=True)
def certificate_list(request: HttpRequest) -> HttpResponse:
    table = CertificateTable(Certificate.objects.select_related("vendor"))
    # LazyPaginator: no COUNT(*) over the whole table per page view (ecosystem.md §2.2).
    RequestConfig(request, paginate={"per_page": PER_PAGE, "paginator_class": LazyPaginator}).configure(table)
    return render(request, "certificates/list.html", {"page": "certificates", "table": table})


@permission_required("certificates.claim_certificate", raise_exception=True)
def claim(request: HttpRequest) -> HttpResponse:
    form = ClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        intake = intake_lead(
            data["cert_url"],
            vendor=vendor_named(data["vendor"]),
            email=data["email"],
            phone=data["phone"],
            reference=data["reference"],
        )
        return _claim_and_redirect(request, intake.certificate)
    ctx = {"page": "claim", "form": form, "vendors": Vendor.objects.values_list("name", flat=True)[:500]}
    return render(request, "certificates/claim.html", ctx)


@permission_required("certificates.view_certificate", raise_exception=True)
def certificate_detail(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = get_object_or_404(Certificate.objects.select_related("vendor"), pk=pk)
    claims = list(certificate.claims.select_related("claimed_by"))
    ctx = {
        "page": "certificates",
        "certificate": certificate,
        "latest_claim": claims[0] if claims else None,
        "claims": claims,
        "check_ins": certificate.check_ins.select_related("checked_in_by"),
        "api_calls": certificate.api_calls.select_related("triggered_by")
        if request.user.has_perm("certificates.view_api_log")
        else None,
    }
    return render(request, "certificates/detail.html", ctx)


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def claim_now(request: HttpRequest, pk: int) -> HttpResponse:
    return _claim_and_redirect(request, get_object_or_404(Certificate, pk=pk))


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def check_in(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = get_object_or_404(Certificate, pk=pk)
    try:
        done = claiming.check_in_certificate(certificate, user=request.user)
    except (claiming.AlreadyFinal, TrustedFormError) as exc:
        messages.error(request, f"Not checked in. {exc}")
    else:
        messages.success(
            request, f"Checked in: the claim window now runs until {done.extended_until:%b %d, %H:%M} UTC."
        )
    return redirect(certificate)


@require_POST
@permission_required("certificates.claim_certificate", raise_exception=True)
def view_again(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = get_object_or_404(Certificate, pk=pk)
    try:
        claiming.view_claim_again(certificate, user=request.user)
    except TrustedFormError as exc:
        messages.error(request, f"Could not fetch the claim again. {exc}")
    else:
        messages.success(request, "Fetched TrustedForm's answer again and stored it.")
    return redirect(certificate)


@permission_required("certificates.view_api_log", raise_exception=True)
def api_call_list(request: HttpRequest) -> HttpResponse:
    table = ApiCallTable(ApiCall.objects.select_related("certificate", "triggered_by"))
    RequestConfig(request, paginate={"per_page": PER_PAGE, "paginator_class": LazyPaginator}).configure(table)
    return render(request, "certificates/api_calls.html", {"page": "api_calls", "table": table})


@permission_required("certificates.view_api_log", raise_exception=True)
def api_call_detail(request: HttpRequest, pk: int) -> HttpResponse:
    call = get_object_or_404(ApiCall.objects.select_related("certificate", "triggered_by"), pk=pk)
    return render(request, "certificates/api_call_detail.html", {"page": "api_calls", "call": call})


def _claim_and_redirect(request: HttpRequest, certificate: Certificate) -> HttpResponse:
    try:
        claim = claiming.claim_certificate(certificate, user=request.user)
    except claiming.AlreadyFinal as exc:
        messages.info(
            request, f"Not claimed again: {exc} Claims are billed, so tfdash claims each certificate once."
        )
    except claiming.ClaimingPaused as exc:
        messages.error(
            request, f"Claiming is paused for the account: {exc} The certificate is kept as pending."
        )
    except TrustedFormError as exc:
        messages.error(request, f"Not claimed. {exc}" + (" tfdash will try again." if exc.retryable else ""))
    else:
        messages.success(request, f"Claimed: outcome {claim.outcome}.")
    return redirect(certificate)

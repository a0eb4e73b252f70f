"""The API-call log's pages: every call, newest first, and one call with its bodies."""

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django_tables2 import RequestConfig

from certificates.apilog.models import ApiCall
from certificates.apilog.tables import ApiCallTable
from certificates.paginators import LazyPaginator

PER_PAGE = 50


@permission_required("certificates.view_api_log", raise_exception=True)
def api_call_list(request: HttpRequest) -> HttpResponse:
    table = ApiCallTable(ApiCall.objects.select_related("certificate", "triggered_by"))
    RequestConfig(request, paginate={"per_page": PER_PAGE, "paginator_class": LazyPaginator}).configure(table)
    return render(request, "certificates/api_calls.html", {"page": "api_calls", "table": table})


@permission_required("certificates.view_api_log", raise_exception=True)
def api_call_detail(request: HttpRequest, pk: int) -> HttpResponse:
    call = get_object_or_404(ApiCall.objects.select_related("certificate", "triggered_by"), pk=pk)
    resolved_by = None
    if call.awaiting_answer and call.certificate_id:
        resolved_by = (
            ApiCall.objects.filter(certificate_id=call.certificate_id, seq__gt=call.seq)
            .order_by("seq")
            .first()
        )
    ctx = {"page": "api_calls", "call": call, "resolved_by": resolved_by}
    return render(request, "certificates/api_call_detail.html", ctx)

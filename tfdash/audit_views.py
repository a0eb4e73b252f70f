"""The audit page (admins): recent changes across the audited models, and the API-call log's chain check."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from certificates.paginators import LazyPaginator
from tfdash import audit
from tfdash.forms import AuditFilterForm
from tfdash.tables import AuditTable

PER_PAGE = 50
AUDIT_PERMISSION = "tfdash.view_audit"


@permission_required(AUDIT_PERMISSION, raise_exception=True)
def audit_page(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    user = filters.get("user")
    rows = audit.recent_changes(model=filters.get("model") or "", user_id=user.pk if user else None)
    table = AuditTable(rows)
    # LazyPaginator: no COUNT over every history table; only the page's rows are described.
    RequestConfig(request, paginate={"per_page": PER_PAGE, "paginator_class": LazyPaginator}).configure(table)
    records = [row.record for row in table.page.object_list]
    for record, change in zip(records, audit.describe(records), strict=True):
        record["change"] = change
    ctx = {
        "page": "audit",
        "form": form,
        "table": table,
        "verification": audit.last_verification(),
    }
    return render(request, "audit.html", ctx)


@require_POST
@permission_required(AUDIT_PERMISSION, raise_exception=True)
def verify_api_log(request: HttpRequest) -> HttpResponse:
    verification, queued = audit.request_verification(request.user)
    if queued:
        messages.success(request, "Checking the API-call log's chain; the result appears below when done.")
    else:
        messages.info(request, "A check of the API-call log is already running; its result appears below.")
    return redirect("audit")

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from certificates import claiming
from certificates.models import AccountStatus
from certificates.trustedform import INSIGHTS_PROPERTIES


@permission_required("certificates.manage_account", raise_exception=True)
def settings_page(request: HttpRequest) -> HttpResponse:
    """What tfdash sends to TrustedForm, and with which account; never the key itself."""
    ctx = {
        "page": "settings",
        "api_version": settings.TRUSTEDFORM_API_VERSION,
        "api_base": settings.TRUSTEDFORM_API_BASE,
        "allowed_hosts": settings.TRUSTEDFORM_ALLOWED_HOSTS,
        "key_is_set": bool(settings.TRUSTEDFORM_API_KEY),
        "insights_properties": settings.TRUSTEDFORM_INSIGHTS_PROPERTIES,
        "all_insights_properties": INSIGHTS_PROPERTIES,
        "claim_threads": settings.CLAIM_THREADS,
        "status": AccountStatus.current(),
    }
    return render(request, "settings.html", ctx)


@require_POST
@permission_required("certificates.manage_account", raise_exception=True)
def resume_claiming(request: HttpRequest) -> HttpResponse:
    claiming.resume_claiming(user=request.user)
    messages.success(request, "Claiming resumed. Pending certificates will be claimed by the worker.")
    return redirect("settings")

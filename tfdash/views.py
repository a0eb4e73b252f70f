from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from certificates import pausing
from certificates.evidence import retention
from certificates.models import AccountStatus, LegalHold, RetentionRun
from tfdash.roles import ADMIN, ROLE_PERMISSIONS, ROLES
from trustedform import INSIGHTS_PROPERTIES


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
        "retention_years": settings.RETENTION_YEARS,
        "retention_last": RetentionRun.objects.filter(dry_run=False).first(),
        "retention_next": retention.next_run(),
        "open_holds": LegalHold.objects.filter(released_at__isnull=True).count(),
        "timestamp_authority": settings.TIMESTAMP_AUTHORITY_URL,
    }
    return render(request, "settings.html", ctx)


@require_POST
@permission_required("certificates.manage_account", raise_exception=True)
def resume_claiming(request: HttpRequest) -> HttpResponse:
    pausing.resume_claiming(user=request.user)
    messages.success(request, "Claiming resumed. Pending certificates will be claimed by the worker.")
    return redirect("settings")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 403 page: what was refused, which role would open it, and who can grant roles."""
    user = request.user
    ctx: dict = {"reason": str(exception or "")}
    if user.is_authenticated:  # admins' names are for colleagues, not for anyone who asks
        match = request.resolver_match
        missing = [p for p in _permissions_of(match.func if match else None) if not user.has_perm(p)]
        ctx |= {
            "roles": [g.name for g in user.groups.all()],
            "needed_role": _role_with(missing) if missing else "",
            "admins": [
                u.get_full_name() or u.get_username()
                for u in get_user_model()
                .objects.filter(is_active=True, groups__name=ADMIN)
                .order_by("username")[:10]
            ],
        }
    return render(request, "403.html", ctx, status=403)


def _permissions_of(view: Callable | None) -> tuple[str, ...]:
    """The permissions a view is guarded by, when it says: a class view's `permission_required`, or
    Django's permission_required() decorator, which keeps them only in the closure of its check."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        perms = getattr(view_class, "permission_required", None) or ()
        return (perms,) if isinstance(perms, str) else tuple(perms)
    while view is not None:
        for cell in view.__closure__ or ():
            check = cell.cell_contents
            if getattr(check, "__name__", "") == "check_perms":
                for inner in check.__closure__ or ():
                    value = inner.cell_contents
                    if isinstance(value, tuple) and all(isinstance(p, str) for p in value):
                        return value
        view = getattr(view, "__wrapped__", None)
    return ()


def _role_with(perms: list[str]) -> str:
    """The least role that holds all of these permissions ("" when none does)."""
    return next((role for role in ROLES if set(perms) <= set(ROLE_PERMISSIONS[role])), "")

"""Login lockouts (django-axes): the page a locked-out user sees, and the admins' list to unlock."""

from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST


@login_not_required
def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: say plainly that the account is locked, why, and until when."""
    cool_off = settings.AXES_COOLOFF_TIME
    ctx = {
        "username": (credentials or {}).get("username") or request.POST.get("username", ""),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(cool_off.total_seconds() // 60),
        # Each attempt during a lockout restarts the wait (axes' default), this one included.
        "until": timezone.localtime() + cool_off,
    }
    return render(request, "registration/locked_out.html", ctx, status=429)


def current_lockouts():
    """Name/address pairs locked out now: enough failures, the last one within the cool-off time."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
    ).order_by("-attempt_time")


@permission_required("auth.change_user", raise_exception=True)
def lockout_list(request: HttpRequest) -> HttpResponse:
    lockouts = [
        {"attempt": attempt, "until": attempt.attempt_time + settings.AXES_COOLOFF_TIME}
        for attempt in current_lockouts()
    ]
    ctx = {
        "page": "lockouts",
        "lockouts": lockouts,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "accounts/locked.html", ctx)


@require_POST
@permission_required("auth.change_user", raise_exception=True)
def unlock(request: HttpRequest, pk: int) -> HttpResponse:
    attempt = get_object_or_404(AccessAttempt, pk=pk)
    reset(ip=attempt.ip_address, username=attempt.username)
    messages.success(
        request, f"Unlocked {attempt.username} from {attempt.ip_address}: they can log in again."
    )
    return redirect("lockouts")

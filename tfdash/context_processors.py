from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from certificates.models import AccountStatus


def navigation(request: HttpRequest) -> dict:
    """The paused-account banner, on every page for a logged-in user (read once per request)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    if not hasattr(request, "_account_status"):
        request._account_status = SimpleLazyObject(AccountStatus.current)  # type: ignore[attr-defined]
    return {"account_status": request._account_status}  # type: ignore[attr-defined]

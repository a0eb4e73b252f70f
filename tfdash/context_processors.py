from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from certificates.alerts.raising import open_alert_count
from certificates.models import AccountStatus
from tfdash.authcache import role_names


def navigation(request: HttpRequest) -> dict[str, object]:
    """The paused-account banner and the open-alerts count, on every page for a logged-in user (each
    read once per request, and only if the page shows it)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    if not hasattr(request, "_account_status"):
        request._account_status = SimpleLazyObject(AccountStatus.current)  # type: ignore[attr-defined]
    return {
        "account_status": request._account_status,  # type: ignore[attr-defined]
        "open_alerts": SimpleLazyObject(open_alert_count),
        "user_roles": SimpleLazyObject(lambda: role_names(request.user)),
    }

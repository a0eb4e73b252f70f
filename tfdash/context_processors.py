from django.http import HttpRequest

from certificates.models import AccountStatus


def navigation(request: HttpRequest) -> dict:
    """The paused-account banner, on every page for a logged-in user."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"account_status": AccountStatus.current()}

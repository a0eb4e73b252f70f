"""Login protection: django-axes' lockout check, for logins that come through a request."""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the trusted proxies saw it (AXES_CLIENT_IP_CALLABLE).

    Each of the AXES_IPWARE_PROXY_COUNT proxies appends the address it received from to
    X-Forwarded-For, so the client is the Nth entry from the right; anything further left was written
    by the client and is ignored. (django-ipware counts differently: with one proxy it finds no client.)
    """
    remote = request.META.get("REMOTE_ADDR")
    hops = settings.AXES_IPWARE_PROXY_COUNT
    if not hops:
        return remote
    forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
    return forwarded[-hops] if len(forwarded) >= hops else remote


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a locked-out user name/address pair (raising PermissionDenied, so no backend after it runs).

    Axes needs the request to know the client's address. Every login over HTTP passes it (the login
    page, the admin); `authenticate()` without a request can only come from code running inside the
    deployment (a shell, the test client), which no remote attacker reaches, so it is let through to
    ModelBackend instead of raising.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

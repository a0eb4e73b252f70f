"""No browser or proxy keeps a copy of what a signed-in user (or an intake token) was shown."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class NoStoreMiddleware:
    """Mark every response to an authenticated request `Cache-Control: no-store`, unless the view chose
    its own caching (the admin's never_cache, say).

    Pages, exports, evidence packages and JSON alike: lists and exports carry leads' emails and phones,
    and the progress JSON and batch pages name leads, so a per-content-type list would miss the next one.
    A copy in the disk cache of a shared computer, or in a proxy, would outlive the log-out. Static files
    never get here: WhiteNoise, higher up, answers them with their own long cache headers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        authenticated = (user is not None and user.is_authenticated) or "authorization" in request.headers
        if authenticated and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"  # for HTTP/1.0 caches, which ignore Cache-Control
        return response

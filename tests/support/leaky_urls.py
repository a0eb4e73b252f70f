"""tfdash's URLs plus one that forgot its login, for tests/test_security_urls.py to catch."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tfdash.urls import urlpatterns as tfdash_urlpatterns


@csrf_exempt
@login_not_required
def leaky_page(request, pk: int) -> HttpResponse:
    return HttpResponse(f"certificate {pk}: jane@example.com")


urlpatterns = [*tfdash_urlpatterns, path("leaky/<int:pk>/", leaky_page, name="leaky-page")]

from django.urls import path

from certificates import views

app_name = "certificates"

urlpatterns = [
    path("", views.certificate_list, name="list"),
    path("claim/", views.claim, name="claim"),
    # /certificates/<pk>/
    path("<int:pk>/", views.certificate_detail, name="detail"),
    path("<int:pk>/claim/", views.claim_now, name="claim-now"),
    path("<int:pk>/check-in/", views.check_in, name="check-in"),
    path("<int:pk>/view-again/", views.view_again, name="view-again"),
    # /certificates/api-calls/
    path("api-calls/", views.api_call_list, name="api-calls"),
    path("api-calls/<int:pk>/", views.api_call_detail, name="api-call"),
]

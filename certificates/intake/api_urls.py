"""The JSON intake API for the buyer's lead system (token-authenticated, no session)."""

from django.urls import path

from certificates.intake import api_views

app_name = "api"

urlpatterns = [
    path("leads", api_views.leads, name="leads"),
    path("leads/<str:cert_id>", api_views.lead_detail, name="lead"),
    path("revocations", api_views.revocations, name="revocations"),
]

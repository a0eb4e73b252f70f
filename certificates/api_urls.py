"""The JSON intake API for the buyer's lead system (token-authenticated, no session)."""

from django.urls import path

from certificates import intake_api

app_name = "api"

urlpatterns = [
    path("leads", intake_api.leads, name="leads"),
    path("leads/<str:cert_id>", intake_api.lead_detail, name="lead"),
]

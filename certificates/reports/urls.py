from django.urls import path

from certificates.reports import views

app_name = "reports"

urlpatterns = [
    # /reports/vendors/
    path("vendors/", views.vendor_report, name="vendors"),
    path("vendors/<int:pk>/", views.vendor_detail, name="vendor"),
    # /reports/thresholds/
    path("thresholds/", views.thresholds, name="thresholds"),
]

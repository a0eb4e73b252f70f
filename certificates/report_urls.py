from django.urls import path

from certificates import report_views

app_name = "reports"

urlpatterns = [
    # /reports/vendors/
    path("vendors/", report_views.vendor_report, name="vendors"),
    path("vendors/<int:pk>/", report_views.vendor_detail, name="vendor"),
    # /reports/thresholds/
    path("thresholds/", report_views.thresholds, name="thresholds"),
]

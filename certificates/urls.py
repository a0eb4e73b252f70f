from django.urls import path

from certificates import vendor_views, views
from certificates.alerts import views as alert_views
from certificates.apilog import views as apilog_views
from certificates.evidence import views as evidence_views
from certificates.revocations import views as revocation_views

app_name = "certificates"

urlpatterns = [
    path("", views.certificate_list, name="list"),
    path("claim/", views.claim, name="claim"),
    path("claim-selected/", views.claim_selected, name="claim-selected"),
    # /certificates/review/
    path("review/", views.review_queue, name="review-queue"),
    # /certificates/exports/  (evidence packages for a filtered set)
    path("exports/", evidence_views.evidence_exports, name="exports"),
    path("exports/new/", evidence_views.evidence_export_start, name="export-start"),
    path("exports/<int:pk>/download/", evidence_views.evidence_export_download, name="export-download"),
    # /certificates/holds/, /certificates/discovery/  (legal holds and discovery requests)
    path("holds/", evidence_views.hold_list, name="holds"),
    path("holds/<int:pk>/", evidence_views.hold_detail, name="hold"),
    path("discovery/", evidence_views.discovery_list, name="discovery"),
    path("discovery/<int:pk>/download/", evidence_views.discovery_download, name="discovery-download"),
    # /certificates/revocations/
    path("revocations/", revocation_views.revocation_list, name="revocations"),
    path("revocations/upload/", revocation_views.revocation_upload, name="revocation-upload"),
    path("revocations/<int:pk>/honour/", revocation_views.revocation_honour, name="revocation-honour"),
    path("revocations/suppression.csv", revocation_views.suppression_csv, name="suppression"),
    # /certificates/<pk>/
    path("<int:pk>/", views.certificate_detail, name="detail"),
    path("<int:pk>/claim/", views.claim_now, name="claim-now"),
    path("<int:pk>/check-in/", views.check_in, name="check-in"),
    path("<int:pk>/lead/", views.correct_lead, name="correct-lead"),
    path("<int:pk>/view-again/", views.view_again, name="view-again"),
    path("<int:pk>/review/", views.review, name="review"),
    path("<int:pk>/evidence.zip", evidence_views.evidence_package, name="evidence"),
    # /certificates/vendors/
    path("vendors/", vendor_views.vendor_list, name="vendors"),
    path("vendors/new/", vendor_views.vendor_new, name="vendor-new"),
    path("vendors/<int:pk>/", vendor_views.vendor_edit, name="vendor"),
    path("vendors/<int:pk>/merge/", vendor_views.vendor_merge, name="vendor-merge"),
    path("vendors/<int:pk>/delete/", vendor_views.vendor_delete, name="vendor-delete"),
    # /certificates/alerts/
    path("alerts/", alert_views.alert_list, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", alert_views.acknowledge, name="alert-acknowledge"),
    # /certificates/api-calls/
    path("api-calls/", apilog_views.api_call_list, name="api-calls"),
    path("api-calls/<int:pk>/", apilog_views.api_call_detail, name="api-call"),
]

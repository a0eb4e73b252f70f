"""Intake pages: CSV upload and paste (with a dry run), batches and their progress, intake tokens."""

from django.urls import path

from certificates.intake import views

app_name = "intake"

urlpatterns = [
    path("", views.import_leads, name="import"),
    path("check-in-at-risk/", views.check_in_at_risk, name="check-in-at-risk"),
    # /intake/uploads/<token>/
    path("uploads/<str:token>/", views.dry_run, name="dry-run"),
    path("uploads/<str:token>/confirm/", views.confirm_import, name="confirm"),
    path("uploads/<str:token>/discard/", views.discard_import, name="discard"),
    # /intake/batches/
    path("batches/", views.batch_list, name="batches"),
    path("batches/<int:pk>/", views.batch_detail, name="batch"),
    path("batches/<int:pk>/progress/", views.batch_progress, name="batch-progress"),
    path("batches/<int:pk>/retry/", views.retry_batch, name="batch-retry"),
    path("batches/<int:pk>/cancel/", views.cancel_batch, name="batch-cancel"),
    path("batches/<int:pk>/uncancel/", views.uncancel_batch, name="batch-uncancel"),
    # /intake/tokens/
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.revoke_token, name="token-revoke"),
]

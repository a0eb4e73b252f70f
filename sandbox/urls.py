from django.urls import path

from sandbox import api_views, control_views, demo_views

urlpatterns = [
    # /_sandbox/: test knobs (loopback only, unauthenticated)
    path("_sandbox/health", control_views.health, name="sandbox-health"),
    path("_sandbox/certificates", control_views.mint, name="sandbox-mint"),
    path("_sandbox/certificates/<str:cert_id>", control_views.certificate_detail, name="sandbox-certificate"),
    path(
        "_sandbox/certificates/<str:cert_id>/faults",
        control_views.certificate_faults,
        name="sandbox-cert-faults",
    ),
    path("_sandbox/faults", control_views.global_faults, name="sandbox-faults"),
    path("_sandbox/account", control_views.account, name="sandbox-account"),
    path("_sandbox/clock", control_views.clock_view, name="sandbox-clock"),
    path("_sandbox/requests", control_views.request_log, name="sandbox-requests"),
    path("_sandbox/trap", control_views.trap, name="sandbox-trap"),
    path("_sandbox/reset", control_views.reset, name="sandbox-reset"),
    # /demo/: a consumer-facing lead form that issues certificates
    path("demo/", demo_views.lead_form, name="sandbox-demo"),
    # /<cert_id>...: the emulated TrustedForm certificate API
    path("<str:cert_id>", api_views.certificate, name="tf-certificate"),
    path("<str:cert_id>/check_in", api_views.check_in, name="tf-check-in"),
    path("<str:cert_id>/ping", api_views.ping, name="tf-ping"),
    path("<str:cert_id>/ping_url", api_views.ping_url, name="tf-ping-url"),
    path("<str:cert_id>/validate", api_views.validate, name="tf-validate"),
]

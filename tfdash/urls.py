from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from certificates import views as certificate_views
from tfdash import accounts_views, audit_views, health, people_views, preferences, views

urlpatterns = [
    path("", certificate_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("certificates/", include("certificates.urls")),
    path("intake/", include("certificates.intake.urls")),
    path("api/", include("certificates.intake.api_urls")),
    path("scanning/", include("scanning.urls")),
    path("reports/", include("certificates.reports.urls")),
    path("settings/", views.settings_page, name="settings"),
    path("settings/resume/", views.resume_claiming, name="settings-resume"),
    # /audit/  (admins: the audit trail and the API-call log's chain check)
    path("audit/", audit_views.audit_page, name="audit"),
    path("audit/verify/", audit_views.verify_api_log, name="audit-verify"),
    path("admin/", admin.site.urls),
    # /accounts/  (log-in lockouts)
    path("accounts/preferences/", preferences.preferences_page, name="preferences"),
    # /people/  (admins: accounts, roles, invitations) and the one-time link to choose a password
    path("people/", people_views.people_list, name="people"),
    path("people/<int:pk>/", people_views.person, name="person"),
    path("people/<int:pk>/<str:action>/", people_views.change, name="person-change"),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/password_set_form.html", success_url=reverse_lazy("password-set-done")
        ),
        name="password-set",
    ),
    path(
        "accounts/set-password/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="registration/password_set_done.html"),
        name="password-set-done",
    ),
    path("accounts/locked/", accounts_views.lockout_list, name="lockouts"),
    path("accounts/locked/<int:pk>/unlock/", accounts_views.unlock, name="unlock"),
    path("healthz", health.healthz, name="healthz"),
]

# A refused page says which role opens it and who can grant it (tfdash/views.py).
handler403 = "tfdash.views.permission_denied"

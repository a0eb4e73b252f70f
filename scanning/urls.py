from django.urls import path

from scanning import views

app_name = "scanning"

urlpatterns = [
    # /scanning/  (profiles: what each vendor's claims are scanned with)
    path("", views.profile_list, name="profiles"),
    path("profiles/new/", views.profile_edit, name="profile-new"),
    path("profiles/<int:pk>/", views.profile_edit, name="profile"),
    path("profiles/<int:pk>/delete/", views.profile_delete, name="profile-delete"),
    # /scanning/terms/
    path("terms/", views.term_list, name="terms"),
    path("terms/new/", views.term_edit, name="term-new"),
    path("terms/<int:pk>/", views.term_edit, name="term"),
    path("terms/<int:pk>/delete/", views.term_delete, name="term-delete"),
    # /scanning/templates/
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_edit, name="template-new"),
    path("templates/<int:pk>/", views.template_edit, name="template"),
    path("templates/<int:pk>/delete/", views.template_delete, name="template-delete"),
    # /scanning/preview/
    path("preview/", views.preview, name="preview"),
    path("preview/results/", views.preview_results, name="preview-results"),
]

"""Intake pages: CSV upload and paste (with a dry run), batches and their progress, intake tokens."""


app_name = "intake"

urlpatterns: list = []

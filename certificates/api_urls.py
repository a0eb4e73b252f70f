"""The JSON intake API for the buyer's lead system (token-authenticated, no session)."""


app_name = "api"

urlpatterns: list = []

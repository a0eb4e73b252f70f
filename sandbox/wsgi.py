"""WSGI entry point of the sandbox (`gunicorn sandbox.wsgi`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"

application = get_wsgi_application()

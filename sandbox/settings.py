"""Settings for the sandbox: a stand-alone Django project that emulates the TrustedForm certificate API.

It has its own SQLite store and URLconf and shares nothing with the product's settings, so that it behaves
like the remote service it stands in for.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("SANDBOX_SECRET_KEY", "sandbox-not-secret")  # no sessions or signing use it
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = ["sandbox"]
# No CSRF, session or auth middleware: the API uses Basic auth and the knobs are a loopback test surface.
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = "sandbox.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SANDBOX_DB_PATH", str(REPO_ROOT / "var" / "sandbox.sqlite3")),
        # One connection per gunicorn thread, kept: opening one (and its PRAGMAs) per request costs more
        # than the request's own queries.
        "CONN_MAX_AGE": None,
        # WAL lets the many gunicorn threads read while one writes; IMMEDIATE takes the write lock at BEGIN
        # so two claims of one certificate cannot both pass the claim limit.
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
}

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False

# The demo form and the mint endpoint are small; the API bodies are tiny.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # Error answers (4xx, and the 5xx of the fault knobs) are the emulator doing its job; real handler
    # failures are logged by sandbox.api_views.
    "loggers": {"django.request": {"handlers": ["console"], "level": "CRITICAL", "propagate": False}},
}

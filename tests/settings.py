"""Settings for the test suite: the product's settings with fast hashing and plain static storage.

DATABASE_URL picks the database (SQLite by default; `make test` also runs the suite on PostgreSQL).
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("TRUSTEDFORM_API_KEY", "tfk_TEST_9f2c4e7a1b3d5f7092e4c6a8b0d2f4e6")
# Subprocess workers started by tests override these through the environment.
os.environ.setdefault("TASKS_BACKEND", "django.tasks.backends.immediate.ImmediateBackend")
os.environ.setdefault(
    "TRUSTEDFORM_API_BASE", "http://127.0.0.1:9"
)  # nothing listens: tests point it at a sandbox
os.environ.setdefault("TRUSTEDFORM_READ_TIMEOUT", "2")

from tfdash.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Emails stay in memory (the test runner reads them there); tests that need a real server set their own.
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: worker subprocesses started by the tests must see the same test database.
    (BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}  # noqa: F405

"""tfdash settings: one file, every value from the environment (django-environ).

`make run` works with no `.env`: it sets DEBUG=True and points the API at the local sandbox.
Outside DEBUG, the settings refuse to start without a real SECRET_KEY.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker/systemd credentials)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc.strerror}") from None
    return env.str(name, default=default)


# Core
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env_secret("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-for-make-run"  # noqa: S105
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tables2",
    "django_filters",
    "django_tasks_db",
    "axes",
    "simple_history",
    "tfdash",
    "certificates",
    "scanning",
]

MIDDLEWARE = [
    "tfdash.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The AccountStatus row, once per request: the paused banner and the auth version (tfdash.authcache).
    "tfdash.authcache.AccountStatusMiddleware",
    # Responses to a signed-in user (leads' emails and phones) are never cached: Cache-Control: no-store.
    "tfdash.caching.NoStoreMiddleware",
    # Every page needs a login unless its view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Every time is shown in the signed-in person's time zone (their preferences), else the team's.
    "tfdash.preferences.TimeZoneMiddleware",
    # The audit trail (django-simple-history) records who made each change from the request's user.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tfdash.urls"
WSGI_APPLICATION = "tfdash.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "tfdash.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite in WAL mode by default, PostgreSQL (psycopg 3) by DATABASE_URL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'tfdash.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
            # IMMEDIATE: a write transaction takes the lock up front, so two workers never deadlock
            # upgrading a read lock (docs/architecture.md, "Library notes").
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
# Keep connections between requests: opening one (and, on SQLite, its PRAGMAs) cost about 3 ms of every
# page (bench/list_pages.py). The health check drops a connection the server closed meanwhile.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Auth
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=int(timedelta(hours=10).total_seconds()))
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=False)
SESSION_COOKIE_HTTPONLY = True
# The Axes backend only watches for lockouts; ModelBackend does the authenticating.
AUTHENTICATION_BACKENDS = [
    "tfdash.auth.LockoutBackend",
    # ModelBackend, keeping permissions per process for the request's auth version (tfdash.authcache).
    "tfdash.authcache.CachedPermissionsBackend",
]

# Brute-force protection (django-axes): five wrong passwords for one user name from one address lock
# that pair out for 30 minutes, so an attacker cannot lock a colleague out everywhere.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "tfdash.accounts_views.locked_out"
AXES_RESET_ON_SUCCESS = True
# How many proxies in front of tfdash append to X-Forwarded-For (1 for one nginx). The client is then
# the Nth address from the right; with 0, only REMOTE_ADDR is trusted, since a client could otherwise
# forge the header to dodge lockouts (tfdash.auth.client_address).
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "tfdash.auth.client_address"

# Internationalisation
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# Static files: self-hosted through whitenoise, never a CDN.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Content Security Policy (Django 6 built-in): no external origin, scripts only with a nonce.
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# Production hardening (all env-driven; `check --deploy` is clean with DEBUG off and these set).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# The load balancer's health check may speak plain HTTP to the app.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Background tasks: the rows are the truth, the queue only wakes the worker (docs/architecture.md).
TASKS = {
    "default": {
        "BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# TrustedForm
TRUSTEDFORM_API_KEY = env_secret("TRUSTEDFORM_API_KEY", default="") or ""
TRUSTEDFORM_API_BASE = env.str("TRUSTEDFORM_API_BASE", default="https://cert.trustedform.com")
# Hosts a certificate URL may name. Production certificates only; staging hosts are refused by default.
TRUSTEDFORM_ALLOWED_HOSTS = env.list("TRUSTEDFORM_ALLOWED_HOSTS", default=["cert.trustedform.com"])
# "3.0" (Consent, answers 201) or "4.0" (operations, answers 200); sent as the Api-Version header.
TRUSTEDFORM_API_VERSION = env.str("TRUSTEDFORM_API_VERSION", default="4.0")
# v4 Insights properties requested with each claim. Each returned property is billed.
TRUSTEDFORM_INSIGHTS_PROPERTIES = env.list(
    "TRUSTEDFORM_INSIGHTS_PROPERTIES",
    default=[
        "age_seconds",
        "approx_ip_geo",
        "browser",
        "os",
        "seconds_on_page",
        "bot_detected",
        "is_masked",
        "domain",
    ],
)
TRUSTEDFORM_CONNECT_TIMEOUT = env.float("TRUSTEDFORM_CONNECT_TIMEOUT", default=3.05)
TRUSTEDFORM_READ_TIMEOUT = env.float("TRUSTEDFORM_READ_TIMEOUT", default=30.0)

# Claiming
CLAIM_THREADS = env.int("CLAIM_THREADS", default=16)
# How long a worker holds certificates it took; a dead worker's lease expires after this.
CLAIM_LEASE_SECONDS = env.float("CLAIM_LEASE_SECONDS", default=120)
# A request cleared under a lease leaves within half of it (certificates/leasing.py, "Send by") and is
# then answered or given up on within the read timeout. A lease shorter than both could be taken over,
# and the certificate looked up and claimed again, while TrustedForm still holds the first request.
if CLAIM_LEASE_SECONDS < 2 * TRUSTEDFORM_READ_TIMEOUT:
    raise ImproperlyConfigured(
        f"CLAIM_LEASE_SECONDS={CLAIM_LEASE_SECONDS:g} must be at least twice "
        f"TRUSTEDFORM_READ_TIMEOUT={TRUSTEDFORM_READ_TIMEOUT:g}: a lease must outlast the half it gives a "
        "request to leave plus the time the request may wait for its answer."
    )
# First retry delay; doubles per attempt up to 30 minutes, with jitter.
CLAIM_RETRY_BASE_SECONDS = env.float("CLAIM_RETRY_BASE_SECONDS", default=30)

# Intake and exports
INTAKE_RATE_LIMIT = env.int("INTAKE_RATE_LIMIT", default=600)  # requests per token per minute
INTAKE_UPLOAD_DIR = Path(env.str("INTAKE_UPLOAD_DIR", default=str(BASE_DIR / "var" / "uploads")))
# Uploads larger than this are read by a worker instead of the web request.
INTAKE_INLINE_IMPORT_BYTES = env.int("INTAKE_INLINE_IMPORT_BYTES", default=256 * 1024)
# The largest upload the import page accepts, refused from its Content-Length before the body is read.
INTAKE_MAX_UPLOAD_BYTES = env.int("INTAKE_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
EVIDENCE_EXPORT_DIR = Path(env.str("EVIDENCE_EXPORT_DIR", default=str(BASE_DIR / "var" / "exports")))

# The API-call log keeps request/response bodies this long; `manage.py prune_api_log` blanks older ones
# (their digest stays in the hash chain).
API_LOG_BODY_RETENTION_DAYS = env.int("API_LOG_BODY_RETENTION_DAYS", default=365)
# Evidence for the long haul (README, "Evidence for the long haul"). A certificate is kept whole for
# RETENTION_YEARS past its last claim, then its lead's contact is anonymised unless a legal hold is on it.
# Four years is the TCPA's statute of limitations: a shorter period would throw away evidence a suit
# can still ask for, so it is refused.
RETENTION_YEARS = env.int("RETENTION_YEARS", default=5)
if RETENTION_YEARS < 4:
    raise ImproperlyConfigured(
        f"RETENTION_YEARS={RETENTION_YEARS}: keep evidence at least 4 years (the TCPA's limit)."
    )
# An RFC 3161 timestamp authority for every evidence and discovery manifest; off when empty.
TIMESTAMP_AUTHORITY_URL = env.str("TIMESTAMP_AUTHORITY_URL", default="")
TIMESTAMP_TIMEOUT_SECONDS = env.float("TIMESTAMP_TIMEOUT_SECONDS", default=15.0)
# /healthz calls the worker stale when a due task has waited this long without being picked up.
HEALTH_WORKER_STALE_SECONDS = env.int("HEALTH_WORKER_STALE_SECONDS", default=300)

# Alerts (README "Alerts"): email through EMAIL_URL (e.g. smtp+tls://user:password@host:587; the
# default prints emails to the console), to ALERT_EMAILS; a webhook (Slack, Teams or any JSON receiver)
# at ALERT_WEBHOOK_URL, signed with HMAC-SHA256 when ALERT_WEBHOOK_SECRET is set.
# Django 6.1's MAILERS, from django-environ's reading of EMAIL_URL (which still names the old settings).
# Without EMAIL_URL: emails go to the console under DEBUG (make run); in production tfdash sends none
# (ALERT_EMAILS then refuses to start).
if env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    _smtp = _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
    _options = (
        ("host", "EMAIL_HOST"),
        ("port", "EMAIL_PORT"),
        ("username", "EMAIL_HOST_USER"),
        ("password", "EMAIL_HOST_PASSWORD"),
        ("use_tls", "EMAIL_USE_TLS"),
        ("use_ssl", "EMAIL_USE_SSL"),
    )
    MAILERS = {
        "default": {
            "BACKEND": _email["EMAIL_BACKEND"],
            "OPTIONS": {key: _email[name] for key, name in _options if _email.get(name) not in (None, "")}
            if _smtp
            else {},
        }
    }
elif DEBUG:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tfdash <tfdash@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[])
if ALERT_EMAILS and "default" not in vars().get("MAILERS", {}):
    raise ImproperlyConfigured(
        "ALERT_EMAILS is set but EMAIL_URL is not: set EMAIL_URL, e.g. smtp+tls://host:587."
    )
ALERT_WEBHOOK_URL = env_secret("ALERT_WEBHOOK_URL", default="") or ""
ALERT_WEBHOOK_SECRET = env_secret("ALERT_WEBHOOK_SECRET", default="") or ""
# A delivery that failed for a reason that may pass (5xx, timeout) waits this long, doubling per try.
ALERT_RETRY_BASE_SECONDS = env.float("ALERT_RETRY_BASE_SECONDS", default=30)
# Certificates still waiting this close to their deadline raise `certificates_at_risk`.
ALERT_AT_RISK_HOURS = env.float("ALERT_AT_RISK_HOURS", default=12)
# The daily digest goes out at this hour of the team's time zone (TIME_ZONE), about the day before.
ALERT_DIGEST_HOUR = env.int("ALERT_DIGEST_HOUR", default=8)
# An invitation or password link works once, for this long.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)
# Where alerts and invitations link to: the address people open tfdash at.
TFDASH_BASE_URL = env.str("TFDASH_BASE_URL", default="http://127.0.0.1:8000")

# Logging: the API key is never logged (the client logs method, host, certificate id, status, duration);
# the redacting filter is belt and braces. LOG_FORMAT=json writes one JSON object per line.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT} is not one of: plain, json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_api_key": {"()": "tfdash.logs.RedactSecretsFilter"},
        "request_id": {"()": "tfdash.logs.RequestIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "tfdash.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact_api_key"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"urllib3": {"level": "WARNING"}},
}

"""Bulwark settings, read from the environment (django-environ).

Every variable is documented in README.md and `.env.example`. With nothing set, Bulwark
runs on SQLite under `var/` with an embedded (filesystem) Celery broker; with
`DATABASE_URL` and `REDIS_URL` it runs on PostgreSQL and Redis.
"""

from datetime import date, timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("BULWARK_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

_DEBUG_ONLY_SECRET_KEY = "django-insecure-bulwark-development-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEBUG_ONLY_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Base currency of the cash view and of reports, any ISO 4217 code.
BASE_CURRENCY = env.str("BASE_CURRENCY", default="USD").upper()

# Fernet keys for secrets at rest (API tokens, private keys, account numbers).
# Comma-separated: the first encrypts, all decrypt, so keys can be rotated.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "treasury.apps.TreasuryConfig",
    "treasury.fx.apps.FxConfig",
    "treasury.cashview.apps.CashViewConfig",
    "treasury.fbar.apps.FbarConfig",
    "accounts.apps.AccountsConfig",
    "ledger.apps.LedgerConfig",
    "ledger.rules.apps.RulesConfig",
    "ledger.reconciliation.apps.ReconciliationConfig",
    "operations.apps.OperationsConfig",
    "archive.apps.ArchiveConfig",
    "simulators.apps.SimulatorsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise (static files keep their own caching), before everything that
    # answers a request: every page and export gets its CSP and `no-store`.
    "treasury.security.ContentSecurityPolicyMiddleware",
    "treasury.security.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "treasury.access.LoginRequired",
    "treasury.access.ReadOnlyRoleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Axes last, as its documentation asks: it turns lockouts into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "treasury.urls"
WSGI_APPLICATION = "treasury.wsgi.application"
ASGI_APPLICATION = "treasury.asgi.application"

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
                "treasury.navigation.navigation",
            ],
        },
    },
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'bulwark.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions take
    # the write lock up front, so concurrent writers queue instead of failing mid-way.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-bulwark.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Failed logins: five in a row for one username from one address lock that pair out
# for fifteen minutes; every failure and lockout is logged (logger "axes").
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
# Proxies in front of Bulwark (a TLS terminator: 1). The throttle counts failures against
# the client's address as the outermost proxy saw it (`treasury.security.client_address`).
PROXY_COUNT = env.int("PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "treasury.security.client_address"

OTP_TOTP_ISSUER = "Bulwark"

LANGUAGE_CODE = "en-us"
# One date format everywhere, the admin included: ISO 8601 (treasury/formats/en).
FORMAT_MODULE_PATH = ["treasury.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed static files in production (after `collectstatic`); plain files in
# development and tests, which serve them straight from the source folders.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
# The archive's files: the filesystem under MEDIA_ROOT, or any S3-compatible object store
# (django-storages) once a bucket is named.
ARCHIVE_S3_BUCKET = env.str("ARCHIVE_S3_BUCKET", default="")
if ARCHIVE_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ARCHIVE_S3_BUCKET,
            "endpoint_url": env.str("ARCHIVE_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("ARCHIVE_S3_REGION", default="") or None,
            "access_key": env.str("ARCHIVE_S3_ACCESS_KEY", default="") or None,
            "secret_key": env.str("ARCHIVE_S3_SECRET_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
        },
    }
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)  # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, ...
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Bulwark <bulwark@localhost>")
# Who receives alerts (FBAR thresholds, failing syncs); defaults to the owners' addresses.
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[])

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie: the token travels in hx-headers.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# A strict policy on every response (`treasury.security`): nothing inline, nothing from
# another origin, no eval. Forms may also post to Xero's login page (added per request).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Celery -----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Every key Bulwark keeps in Redis besides Celery's (the shared limits of `treasury.limits`)
# starts with this: two deployments (or two test runs) on one Redis stay apart.
BULWARK_REDIS_PREFIX = env.str("BULWARK_REDIS_PREFIX", default="bulwark")
CELERY_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Redis hands an unacknowledged task (acks_late) to another worker after this long;
    # sized to the longest task (the hard time limit) plus a minute, so a killed worker's
    # task runs again within ~11 minutes, and the runs sweep re-queues its run sooner.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_TASK_TIME_LIMIT", default=600) + 60
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "bulwark",
        }
    }
else:
    # Embedded broker: kombu's filesystem transport, so a real worker and beat run
    # as separate processes on one machine with no server to install; `treasury.broker`
    # keeps a message on disk until it is acknowledged, so a killed worker loses none.
    for sub in ("queue", "processed", "results", "control", "unacked"):
        (CELERY_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "treasury.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "unacked_folder": str(CELERY_DIR / "unacked"),
        "data_folder_in": str(CELERY_DIR / "queue"),
        "data_folder_out": str(CELERY_DIR / "queue"),
        "processed_folder": str(CELERY_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(CELERY_DIR / "control"),
    }
    CELERY_RESULT_BACKEND = f"file://{CELERY_DIR / 'results'}"
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
# The queue tasks go to and workers read (one per install sharing a Redis; tests use
# one per test process, so their workers never take each other's tasks).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- External services ------------------------------------------------------------------
# Base URLs of the services Bulwark talks to; `make run` and the tests point them at
# the loopback simulators.
WISE_API_URL = env.str("WISE_API_URL", default="https://api.wise.com")
WISE_SANDBOX_API_URL = env.str("WISE_SANDBOX_API_URL", default="https://api.wise-sandbox.com")
XERO_API_URL = env.str("XERO_API_URL", default="https://api.xero.com")
XERO_IDENTITY_URL = env.str("XERO_IDENTITY_URL", default="https://identity.xero.com")
XERO_LOGIN_URL = env.str("XERO_LOGIN_URL", default="https://login.xero.com")
ECB_URL = env.str("ECB_URL", default="https://www.ecb.europa.eu")
TREASURY_API_URL = env.str("TREASURY_API_URL", default="https://api.fiscaldata.treasury.gov")
HTTP_TIMEOUT_SECONDS = env.int("HTTP_TIMEOUT_SECONDS", default=20)

# --- Archive ----------------------------------------------------------------------------
# A folder whose files the archive takes in every few minutes (filed by the filing rules,
# else into the inbox), moving each into its `.taken/` subfolder; empty: none watched.
ARCHIVE_WATCH_DIR = env.str("ARCHIVE_WATCH_DIR", default="")

# --- Xero -------------------------------------------------------------------------------
# The app's credentials from developer.xero.com (an OAuth app, or a custom connection).
XERO_CLIENT_ID = env.str("XERO_CLIENT_ID", default="")
XERO_CLIENT_SECRET = env.str("XERO_CLIENT_SECRET", default="")
# Where Xero sends the owner back; empty: built from the request (…/books/xero/callback/).
# It must be registered, exactly, as a redirect URI of the Xero app.
XERO_REDIRECT_URI = env.str("XERO_REDIRECT_URI", default="")
# Granular scopes (apps created since March 2026 cannot ask for the broad
# `accounting.transactions` / `accounting.reports.read`), plus offline_access.
XERO_SCOPES = env.list(
    "XERO_SCOPES",
    default=[
        "offline_access",
        "accounting.settings",
        "accounting.contacts",
        "accounting.banktransactions",
        "accounting.payments.read",
        "accounting.reports.banksummary.read",
        "accounting.attachments",  # filed statements attached to their bank accounts
    ],
)
# Xero allows 5 calls in flight per organisation; Bulwark keeps to this many.
XERO_CONCURRENCY = env.int("XERO_CONCURRENCY", default=5)
# Xero allows 60 calls a minute per organisation; every host together keeps to this many.
XERO_MINUTE_LIMIT = env.int("XERO_MINUTE_LIMIT", default=60)
# Calls of the daily budget (5,000; 1,000 on Starter) kept back: posting stops there.
XERO_DAY_RESERVE = env.int("XERO_DAY_RESERVE", default=100)
# One push and one read-back at a time per organisation: a run holds its lease this long,
# renewed after every batch; a worker killed on another host blocks them at most this long
# (on its own host, a dead holder's lease is taken over at once). Above the task time limit.
XERO_LEASE_SECONDS = env.int("XERO_LEASE_SECONDS", default=900)
# The longest Retry-After a run waits out; a longer one stops the run until later.
XERO_MAX_WAIT_SECONDS = env.int("XERO_MAX_WAIT_SECONDS", default=65)

# --- Wise sync ----------------------------------------------------------------------------
# Retries of one Wise call (connection errors, timeouts, 429, 5xx) and the first backoff
# step, doubled per retry with jitter and capped at 30 s.
WISE_HTTP_RETRIES = env.int("WISE_HTTP_RETRIES", default=5)
WISE_RETRY_BACKOFF_MS = env.int("WISE_RETRY_BACKOFF_MS", default=500)
# How far back the first statement sync goes when a connection does not say: a date,
# or empty for 1 January two years back (two full years plus this one).
_wise_sync_start = env.str("WISE_SYNC_START", default="")
WISE_SYNC_START = date.fromisoformat(_wise_sync_start) if _wise_sync_start else None
# Each sync re-reads this much before its cursor, for lines Wise books late.
WISE_SYNC_OVERLAP_HOURS = env.int("WISE_SYNC_OVERLAP_HOURS", default=72)
# A sync holds its account's lease this long, renewed after each statement page; a worker
# killed mid-sync blocks that account at most this long (at once on the same host).
WISE_SYNC_LEASE_SECONDS = env.int("WISE_SYNC_LEASE_SECONDS", default=300)
# Days per statement request (Wise allows at most 469).
WISE_STATEMENT_SPAN_DAYS = min(env.int("WISE_STATEMENT_SPAN_DAYS", default=469), 469)

# --- ConnectWise PSA (operations) ---------------------------------------------------------
# A sync holds its connection's lease this long, renewed after each batch of 50 invoices;
# a worker killed mid-sync blocks the connection at most this long (at once on this host).
CONNECTWISE_SYNC_LEASE_SECONDS = env.int("CONNECTWISE_SYNC_LEASE_SECONDS", default=300)
# Each incremental pass re-reads this much before its cursor: `lastUpdated` has whole
# seconds, and a change can land in the second being read.
CONNECTWISE_SYNC_OVERLAP_SECONDS = env.int("CONNECTWISE_SYNC_OVERLAP_SECONDS", default=120)
# A callback's refresh waits this long, so the announcements of one change (ConnectWise
# sends one per save, and retries) are read by one refresh.
CONNECTWISE_CALLBACK_DELAY_SECONDS = env.int("CONNECTWISE_CALLBACK_DELAY_SECONDS", default=5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "bulwark.security": {"level": "INFO"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

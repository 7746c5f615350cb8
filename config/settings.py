"""dropdesk settings.

Every setting that varies between machines is read here, through the one ``env`` below
(django-environ, optional ``.env`` at the project root). Nothing else reads ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The fallback key only serves a machine with no configuration at all; the deploy check
# (`manage.py check --deploy`) refuses it.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="django-insecure-dropdesk-local-only-key")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Credentials of provider accounts are encrypted with this key (Fernet, urlsafe base64, 32
# bytes). Several keys separated by commas rotate: the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])

SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
# `check --deploy` refuses the embedded SQLite, filesystem broker and file cache unless this
# install is declared to be one machine (config/checks.py).
DROPDESK_SINGLE_MACHINE = env.bool("DROPDESK_SINGLE_MACHINE", default=False)
# Our own public origin, used in links we hand out (merchant authorization) and in the demo
# accounts' sandbox base URLs. Empty: built from the request.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")

# Provider hosts (a ProviderAccount's own base URL overrides these).
ALISEEKS_API_URL = env.str("ALISEEKS_API_URL", default="https://api.aliseeks.com")
BRANDSDISTRIBUTION_API_URL = env.str(
    "BRANDSDISTRIBUTION_API_URL", default="https://www.brandsdistribution.com"
)
RESELLER_API_URL = env.str("RESELLER_API_URL", default="")
TIPSER_API_URL = env.str("TIPSER_API_URL", default="https://t3-prod-api.tipser.com")
PROVIDER_CONNECT_TIMEOUT = env.float("PROVIDER_CONNECT_TIMEOUT", default=5.0)
PROVIDER_READ_TIMEOUT = env.float("PROVIDER_READ_TIMEOUT", default=30.0)
# Admin quick filter "unshipped older than N days" (placed/in progress, placed before N days).
ORDERS_UNSHIPPED_AFTER_DAYS = env.int("ORDERS_UNSHIPPED_AFTER_DAYS", default=3)

INSTALLED_APPS = [
    "config.admin_site.DropdeskAdminConfig",  # django.contrib.admin with our site (dashboard)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",  # only for the migration that hashed its plaintext tokens
    "rest_framework_api_key",  # API tokens stored as hashes (merchants.ApiToken)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our own static files
    "django_htmx",
    "django_celery_beat",
    "health_check",  # /healthz (config/health.py)
    "django_fsm",
    "core",
    "config.apps.ConfigConfig",
    "merchants",
    "orders",
    "providers",
    # one app per provider: its sandbox state and provider-specific models live there
    "providers.aliseeks",
    "providers.brandsdistribution",
    "providers.reseller",
    "providers.tipser",
    "webhooks",
    "pipeline",
]

MIDDLEWARE = [
    "config.observability.RequestIdMiddleware",
    "core.web_scope.WebRequestScopeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# A provider call inside a web request (a programming error: such work is queued for the
# worker): "log" an error (default) or "raise" (the test suite). See core/web_scope.py.
PROVIDER_CALL_IN_REQUEST = env.str("PROVIDER_CALL_IN_REQUEST", default="log")
# Simulated provider latency per sandbox request (ms; benchmarks). See providers/sandbox_latency.py.
SANDBOX_LATENCY_MS = env.float("SANDBOX_LATENCY_MS", default=0.0)
if SANDBOX_ENABLED:
    MIDDLEWARE.insert(0, "providers.sandbox_latency.SandboxLatencyMiddleware")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'dropdesk.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "core.db.sqlite3"
    # WAL + a busy timeout let the web server and the worker share the embedded database.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
            "DATABASE_PG_JIT_OFF", default=True):
        # PostgreSQL's JIT compiles any query the planner costs above jit_above_cost: the
        # dashboard's one capped-count query (40 small LIMITed subqueries, ~60 ms of work) spent
        # 570 ms compiling 1,057 functions at 100k orders (bench/RESULTS.md). Short queries
        # only here (OLTP): off, unless the URL's own ``options`` says otherwise.
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = (str(options.get("options", "")) + " -c jit=off").strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache_url("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]  # the admin's stylesheet (static/dropdesk/)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOGIN_URL = "admin:login"

# Error pages and reports hide credentials, keys and tokens (locals, settings, request, texts).
DEFAULT_EXCEPTION_REPORTER = "core.debug.SecretsExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.debug.SecretsExceptionReporterFilter"

# --- security (production unless DJANGO_DEBUG) ---------------------------------------------
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# load balancers and probes speak plain HTTP to /healthz
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "merchants.api.authentication.IntegrationTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["api.filters.FilterBackend"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    # Per token (each integration has its own user) and per client address when anonymous.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER", default="6000/hour"),
        "anon": env.str("API_THROTTLE_ANON", default="100/hour"),
    },
}
API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=25)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=100)
API_IDEMPOTENCY_RETENTION_HOURS = env.int("API_IDEMPOTENCY_RETENTION_HOURS", default=24)
SPECTACULAR_SETTINGS = {
    "TITLE": "dropdesk API",
    "DESCRIPTION": "Merchants, orders, items and shipments across dropshipping providers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # 3.1: JSON Schema 2020-12, so e.g. `propertyNames` (keys without NUL) is part of the contract
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_links",
    ],
    "ENUM_NAME_OVERRIDES": {
        "OrderStateEnum": "orders.lifecycle.Lifecycle.CHOICES",
        "ItemStateEnum": "orders.lifecycle.ItemLifecycle.CHOICES",
        "TransitionOutcomeEnum": [("done", "done"), ("accepted", "accepted")],
        "AcceptedEnum": [("accepted", "accepted")],
        "PendingEnum": [("pending", "pending")],  # 202 bodies of queued provider work
        # one name for the code lists every field shares (orders.validators)
        "CountryCodeEnum": "orders.validators.COUNTRY_SCHEMA_CODES",
        "CurrencyCodeEnum": "orders.validators.CURRENCY_SCHEMA_CODES",
    },
}

# --- Celery ------------------------------------------------------------------------------------
# The embedded default needs no broker server: the filesystem transport under var/ lets a real
# worker process run beside the web server. Production: redis://… or amqp://….
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_BROKER_FOLDER = Path(env.str("CELERY_BROKER_FOLDER", default=str(VAR_DIR / "broker")))
# Production (redis://): a task a killed worker had taken is redelivered after
# ``visibility_timeout`` seconds (default 3600; keep it above the longest task and countdown).
# Any transport option can be given as JSON, e.g. {"visibility_timeout": 7200}.
CELERY_BROKER_TRANSPORT_OPTIONS = env.json("CELERY_BROKER_TRANSPORT_OPTIONS", default={}) or (
    {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    # the transport needs its folders; web server and worker both create them on start
    for _folder in ("queue", "processed", "control"):
        Path(CELERY_BROKER_FOLDER, _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# workers log through LOGGING below (JSON, redacted), not through Celery's own root handler
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- background work and reliability --------------------------------------------------------
# Placement retries (ProviderUnavailable only): tries in all, exponential backoff with full
# jitter from RETRY_BASE_DELAY up to RETRY_MAX_DELAY seconds; a provider's Retry-After wins
# when longer.
ORDER_PLACE_MAX_TRIES = env.int("ORDER_PLACE_MAX_TRIES", default=5)
TASK_RETRY_BASE_DELAY = env.float("TASK_RETRY_BASE_DELAY", default=10.0)
TASK_RETRY_MAX_DELAY = env.float("TASK_RETRY_MAX_DELAY", default=900.0)
# An order in `placing` longer than this (a worker died mid-call) → placement_unknown.
ORDER_PLACING_STALE_MINUTES = env.float("ORDER_PLACING_STALE_MINUTES", default=15)
# Seconds to wait before looking an unknown placement up at the provider.
ORDER_RECONCILE_DELAY = env.int("ORDER_RECONCILE_DELAY", default=60)
# Periodic incoming sync per account (minutes; an account's options["sync_interval_minutes"]
# overrides) and the operator's "sync now" (at most once per this many seconds per account).
ACCOUNT_SYNC_INTERVAL_MINUTES = env.int("ACCOUNT_SYNC_INTERVAL_MINUTES", default=15)
SYNC_NOW_MIN_INTERVAL = env.int("SYNC_NOW_MIN_INTERVAL", default=60)
# fetch a sync's next page while the current one is written (orders/readahead.py)
ACCOUNT_SYNC_READ_AHEAD = env.bool("ACCOUNT_SYNC_READ_AHEAD", default=True)
# Per-account provider rate limit shared by all workers (calls/second; 0 = unlimited).
# Redis-backed when RATE_LIMIT_REDIS_URL (or a redis:// CELERY_BROKER_URL) is set, else the
# Django cache. A call that would wait longer than RATE_LIMIT_MAX_WAIT s is not sent and is
# retried later.
PROVIDER_DEFAULT_RATE_LIMIT = env.float("PROVIDER_DEFAULT_RATE_LIMIT", default=5.0)
RATE_LIMIT_REDIS_URL = env.str("RATE_LIMIT_REDIS_URL", default="")
RATE_LIMIT_MAX_WAIT = env.float("RATE_LIMIT_MAX_WAIT", default=10.0)

# Outbound webhooks (webhooks/): timeouts of one delivery, backoff of retries (5xx, 429,
# network errors), when to give up (the subscription is then flagged), how long attempts are
# kept. Loopback receivers (and plain http to them) only while WEBHOOK_ALLOW_LOOPBACK.
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)
WEBHOOK_RETRY_BASE_DELAY = env.float("WEBHOOK_RETRY_BASE_DELAY", default=15.0)
WEBHOOK_RETRY_MAX_DELAY = env.float("WEBHOOK_RETRY_MAX_DELAY", default=3600.0)
WEBHOOK_GIVE_UP_AFTER = env.int("WEBHOOK_GIVE_UP_AFTER", default=24 * 3600)
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=DEBUG)

# json (production default) or plain (the default with DJANGO_DEBUG, i.e. `make run`)
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="plain" if DEBUG else "json")
# Every log record is redacted when it is created (core.redaction.install_log_redaction, run by
# the core app for web and worker processes alike); the filter below is a second net for the
# handlers configured here.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.redaction.RedactingFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # one JSON object a line with request_id / task_id / order / provider_account
        "json": {"()": "config.logformat.json_formatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's access log shows sandbox request lines (Tipser's ?apiKey=…): redacted.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Periodic tasks live in the database (django-celery-beat, editable in the admin). Declared in
# orders/schedules.py, installed by the beat process at start (config/celery.py) and by every
# account save (merchants/schedules.py); `manage.py setup_schedules` does the same on demand.

# --- error reporting (optional) ----------------------------------------------------------------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from .sentry import init as _sentry_init

    _sentry_init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default=""),
        release=env.str("SENTRY_RELEASE", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        logging_config=LOGGING,
    )

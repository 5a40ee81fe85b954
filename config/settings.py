"""Tack settings: one module, driven by environment variables.

Development defaults are safe and convenient (SQLite, eager tasks); production
(``DJANGO_DEBUG=0``) refuses to start without a real ``SECRET_KEY``.
"""

import secrets
import sys
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Management commands that only read the code (no request is served, nothing is signed)
# may run without a key, so a bare checkout can run `makemigrations --check`.
OFFLINE_COMMANDS = {"makemigrations", "makemessages", "compilemessages", "help"}
_command = sys.argv[1] if Path(sys.argv[0]).name == "manage.py" and len(sys.argv) > 1 else ""

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY and not DEBUG and _command in OFFLINE_COMMANDS:
    SECRET_KEY = secrets.token_urlsafe(50)  # used for nothing; gone with the process
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DJANGO_DEBUG is off "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "core.views.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "core",
    "subscriptions",
    "desk",
    "cancellations",
    "winback",
    "privacy",
    "retention",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "core.context_processors.company",
            ],
        },
    }
]

# --- Database ---------------------------------------------------------------
# PostgreSQL in tests and production; SQLite only as the embedded default of `make run`.
DATABASE_URL = env.str("DATABASE_URL", default="")
EMBEDDED_DATABASE = not DATABASE_URL
DATABASES = {
    "default": env.db_url_config(DATABASE_URL)
    if DATABASE_URL
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "db.sqlite3")}
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env.bool(
    "DATABASE_JIT", default=False
):
    # PostgreSQL's JIT compiles the dashboard's aggregates for ~0.5 s each time and saves
    # less than that: measured with bench/dashboard.py, 4.6 s with it and 2.1 s without.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The statements run most (the flow's reads, the case and subscription locks, change marks,
# the outbox email's claim and record) are prepared once per connection
# (core.sql.execute_prepared):
# turn it off behind a pooler that hands one session's statements to another connection
# (PgBouncer in transaction mode).
TACK_PREPARED_STATEMENTS = env.bool("TACK_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and cache ----------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
EAGER_TASKS = not REDIS_URL

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="tack"),
            # The cache only speeds things up and counts requests for the rate limits: when
            # Redis is down a read is a miss and a write is skipped, so no customer's request
            # fails with it (/healthz reports the outage).
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: JSON only, late acknowledgement, one task at a time per worker process,
# time limits well below the Redis visibility timeout (tasks are never lost to a
# crashed worker and never redelivered while still running).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = EAGER_TASKS
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_VISIBILITY_TIMEOUT = 3600
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes the database connection before and after every task unless
# this is set, so every task opened a new PostgreSQL connection (`make bench` measured that
# as most of the outreach drain's time). Keep it: config/celery.py closes it the way Django
# does after a request, when it is broken or older than CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Publishing must not hang a customer's request when Redis is down: the database
# rows are the truth and the periodic sweeps re-enqueue whatever was not published.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TIMEZONE = env.str("TIME_ZONE", default="Europe/Stockholm")
# The dashboard's daily rollups: a refresh runs this many seconds after a change (changes
# in between share it), and every TACK_ROLLUP_REFRESH_SECONDS in any case.
TACK_ROLLUP_REFRESH_DELAY_SECONDS = env.int("TACK_ROLLUP_REFRESH_DELAY_SECONDS", default=2)
TACK_ROLLUP_REFRESH_SECONDS = env.int("TACK_ROLLUP_REFRESH_SECONDS", default=60)
CELERY_BEAT_SCHEDULE = {
    "subscriptions-apply-due-changes": {
        "task": "subscriptions.apply_due_changes",
        "schedule": timedelta(minutes=5),
    },
    "core-sweep-outbound-email": {
        "task": "core.sweep_outbound_email",
        "schedule": timedelta(seconds=30),
    },
    "cancellations-abandon-stale-cases": {
        "task": "cancellations.abandon_stale_cases",
        "schedule": timedelta(minutes=15),
    },
    "winback-dispatch-outreach": {
        "task": "winback.dispatch_outreach",
        "schedule": timedelta(seconds=5),
    },
    "retention-refresh-rollups": {
        "task": "retention.refresh_rollups",
        "schedule": timedelta(seconds=TACK_ROLLUP_REFRESH_SECONDS),
    },
    "winback-refresh-lost-customers": {
        "task": "winback.refresh_lost_customers",
        "schedule": timedelta(minutes=30),
    },
    "core-purge-idempotency-records": {
        "task": "core.purge_idempotency_records",
        "schedule": crontab(minute=17, hour=3),
    },
    "core-sweep-webhooks": {
        "task": "core.sweep_webhooks",
        "schedule": timedelta(seconds=15),
    },
    "core-sweep-billing-commands": {
        "task": "core.sweep_billing_commands",
        "schedule": timedelta(seconds=10),
    },
    "core-purge-webhook-log": {
        "task": "core.purge_webhook_log",
        "schedule": crontab(minute=27, hour=3),
    },
    "privacy-clear-old-free-text": {
        "task": "privacy.clear_old_free_text",
        "schedule": crontab(minute=37, hour=3),
    },
}

# --- Email -------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tack <no-reply@example.com>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

# --- Internationalisation ----------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("sv", _("Swedish")),
    ("da", _("Danish")),
    ("nb", _("Norwegian Bokmål")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Stockholm")
USE_TZ = env.bool("USE_TZ", default=True)

# --- Static files ------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}

# --- Authentication and security ---------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_RESET_ON_SUCCESS = True
# The client's address behind the TLS proxy (core.client_ip): a number of proxies in front of
# Tack ("1"), or their addresses/networks ("10.0.0.0/8,172.16.0.0/12"). Empty: no proxy, and
# X-Forwarded-For is ignored. Used by the login lockout and the customer pages' rate limit.
TACK_TRUSTED_PROXIES = env.list("TACK_TRUSTED_PROXIES", default=[])
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"
RATELIMIT_IP_META_KEY = "core.client_ip.client_ip"

# Staff sessions end after inactivity.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 8)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; object-src 'none'"
    ),
)

# --- REST API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["core.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["core.api_auth.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api_parsers.DepthLimitedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.api_schema.ScopedAutoSchema",
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["core.api_auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_LIMIT", default="6000/min")},
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tack API",
    "DESCRIPTION": (
        "Push customers and subscriptions into Tack, embed the cancellation flow and read "
        "what happened. Authenticate with an API key: `Authorization: Bearer <key>`. "
        "A key holds scopes (`read`, `subscriptions:write`, `cancellations:write`, `privacy`, "
        "`metrics`); each operation names the one it needs (`x-tack-scope`), and a key "
        "without it is answered 403.\n\n"
        "**Webhooks.** Tack also tells the company's systems what happened: it POSTs a "
        "versioned JSON event (`id`, `type`, `version`, `occurred_at`, `sequence` per "
        "subscription, `data` with external ids) to each endpoint a manager registered in "
        "the admin for `cancellation.started|saved|cancelled|abandoned`, "
        "`subscription.paused|resumed|plan_changed|credit_granted|discount_granted|"
        "cancel_scheduled|cancel_withdrawn|cancelled|reactivated`, `winback.comeback`, "
        "`customer.unsubscribed` and `customer.erased`. Each POST is signed: "
        '`Tack-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`; '
        "reject old timestamps and de-duplicate on `Tack-Event-Id`. Answer 2xx, or Tack "
        "retries with exponential backoff for 72 hours. The README has the payloads."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "LocaleEnum": "subscriptions.enums.Locale",
        "CallbackWindowEnum": "desk.enums.CallbackWindow",
    },
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Tack --------------------------------------------------------------------
TACK_COMPANY_NAME = env.str("TACK_COMPANY_NAME", default="Nordlys Media")
TACK_SUPPORT_EMAIL = env.str("TACK_SUPPORT_EMAIL", default="support@example.com")
TACK_SUPPORT_PHONE = env.str("TACK_SUPPORT_PHONE", default="+46 8 123 456 00")
# Absolute base of links sent to customers (emails, API-issued cancel links).
TACK_PUBLIC_BASE_URL = env.str("TACK_PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
TACK_BILLING_GATEWAY = env.str(
    "TACK_BILLING_GATEWAY", default="subscriptions.billing.LocalBillingGateway"
)
# Billing commands (core.outbox.billing): retried with backoff while billing is unreachable
# or busy, failed after TACK_BILLING_MAX_ATTEMPTS; a claim older than the lease is sent again
# with the same idempotency key.
TACK_BILLING_RETRY_BASE_SECONDS = env.int("TACK_BILLING_RETRY_BASE_SECONDS", default=10)
TACK_BILLING_RETRY_MAX_SECONDS = env.int("TACK_BILLING_RETRY_MAX_SECONDS", default=1800)
TACK_BILLING_MAX_ATTEMPTS = env.int("TACK_BILLING_MAX_ATTEMPTS", default=12)
TACK_BILLING_LEASE_SECONDS = env.int("TACK_BILLING_LEASE_SECONDS", default=120)
# Stripe (TACK_BILLING_GATEWAY=subscriptions.stripe_billing.gateway.StripeGateway).
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_TIMEOUT_SECONDS = env.int("STRIPE_TIMEOUT_SECONDS", default=20)
# How Stripe bills a plan change: create_prorations, always_invoice or none.
STRIPE_PRORATION_BEHAVIOR = env.str("STRIPE_PRORATION_BEHAVIOR", default="create_prorations")
# Signed events older than this are refused (Stripe's own default tolerance).
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
if "StripeGateway" in TACK_BILLING_GATEWAY and not DEBUG and not STRIPE_SECRET_KEY:
    raise ImproperlyConfigured("STRIPE_SECRET_KEY is required with the Stripe billing gateway.")
if TACK_BILLING_LEASE_SECONDS <= 2 * STRIPE_TIMEOUT_SECONDS:
    raise ImproperlyConfigured(
        "TACK_BILLING_LEASE_SECONDS must be more than twice STRIPE_TIMEOUT_SECONDS."
    )
TACK_DEFAULT_CURRENCY = env.str("TACK_DEFAULT_CURRENCY", default="SEK")
# Outbound email: how long a claimed send may run before the sweep settles it by its
# delivery promise (README "Delivery"), how often a failing send is retried before it is
# marked failed. A published email whose task never ran (its worker was killed before it
# claimed the email) is published again after TACK_EMAIL_REQUEUE_SECONDS (0: half the lease,
# at least a minute); a broker that restarted empty is noticed sooner, at the next sweep.
TACK_EMAIL_LEASE_SECONDS = env.int("TACK_EMAIL_LEASE_SECONDS", default=600)
TACK_EMAIL_MAX_ATTEMPTS = env.int("TACK_EMAIL_MAX_ATTEMPTS", default=6)
TACK_EMAIL_REQUEUE_SECONDS = env.int("TACK_EMAIL_REQUEUE_SECONDS", default=0)
# The outbox: how long a sender keeps trying to record an outcome it knows (the far side
# answered) while the database refuses it, before it leaves the row to the lease (then the
# sweep settles it by the kind's promise, after the lease: up to 10 minutes for email). Longer
# than a database outage is expected to last (production saw 40 s), shorter than the shortest
# lease (120 s) and the tasks' soft time limit (240 s).
TACK_OUTBOX_RECORD_SECONDS = env.int("TACK_OUTBOX_RECORD_SECONDS", default=90)
# The cancellation flow.
TACK_CANCEL_LINK_MAX_AGE_DAYS = env.int("TACK_CANCEL_LINK_MAX_AGE_DAYS", default=7)
TACK_CASE_ABANDON_HOURS = env.int("TACK_CASE_ABANDON_HOURS", default=24)
# Economics guard: an offer may cost at most this share of the customer's expected
# remaining value (monthly amount x TACK_EXPECTED_REMAINING_MONTHS).
TACK_OFFER_MAX_COST_SHARE = env.float("TACK_OFFER_MAX_COST_SHARE", default=0.5)
TACK_EXPECTED_REMAINING_MONTHS = env.int("TACK_EXPECTED_REMAINING_MONTHS", default=12)
TACK_CALLBACK_COST = env.float("TACK_CALLBACK_COST", default=50.0)
# Win-back: attractiveness weights (points out of 100) and the caps that scale each factor.
TACK_WINBACK_WEIGHTS = env.dict(
    "TACK_WINBACK_WEIGHTS",
    cast={"value": int},
    default={"value": 30, "tenure": 25, "group": 20, "saves": 10, "recency": 15},
)
TACK_WINBACK_GROUP_FACTORS = env.dict(
    "TACK_WINBACK_GROUP_FACTORS",
    cast={"value": float},
    default={
        "unintentionally_pushed": 1.0,
        "pulled_away": 0.8,
        "bought_away": 0.7,
        "self_switcher": 0.4,
        "deliberately_pushed": 0.0,
    },
)
TACK_WINBACK_VALUE_CAP = env.float("TACK_WINBACK_VALUE_CAP", default=400.0)
TACK_WINBACK_TENURE_CAP_MONTHS = env.int("TACK_WINBACK_TENURE_CAP_MONTHS", default=60)
TACK_WINBACK_SAVES_CAP = env.int("TACK_WINBACK_SAVES_CAP", default=2)
TACK_WINBACK_RECENCY_MONTHS = env.int("TACK_WINBACK_RECENCY_MONTHS", default=24)
# Contact rules: a global cap across campaigns, and per-country limits on how long after
# leaving a former customer may be contacted without fresh consent (months).
TACK_WINBACK_FREQUENCY_CAP_DAYS = env.int("TACK_WINBACK_FREQUENCY_CAP_DAYS", default=30)
TACK_WINBACK_CONTACT_LIMIT_MONTHS = env.dict(
    "TACK_WINBACK_CONTACT_LIMIT_MONTHS", cast={"value": int}, default={"DK": 12}
)
TACK_WINBACK_ATTRIBUTION_DAYS = env.int("TACK_WINBACK_ATTRIBUTION_DAYS", default=30)
TACK_WINBACK_LINK_MAX_AGE_DAYS = env.int("TACK_WINBACK_LINK_MAX_AGE_DAYS", default=90)
TACK_WINBACK_REQUEUE_SECONDS = env.int("TACK_WINBACK_REQUEUE_SECONDS", default=300)
# The outreach drain: claimed rows in flight (queued in Redis) are kept near this many, in
# send tasks of this many rows each (one SMTP connection per task); a task stops taking new
# rows after this many seconds (far below CELERY_TASK_SOFT_TIME_LIMIT) and releases the rest.
TACK_WINBACK_QUEUE_TARGET = env.int("TACK_WINBACK_QUEUE_TARGET", default=1000)
TACK_WINBACK_SEND_BATCH = env.int("TACK_WINBACK_SEND_BATCH", default=100)
TACK_WINBACK_BATCH_SECONDS = env.int("TACK_WINBACK_BATCH_SECONDS", default=60)
# The dashboard: what a contact costs, and the smallest groups an uplift is shown for.
TACK_COST_PER_EMAIL = env.float("TACK_COST_PER_EMAIL", default=1.0)
TACK_COST_PER_CALL = env.float("TACK_COST_PER_CALL", default=50.0)
TACK_UPLIFT_MIN_GROUP = env.int("TACK_UPLIFT_MIN_GROUP", default=30)
# The dashboard greys a rate that rests on fewer cases (or people) than this, with its count.
TACK_DASHBOARD_MIN_CASES = env.int("TACK_DASHBOARD_MIN_CASES", default=20)
# Outbound webhooks: how long a receiver may take, the retry schedule (doubling from the base
# up to the cap between attempts, given up this many hours after the first), how long a
# claimed delivery may run before the sweep retries it, and how long the log is kept.
TACK_WEBHOOK_TIMEOUT_SECONDS = env.int("TACK_WEBHOOK_TIMEOUT_SECONDS", default=10)
TACK_WEBHOOK_RETRY_BASE_SECONDS = env.int("TACK_WEBHOOK_RETRY_BASE_SECONDS", default=60)
TACK_WEBHOOK_RETRY_MAX_SECONDS = env.int("TACK_WEBHOOK_RETRY_MAX_SECONDS", default=6 * 3600)
TACK_WEBHOOK_GIVE_UP_HOURS = env.int("TACK_WEBHOOK_GIVE_UP_HOURS", default=72)
TACK_WEBHOOK_LEASE_SECONDS = env.int("TACK_WEBHOOK_LEASE_SECONDS", default=120)
TACK_WEBHOOK_LOG_RETENTION_DAYS = env.int("TACK_WEBHOOK_LOG_RETENTION_DAYS", default=90)
if TACK_WEBHOOK_LEASE_SECONDS <= 2 * TACK_WEBHOOK_TIMEOUT_SECONDS:
    raise ImproperlyConfigured(
        "TACK_WEBHOOK_LEASE_SECONDS must be more than twice TACK_WEBHOOK_TIMEOUT_SECONDS, "
        "or the sweep would retry deliveries that are still waiting for an answer."
    )
# Data rights: customers' free-text exit notes are cleared this many days after the case.
# Outbound HTTP (webhooks, billing gateway): public internet only, https only (core.outbound).
# Plain http is for development; the allowed addresses (IPs or CIDRs) let a test receiver on
# a non-public address through. Both stay off in production.
TACK_OUTBOUND_ALLOW_HTTP = env.bool("TACK_OUTBOUND_ALLOW_HTTP", default=False)
TACK_OUTBOUND_ALLOWED_ADDRESSES = env.list("TACK_OUTBOUND_ALLOWED_ADDRESSES", default=[])
TACK_FREE_TEXT_RETENTION_DAYS = env.int("TACK_FREE_TEXT_RETENTION_DAYS", default=730)
RATELIMIT_VIEW = "core.views.ratelimited"
# Per-IP limits on the customers' pages; `make bench` turns them off to load one server.
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
# `make bench` only: route the bare baseline view (/bench/bare/<id>/) the flow is measured against.
TACK_BENCH_VIEWS = env.bool("TACK_BENCH_VIEWS", default=False)
# Without its counters (Redis down) the rate limit lets requests through rather than
# refusing every customer who wants to cancel.
RATELIMIT_FAIL_OPEN = True
TACK_IDEMPOTENCY_RETENTION_HOURS = env.int("TACK_IDEMPOTENCY_RETENTION_HOURS", default=48)

# Every log line passes core.log_masking: email addresses, phone numbers, signed customer
# tokens and API keys are masked (the worker uses this configuration too: config/celery.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_secrets": {"()": "core.log_masking.MaskSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # Django's own default handlers (a console in debug, mail to ADMINS) would see each
        # record before the masking filter: its records go to the root's handler only.
        "django": {"handlers": [], "propagate": True},
        # redis-py gives this logger a handler of its own unless it is configured already.
        "push_response": {"handlers": [], "propagate": True},
    },
}

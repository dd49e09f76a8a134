"""Settings shared by every environment.

Everything that differs between a laptop and production comes from the environment; the defaults
here are the embedded ones used by ``make run`` (SQLite and an embedded Celery broker under
``var/``, local-memory cache, e-mail written to files).
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("OPENCODEX_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")


def site_url_from_env(environ=os.environ) -> str:
    """The public URL of the site: SITE_URL when set, else this machine on the port the web
    server listens on (WEB_PORT from ``make run``'s Procfile, or PORT; 8000 by default)."""
    explicit = (environ.get("SITE_URL") or "").strip()
    if explicit:
        return explicit.rstrip("/")
    port = (environ.get("WEB_PORT") or environ.get("PORT") or "8000").strip()
    return f"http://127.0.0.1:{port}"


# The public URL of the site, used in e-mails and in the docs' examples.
SITE_URL = site_url_from_env()

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
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "apps.core",
    "apps.accounts",
    "apps.credits",
    "apps.webhooks",
    "apps.audit",
    "apps.keys",
    "apps.catalog",
    "apps.usage",
    "apps.billing",
    "apps.docs",
    "apps.console",
    "apps.staff",
    "apps.orgs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.logs.RequestIdMiddleware",
    "apps.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.core.middleware.AccountTimeZoneMiddleware",
    "apps.orgs.middleware.ActingAccountMiddleware",
    "apps.audit.client.AuditRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

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
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.site",
                "apps.orgs.context_processors.acting",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
# SQLite for the embedded default: WAL so readers never block the writer, IMMEDIATE transactions
# so the web server, the worker and beat queue for the write lock instead of failing on upgrade,
# and a busy timeout so they wait for each other.
SQLITE_PATH = VAR_DIR / "opencodex.sqlite3"
SQLITE_DATABASE = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": SQLITE_PATH,
    "OPTIONS": {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    },
}
if os.environ.get("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"], conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60"))
        )
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {"default": SQLITE_DATABASE}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ---------------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "ocx"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth and accounts ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"

ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_CONFIRMATION_AUTHENTICATED_REDIRECT_URL = "dashboard"
ACCOUNT_EMAIL_CONFIRMATION_ANONYMOUS_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[OpenCodex] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_RATE_LIMITS_ENABLED = True  # allauth's defaults (login, signup, confirm, reset...)
ACCOUNT_MAX_EMAIL_ADDRESSES = 5
ACCOUNT_CHANGE_EMAIL = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_FORMS = {"signup": "apps.accounts.forms.SignupForm"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "OpenCodex"

# --- Credits -------------------------------------------------------------------------------------
# Money is integers: micro-credits (µcr). 1 credit = 1,000,000 µcr = US$0.01.
SIGNUP_GRANT_CREDITS = int(os.environ.get("SIGNUP_GRANT_CREDITS", "500"))
# Referrals: the inviter earns this percentage of each paid top-up of an invitee, as credits,
# for this many months after the invitee signed up, at most this many credits per UTC month.
REFERRAL_PERCENT = int(os.environ.get("REFERRAL_PERCENT", "10"))
REFERRAL_MONTHS = int(os.environ.get("REFERRAL_MONTHS", "12"))
REFERRAL_MONTHLY_CAP_CREDITS = int(os.environ.get("REFERRAL_MONTHLY_CAP_CREDITS", "10000"))
# A hold must outlive its request: upstream attempts (600 s each, up to 3) plus settlement.
HOLD_TTL_SECONDS = int(os.environ.get("HOLD_TTL_SECONDS", "3600"))

# --- Internationalisation ------------------------------------------------------------------------
LANGUAGE_CODE = "en"
# zh-hant is chosen for Accept-Language zh-TW, zh-HK, zh-MO and zh-Hant (Django maps them), zh-hans
# for zh-CN, zh-SG and zh-Hans.
LANGUAGES = [("en", _("English")), ("zh-hans", _("简体中文")), ("zh-hant", _("繁體中文"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- E-mail --------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "OpenCodex <no-reply@opencodex.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

# --- Celery --------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "celery" / "queue"),
        "data_folder_out": str(VAR_DIR / "celery" / "queue"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "recover-settlement-journals": {
        "task": "apps.usage.tasks.recover_settlement_journals",
        "schedule": 60.0,
    },
    "probe-disabled-deployments": {
        "task": "apps.catalog.tasks.probe_disabled_deployments",
        "schedule": 60.0,
    },
    "release-expired-holds": {
        "task": "apps.usage.tasks.release_expired_holds",
        "schedule": 60.0,
    },
    "rollup-usage": {
        "task": "apps.usage.tasks.rollup_recent_usage",
        "schedule": 60.0,
    },
    "usage-partitions": {
        "task": "apps.usage.tasks.maintain_usage_partitions",
        "schedule": 3600.0,
    },
    "low-balance-emails": {
        "task": "apps.billing.tasks.send_low_balance_emails",
        "schedule": 60.0,
    },
    "auto-topups": {
        "task": "apps.billing.tasks.run_auto_topups",
        "schedule": 30.0,
    },
    "budget-alerts": {
        "task": "apps.billing.tasks.send_budget_alerts",
        "schedule": 60.0,
    },
    "deliver-webhooks": {
        "task": "apps.webhooks.tasks.deliver_due",
        "schedule": 5.0,
    },
    "expired-key-webhooks": {
        "task": "apps.keys.tasks.notify_expired_keys",
        "schedule": 60.0,
    },
    "prune-webhooks": {
        "task": "apps.webhooks.tasks.prune",
        "schedule": 3600.0,
    },
    "prune-audit-log": {
        "task": "apps.audit.tasks.prune",
        "schedule": 3600.0,
    },
}

# Logs: one JSON object per line with the request id (apps/core/logs.py), or plain text.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "apps.core.logs.RequestIdFilter"},
        "secret_paths": {"()": "apps.core.logs.SecretPathFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "apps.core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id", "secret_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- API keys ------------------------------------------------------------------------------------
# Keys are stored as HMAC-SHA256 digests under this secret. Changing it invalidates every key.
# Without its own value it is derived from SECRET_KEY (so rotating SECRET_KEY would too).
API_KEY_HMAC_SECRET = os.environ.get("API_KEY_HMAC_SECRET", "")
API_KEYS_MAX_ACTIVE = int(os.environ.get("API_KEYS_MAX_ACTIVE", "50"))
API_DEFAULT_RPM = int(os.environ.get("API_DEFAULT_RPM", "600"))
# The most requests per minute a key may be given (its owner sets it on the keys page).
API_MAX_RPM = int(os.environ.get("API_MAX_RPM", "6000"))
# The most tokens per minute a key may be given (none by default: only a key's own limit counts).
API_MAX_TPM = int(os.environ.get("API_MAX_TPM", "100000000"))

# --- Catalog and gateway -------------------------------------------------------------------------
OPENCODEX_CATALOG = os.environ.get("OPENCODEX_CATALOG", str(BASE_DIR / "config" / "catalog.toml"))
# sync_catalog refuses (without --force) a sale price moved by more than this factor either way.
CATALOG_PRICE_FACTOR = float(os.environ.get("CATALOG_PRICE_FACTOR", "3"))
# The built-in demo upstream answers catalog models whose provider has no API key configured.
DEMO_UPSTREAM_ENABLED = env_bool("OPENCODEX_DEMO_UPSTREAM", True)
# Milliseconds between the demo upstream's streamed events (a human reading pace; 0: at once).
DEMO_STREAM_DELAY_MS = float(os.environ.get("DEMO_STREAM_DELAY_MS", "20"))
DEMO_UPSTREAM_BASE_URL = os.environ.get(
    "DEMO_UPSTREAM_BASE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/_demo/v1"
)
# Where the portal's playground calls the gateway: this server itself over loopback, unless told.
PLAYGROUND_API_BASE_URL = os.environ.get(
    "PLAYGROUND_API_BASE_URL",
    f"http://127.0.0.1:{os.environ.get('WEB_PORT') or os.environ.get('PORT', '8000')}/api/v1",
).rstrip("/")
PLAYGROUND_KEY_SECONDS = 3600  # a playground key lives an hour; a fresh one is minted after
# Requests carry images, PDFs and audio as base64: 32 MiB by default.
# The bearer token Prometheus sends for /metrics (unset: /metrics is 404).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# /readyz: the probe of each dependency, registered by the app that owns it (a function that
# raises when not ready), and how long a result is kept.
READINESS_PROBES = {
    "database": "apps.core.views.database_ping",
    "redis": "apps.keys.cache.redis_ping",
    "broker": "config.celery.broker_ping",
    "catalog": "apps.catalog.selectors.catalog_ready",
}
READINESS_CACHE_SECONDS = float(os.environ.get("READINESS_CACHE_SECONDS", "2"))
# Each gateway process journals every request's outcome here before the response completes;
# a process's journal is settled from after it dies (apps/usage/journal.py). Empty: off.
# Usage records (one per API request) are kept this many days; the hourly rollups and the
# ledger forever. On PostgreSQL whole daily partitions are dropped, created this many days ahead.
USAGE_RETENTION_DAYS = int(os.environ.get("USAGE_RETENTION_DAYS", "90"))
USAGE_PARTITIONS_AHEAD_DAYS = int(os.environ.get("USAGE_PARTITIONS_AHEAD_DAYS", "7"))
# One log line per API request (request id, key, model, status, tokens, cost, latency).
GATEWAY_ACCESS_LOG = env_bool("GATEWAY_ACCESS_LOG", False)
GATEWAY_JOURNAL_DIR = os.environ.get("GATEWAY_JOURNAL_DIR", str(VAR_DIR / "journal"))
# Recovering a journal on PostgreSQL: outcomes settled per transaction, and the pause after
# each batch as a multiple of the time the batch took (1.0: recovery is busy at most half the
# time, so a large replay never doubles the database's load; 0: no pause). PACE "adaptive":
# that pause only while other connections use the database (growing with how many), none
# while nobody does; "fixed": after every batch, whatever the load.
GATEWAY_JOURNAL_BATCH = int(os.environ.get("GATEWAY_JOURNAL_BATCH", "1000"))
GATEWAY_JOURNAL_PAUSE = float(os.environ.get("GATEWAY_JOURNAL_PAUSE", "1.0"))
GATEWAY_JOURNAL_PACE = os.environ.get("GATEWAY_JOURNAL_PACE", "adaptive")
# Connections recovery settles with while nobody else uses the database (one batch each).
GATEWAY_JOURNAL_WORKERS = int(os.environ.get("GATEWAY_JOURNAL_WORKERS", "2"))
GATEWAY_MAX_JSON_DEPTH = 64  # deeper request bodies get a 400
# Kept prompts and answers (for users who turn it on): bytes per request, and per account.
CONTENT_MAX_BYTES = int(os.environ.get("CONTENT_MAX_BYTES", str(256 * 1024)))
CONTENT_QUOTA_BYTES = int(os.environ.get("CONTENT_QUOTA_BYTES", str(200 * 1024 * 1024)))
# Messages, input items and content blocks one request may hold (a 400 beyond).
GATEWAY_MAX_ITEMS = int(os.environ.get("GATEWAY_MAX_ITEMS", "100000"))
# Bodies larger than this are parsed, translated and estimated in worker threads, off the loop.
GATEWAY_INLINE_BODY_BYTES = int(os.environ.get("GATEWAY_INLINE_BODY_BYTES", str(256 * 1024)))
# A request body that trickles in slower than this is refused (408), freeing the connection.
GATEWAY_BODY_READ_TIMEOUT = float(os.environ.get("GATEWAY_BODY_READ_TIMEOUT", "30"))
GATEWAY_MAX_BODY_BYTES = int(os.environ.get("GATEWAY_MAX_BODY_BYTES", str(32 * 1024 * 1024)))
GATEWAY_UPSTREAM_CONNECT_TIMEOUT = float(os.environ.get("GATEWAY_UPSTREAM_CONNECT_TIMEOUT", "5"))
GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT = float(
    os.environ.get("GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT", "60")
)
GATEWAY_UPSTREAM_TOTAL_TIMEOUT = float(os.environ.get("GATEWAY_UPSTREAM_TOTAL_TIMEOUT", "600"))
# Retries of connection errors, timeouts and 5xx, before anything reached the client, within one
# time budget per request (Retry-After honoured); none when the client says it is retrying.
GATEWAY_UPSTREAM_RETRIES = int(os.environ.get("GATEWAY_UPSTREAM_RETRIES", "1"))
# Routing over a model's deployments: a 429 without Retry-After, or a burst of failures, cools
# a deployment this long; a refused key or exhausted quota disables it this long; a session
# stays on the deployment that served it while it is idle less than this.
GATEWAY_COOLDOWN_SECONDS = float(os.environ.get("GATEWAY_COOLDOWN_SECONDS", "10"))
GATEWAY_DISABLE_SECONDS = float(os.environ.get("GATEWAY_DISABLE_SECONDS", "300"))
GATEWAY_STICKY_SECONDS = int(os.environ.get("GATEWAY_STICKY_SECONDS", "600"))
GATEWAY_UPSTREAM_RETRY_BUDGET = float(os.environ.get("GATEWAY_UPSTREAM_RETRY_BUDGET", "10"))
# When the balance (or a key's credit limit) cannot cover a request's full output, the output
# limit is lowered to what it covers; below this many tokens the request is refused with 402.
GATEWAY_MIN_OUTPUT_TOKENS = int(os.environ.get("GATEWAY_MIN_OUTPUT_TOKENS", "256"))
GATEWAY_KEY_CACHE_SECONDS = 60
GATEWAY_CATALOG_CACHE_SECONDS = float(os.environ.get("GATEWAY_CATALOG_CACHE_SECONDS", "10"))
GATEWAY_DB_THREADS = int(os.environ.get("GATEWAY_DB_THREADS", "8"))
# On PostgreSQL the gateway holds and settles with one SQL statement each on an async pool.
GATEWAY_PG_FASTPATH = env_bool("GATEWAY_PG_FASTPATH", True)
GATEWAY_PG_POOL_TIMEOUT = float(os.environ.get("GATEWAY_PG_POOL_TIMEOUT", "2"))
GATEWAY_PG_POOL_SIZE = int(os.environ.get("GATEWAY_PG_POOL_SIZE", "16"))
GATEWAY_SETTLE_WINDOW_MS = float(os.environ.get("GATEWAY_SETTLE_WINDOW_MS", "5"))

# --- Billing (Stripe) ----------------------------------------------------------------------------
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_CURRENCY = os.environ.get("STRIPE_CURRENCY", "usd").lower()
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_WEBHOOK_TOLERANCE = int(os.environ.get("STRIPE_WEBHOOK_TOLERANCE", "300"))
# Auto top-up's amounts (whole US dollars, STRIPE_CURRENCY: a saved card, charged off-session).
CUSTOM_TOPUP_MIN_DOLLARS, CUSTOM_TOPUP_MAX_DOLLARS = 5, 1000
# What a buyer pays through Checkout, per currency (no live exchange rate): each pack's price in
# the currency's minor unit (cents, fen) for the credits it buys (the same in every currency);
# any other amount is whole units from "min" to "max", each buying "credits_per_unit" credits
# (integers: HK$100 buys exactly 1,200 credits); and the payment methods offered beside cards
# (those Stripe allows in the currency: apps/billing/currencies.py). The first is the default,
# except that 简体中文 defaults to CNY.
BILLING_CURRENCIES = {
    "usd": {
        "packs": {500: 500, 1000: 1000, 2500: 2500, 10000: 10000},
        "credits_per_unit": 100,
        "min": CUSTOM_TOPUP_MIN_DOLLARS,
        "max": CUSTOM_TOPUP_MAX_DOLLARS,
        "methods": ["card", "alipay", "wechat_pay"],
    },
    "hkd": {
        "packs": {500: 4000, 1000: 8000, 2500: 20000, 10000: 80000},
        "credits_per_unit": 12,
        "min": 40,
        "max": 8000,
        "methods": ["card", "alipay", "wechat_pay"],
    },
    "cny": {
        "packs": {500: 3600, 1000: 7200, 2500: 18000, 10000: 72000},
        "credits_per_unit": 13,
        "min": 36,
        "max": 7200,
        "methods": ["card", "alipay", "wechat_pay"],
    },
}
BILLING_LANGUAGE_CURRENCIES = {"zh-hans": "cny"}
# Redemption codes: failed attempts allowed per account and per client IP address in a window
# (counted from the first failure), before further attempts are refused until it ends.
REDEEM_FAILURES_PER_ACCOUNT = int(os.environ.get("REDEEM_FAILURES_PER_ACCOUNT", "10"))
REDEEM_FAILURES_PER_IP = int(os.environ.get("REDEEM_FAILURES_PER_IP", "30"))
REDEEM_WINDOW_SECONDS = int(os.environ.get("REDEEM_WINDOW_SECONDS", "3600"))
REDEEM_BATCH_MAX_CODES = 10_000
# Auto top-up: at most this many automatic charges per account per UTC day (a loop guard); after
# this many failed charges in a row it turns itself off; a failed dip is retried after a pause.
AUTO_TOPUP_DAILY_CAP = int(os.environ.get("AUTO_TOPUP_DAILY_CAP", "5"))
AUTO_TOPUP_MAX_FAILURES = int(os.environ.get("AUTO_TOPUP_MAX_FAILURES", "3"))
AUTO_TOPUP_RETRY_SECONDS = int(os.environ.get("AUTO_TOPUP_RETRY_SECONDS", "3600"))
BUDGET_ALERT_LEVELS = [50, 80, 100]

# --- Customer webhooks ---------------------------------------------------------------------------
# Endpoints must resolve to public addresses only; this lets loopback and private ones through,
# for development (a receiver on this machine). Production settings force it off.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", False)
# One attempt: connect, send and read the answer within this many seconds, at most this many
# bytes of the answer read (and kept for the delivery log); redirects are never followed.
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5"))
WEBHOOK_RESPONSE_MAX_BYTES = 4096
# A failed delivery is tried again after these delays (seconds; the last one repeats) until
# WEBHOOK_RETRY_WINDOW after its first attempt (one last try at that moment); still failing
# then, the endpoint is turned off and its owner e-mailed.
WEBHOOK_RETRY_DELAYS = (5, 30, 120, 300, 900, 1800, 3600, 7200, 14400, 28800)
WEBHOOK_RETRY_WINDOW = int(os.environ.get("WEBHOOK_RETRY_WINDOW", str(24 * 3600)))
WEBHOOK_BATCH = 50  # deliveries one sender sends to one endpoint before it lets others go
WEBHOOK_ENDPOINTS_MAX = int(os.environ.get("WEBHOOK_ENDPOINTS_MAX", "10"))
WEBHOOK_SECRET_OVERLAP_SECONDS = 24 * 3600  # a rolled secret keeps signing beside the new one
WEBHOOK_LOG_DAYS = int(os.environ.get("WEBHOOK_LOG_DAYS", "30"))  # events and delivery logs
# key.expired is sent for keys that expired within this many seconds (the sweep's window).
WEBHOOK_KEY_EXPIRY_LOOKBACK = 24 * 3600

# --- Audit log -----------------------------------------------------------------------------------
# Events older than this many days are deleted by an hourly task; unset or 0 keeps them forever.
AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS") or 0) or None
AUDIT_PAGE_SIZE = 50

# --- Sign in with GitHub or Google ---------------------------------------------------------------
# Each provider is on when its OAuth app's client id and secret are set (GITHUB_CLIENT_ID and
# GITHUB_CLIENT_SECRET; GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET); off, its button and its URLs
# are not there. The callback URLs to register with the provider are
# SITE_URL/accounts/github/login/callback/ and SITE_URL/accounts/google/login/callback/.
# A provider's e-mail address that the provider says is verified signs in the account that has
# it (and links the provider to it); an unverified one is never trusted.


def social_providers_from_env(environ=os.environ) -> dict:
    providers = {
        "github": {"SCOPE": ["read:user", "user:email"]},
        "google": {
            "SCOPE": ["openid", "profile", "email"],
            "AUTH_PARAMS": {"prompt": "select_account"},
        },
    }
    for provider_id, config in providers.items():
        prefix = provider_id.upper()
        client_id = (environ.get(f"{prefix}_CLIENT_ID") or "").strip()
        secret = (environ.get(f"{prefix}_CLIENT_SECRET") or "").strip()
        on = bool(client_id and secret)
        config["APPS"] = [{"client_id": client_id, "secret": secret}] if on else []
    return providers


SOCIALACCOUNT_PROVIDERS = social_providers_from_env()
SOCIALACCOUNT_ADAPTER = "apps.accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10

# --- Support, Terms and Privacy ------------------------------------------------------------------
# The address the Support page, the footer and every "contact support" point to, and who runs the
# site (named in the Terms and Privacy pages). LEGAL_DIR: a folder with the operator's own
# terms.md and privacy.md (Markdown; terms.zh-hans.md ... for one language); unset, placeholders.
SUPPORT_EMAIL = os.environ.get("SUPPORT_EMAIL", "support@opencodex.local")
SITE_OPERATOR = os.environ.get("SITE_OPERATOR", "OpenCodex")
LEGAL_DIR = os.environ.get("LEGAL_DIR", "")

# Every form field drawn the same way: label, input, errors, help in one block (apps/core/forms.py).
FORM_RENDERER = "apps.core.forms.SiteFormRenderer"

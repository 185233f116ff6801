"""qlaud settings: one file, read from the environment.

Every variable is listed in .env.example. With nothing set, qlaud runs on embedded
defaults: SQLite, a local-memory cache, an in-memory channel layer, eager Celery tasks
and console email. DATABASE_URL and REDIS_URL switch on the real services.
"""

from __future__ import annotations

import sys
from pathlib import Path

import environ

from lib.redis_client import redis_db

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.smart_cast = False


def secret(name: str, default: str = "") -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/K8s secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default=default)


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = secret("SECRET_KEY", "dev-only-insecure-key-set-SECRET_KEY-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public base URL shown in docs, snippets and emails. Unset, it follows HOST and PORT, the address
# `make run` serves on; pages rendered in a request use the request's own host when it is allowed
# and SITE_URL is not set (lib/site_url.py).
_HOST = env.str("HOST", default="127.0.0.1")
SITE_URL_DEFAULT = f"http://{'127.0.0.1' if _HOST in ('0.0.0.0', '::', '') else _HOST}:{env.int('PORT', default=8000)}"
SITE_URL = env.str("SITE_URL", default=SITE_URL_DEFAULT).rstrip("/")
# Where people reach us: shown in the footer, on /security and in /.well-known/security.txt.
CONTACT_EMAIL = env.str("CONTACT_EMAIL", default="hello@qlaud.ai")
SECURITY_EMAIL = env.str("SECURITY_EMAIL", default="security@qlaud.ai")
# Staff who get mail_admins reports (catalog sync: retired hosts, price differences). "Name <a@b>,..."
ADMINS = [(a.split("<")[0].strip() or a, a.split("<")[-1].rstrip(">").strip()) for a in env.list("ADMINS", default=[])]

INSTALLED_APPS = [
    "django.contrib.admin.apps.SimpleAdminConfig",  # admin modules load with the URLconf (qlaud/urls.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "django.contrib.sitemaps",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc as local static files (no CDN)
    "django_htmx",
    "django_celery_beat",
    "djstripe",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "accounts",
    "requestlog",
    "wallet",
    "catalog",
    "gateway",
    "blog",
    "api",
    "qlaud",
]
# Daphne's app swaps `runserver` for an ASGI server and loads Twisted with it (~25 MB per process): only that
# development command gets it; production workers are uvicorn or granian.
if sys.argv[1:2] == ["runserver"]:
    INSTALLED_APPS.insert(0, "daphne")

MIDDLEWARE = [
    "qlaud.middleware.HttpsOnlyApiMiddleware",  # API calls over http: a JSON 403, not the redirect below
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "qlaud.middleware.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.CurrentOrgMiddleware",
    "qlaud.middleware.ApiUnavailableMiddleware",  # last: first to see a view's exception
]

ROOT_URLCONF = "qlaud.urls"
ASGI_APPLICATION = "qlaud.asgi.application"
WSGI_APPLICATION = None
SITE_ID = 1

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
                "qlaud.context_processors.site",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the async gateway and the dashboard share one file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    # Off by default: with it on, every ledger write first pays a `SELECT 1` round trip. A connection
    # that broke is still dropped after the error (Django closes errored connections).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="").rstrip("/")
# Names the cache's keys, the channel layer's groups and embedded mode's shared-state files (lib.shared_state).
CACHE_PREFIX = env.str("CACHE_PREFIX", default="qlaud")


if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_db(REDIS_URL, 2),
            "KEY_PREFIX": CACHE_PREFIX,
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_db(REDIS_URL, 1)], "prefix": CACHE_PREFIX},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": CACHE_PREFIX}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery ------------------------------------------------------------------------
# Without Redis, the few values other processes must see (the API-key epoch, the catalog version)
# live in files here, shared by `make run` and every `manage.py` command of this checkout.
SHARED_STATE_DIR = env.str("SHARED_STATE_DIR", default=str(BASE_DIR / "var" / "shared-state"))
CELERY_BROKER_URL = redis_db(REDIS_URL, 0) if REDIS_URL else "memory://"
CELERY_RESULT_BACKEND = redis_db(REDIS_URL, 3) if REDIS_URL else None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- Auth and accounts -------------------------------------------------------------
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
LOGIN_REDIRECT_URL = "/dashboard/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True  # confirming the address is the last step of signing up
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# Failed logins are throttled per client and account, never per account alone: allauth's default
# (5 per 5 min per e-mail address) let anyone lock a user out by typing wrong passwords for them.
# The "key" of login_failed is the address plus the client's address (accounts/adapter.py); one client
# may also fail at most 10 times a minute across accounts. Counts live in the default cache (Redis
# with REDIS_URL, shared by every worker). Behind a load balancer, say which address is the client's
# (ALLAUTH_TRUSTED_PROXY_COUNT or ALLAUTH_TRUSTED_CLIENT_IP_HEADER), or every visitor counts as one.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env.str("TRUSTED_CLIENT_IP_HEADER", default="") or None

SOCIALACCOUNT_PROVIDERS: dict[str, dict] = {}
for _provider in ("github", "google"):
    _id = env.str(f"{_provider.upper()}_CLIENT_ID", default="")
    if _id:
        SOCIALACCOUNT_PROVIDERS[_provider] = {
            "APPS": [{"client_id": _id, "secret": secret(f"{_provider.upper()}_CLIENT_SECRET")}],
        }

# API keys are stored as prefix + HMAC(API_KEY_SECRET, key); rotate only with a key migration.
API_KEY_SECRET = secret("API_KEY_SECRET", SECRET_KEY)
# How stale a worker's copy of the shared key epoch may be: a revocation reaches every worker within this.
KEY_EPOCH_MAX_AGE_MS = env.int("KEY_EPOCH_MAX_AGE_MS", default=50)
# Fernet key (or any string; it is stretched) for provider keys stored with `setprovider --api-key`.
FIELD_ENCRYPTION_KEY = secret("FIELD_ENCRYPTION_KEY", SECRET_KEY)

# --- Money, billing, Stripe ----------------------------------------------------------
# Markup over upstream cost in basis points (700 = 7%). Integers only: see wallet/money.py.
QLAUD_MARKUP_BPS = env.int("QLAUD_MARKUP_BPS", default=700)
BYOK_FEE_RATE = env.str("BYOK_FEE_RATE", default="0.05")  # share of the qlaud price a BYOK request pays
# Where an org's own Vertex service account mints its tokens: always this, never the token_uri its JSON names
# (a customer-given URL qlaud would POST to). Tests point it at a local fake.
BYOK_GOOGLE_TOKEN_URI = env.str("BYOK_GOOGLE_TOKEN_URI", default="https://oauth2.googleapis.com/token")
TOPUP_AMOUNTS_USD = [5, 20, 100]
TOPUP_MIN_USD = env.int("TOPUP_MIN_USD", default=5)
TOPUP_MAX_USD = env.int("TOPUP_MAX_USD", default=1000)
LOW_BALANCE_DEFAULT_USD = env.int("LOW_BALANCE_DEFAULT_USD", default=2)
HOLD_TIMEOUT_SECONDS = env.int("HOLD_TIMEOUT_SECONDS", default=900)
# Leases (wallet/leases.py): each worker reserves up to this much of a wallet at once (and at most
# 1/WALLET_LEASE_SHARE of what is available), spends it request by request in memory, and writes
# the usage entries in one transaction every WALLET_FLUSH_SECONDS. A lease whose worker stopped
# renewing it for WALLET_LEASE_TTL_SECONDS is settled by the reconciler.
WALLET_LEASE_MAX_MICROS = env.int("WALLET_LEASE_MAX_MICROS", default=5_000_000)
WALLET_LEASE_SHARE = env.int("WALLET_LEASE_SHARE", default=4)
WALLET_FLUSH_SECONDS = env.float("WALLET_FLUSH_SECONDS", default=0.2)
WALLET_LEASE_IDLE_SECONDS = env.float("WALLET_LEASE_IDLE_SECONDS", default=10.0)
# With the reconciler every RECONCILE_EVERY_SECONDS (setup_schedules), a dead worker's lease is
# settled within TTL + that: 40 + 15 = 55 s. Live workers renew every TTL/4 (10 s) or flush.
WALLET_LEASE_TTL_SECONDS = env.int("WALLET_LEASE_TTL_SECONDS", default=40)
RECONCILE_EVERY_SECONDS = env.int("RECONCILE_EVERY_SECONDS", default=15)
# How far back the reconciler looks for RequestLog rows with a cost and no usage entry.
RECONCILE_LOOKBACK_SECONDS = env.int("RECONCILE_LOOKBACK_SECONDS", default=3600)

STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
STRIPE_TEST_SECRET_KEY = secret("STRIPE_TEST_SECRET_KEY", "")
STRIPE_LIVE_SECRET_KEY = secret("STRIPE_LIVE_SECRET_KEY", "")
STRIPE_API_VERSION = "2024-04-10"
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")  # tests point this at a local fake
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_USE_NATIVE_JSONFIELD = True
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"

# --- Gateway -------------------------------------------------------------------------
GATEWAY_MAX_BODY_BYTES = env.int("GATEWAY_MAX_BODY_BYTES", default=20 * 1024 * 1024)
# Request JSON nested deeper than this is a 400 (real clients stay under ~10 levels; tool schemas a few more).
GATEWAY_MAX_JSON_DEPTH = env.int("GATEWAY_MAX_JSON_DEPTH", default=128)
GATEWAY_CONNECT_TIMEOUT = env.float("GATEWAY_CONNECT_TIMEOUT", default=10.0)
GATEWAY_READ_TIMEOUT = env.float("GATEWAY_READ_TIMEOUT", default=600.0)
GATEWAY_MAX_ATTEMPTS = env.int("GATEWAY_MAX_ATTEMPTS", default=3)
# The built-in demo model qlaud/demo (gateway/providers/demo.py: answered in-process, no network, no key). On by
# default with DEBUG or the embedded SQLite database, so a first request works out of the box; off in production
# unless set.
QLAUD_DEMO = env.bool("QLAUD_DEMO", default=DEBUG or DATABASES["default"]["ENGINE"].endswith("sqlite3"))
# Per-worker admission (gateway/admission.py): past either, new requests are refused (529/503 + Retry-After).
# The default is measured (docs/benchmarks.md, "Open streams"); the upstream pool (outbound.py) is at least this.
GATEWAY_MAX_OPEN_STREAMS = env.int("GATEWAY_MAX_OPEN_STREAMS", default=500)
GATEWAY_MAX_LOOP_LAG_MS = env.float("GATEWAY_MAX_LOOP_LAG_MS", default=250.0)
# A stream whose upstream sends nothing this long ends with the surface's error event (billing what
# was delivered): before its first event (headers included), and between events. A host may
# override either (catalog Host.first_byte_timeout / Host.idle_timeout, e.g. for slow reasoners).
GATEWAY_FIRST_BYTE_TIMEOUT = env.float("GATEWAY_FIRST_BYTE_TIMEOUT", default=45.0)
GATEWAY_IDLE_TIMEOUT = env.float("GATEWAY_IDLE_TIMEOUT", default=30.0)
# Circuit breaker per host: open after this many consecutive failures, probe again after the cool-down.
CIRCUIT_FAILURE_THRESHOLD = env.int("CIRCUIT_FAILURE_THRESHOLD", default=5)
CIRCUIT_COOLDOWN_SECONDS = env.float("CIRCUIT_COOLDOWN_SECONDS", default=3.0)  # then one half-open probe
# Live-board probes (gateway/probes.py): every PROBE_INTERVAL_SECONDS a tiny streaming request to each
# enabled, configured provider's probe host (catalog.yaml `probe:`), paid from the house account
# (HOUSE_ORG_SLUG's wallet) up to PROBE_DAILY_BUDGET_MICROS a UTC day. Off unless both are set.
PROBE_INTERVAL_SECONDS = env.int("PROBE_INTERVAL_SECONDS", default=0)
PROBE_DAILY_BUDGET_MICROS = env.int("PROBE_DAILY_BUDGET_MICROS", default=0)
PROBE_MAX_TOKENS = env.int("PROBE_MAX_TOKENS", default=48)
PROBE_TIMEOUT_SECONDS = env.float("PROBE_TIMEOUT_SECONDS", default=30.0)
HOUSE_ORG_SLUG = env.str("HOUSE_ORG_SLUG", default="qlaud-house")
# `:nitro` orders hosts by customer throughput, or by probe throughput when a host served fewer than
# this many customer requests in the last 30 minutes (thin traffic says little).
NITRO_MIN_CUSTOMER_SAMPLES = env.int("NITRO_MIN_CUSTOMER_SAMPLES", default=20)
# aiohttp (httpx over httpx-aiohttp's transport, the fast default) or httpx (httpx's own transport).
GATEWAY_HTTP_TRANSPORT = env.str("GATEWAY_HTTP_TRANSPORT", default="aiohttp")
RESPONSES_SEAL_KEY = secret("RESPONSES_SEAL_KEY", SECRET_KEY)  # seals reasoning in /v1/responses encrypted_content
# How long the reasoning behind a tool call is kept for providers that need it back (DeepSeek thinking mode).
REASONING_MEMORY_SECONDS = env.int("REASONING_MEMORY_SECONDS", default=6 * 3600)
# Cloudflare AI Gateway: the one switch. With both set, every provider AI Gateway supports (one
# with a cf_segment in the catalog) goes through it, unless `setprovider SLUG --no-aig` opts it out.
# CF_AIG_ACCOUNT_ID / CF_AIG_GATEWAY_ID are the older names, still read.
CF_AIG_ACCOUNT_ID = env.str("CLOUDFLARE_AIG_ACCOUNT_ID", default="") or env.str("CF_AIG_ACCOUNT_ID", default="")
CF_AIG_GATEWAY_ID = env.str("CLOUDFLARE_AIG_GATEWAY", default="") or env.str("CF_AIG_GATEWAY_ID", default="")
CF_AIG_ON = bool(CF_AIG_ACCOUNT_ID and CF_AIG_GATEWAY_ID)
CF_AIG_TOKEN = secret("CF_AIG_TOKEN", "")
CF_AIG_BASE_URL = env.str("CF_AIG_BASE_URL", default="https://gateway.ai.cloudflare.com/v1")
DATA_UPLOAD_MAX_MEMORY_SIZE = GATEWAY_MAX_BODY_BYTES

# --- Email ---------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="qlaud <noreply@qlaud.local>")

# --- Static, i18n --------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Management API (/api/v1/, the api app) ------------------------------------------
# Requests per management key (or per signed-in user), DRF's "N/period" syntax.
MANAGEMENT_API_RATE = env.str("MANAGEMENT_API_RATE", default="300/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.access.ManagementKeyAuthentication", "api.access.OrgSessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.access.OrgAccess"],
    "DEFAULT_THROTTLE_CLASSES": ["api.access.ManagementKeyThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "qlaud management API",
    "DESCRIPTION": "Manage API keys, usage, the wallet, the team and model aliases. See /docs/management-api/.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.models.Membership.Role",
        "LimitPeriodEnum": "accounts.models.ApiKey.Period",
        "ScopeEnum": "accounts.models.ManagementKey.Scope",
        "ApiKeyStatusEnum": ["active", "revoked", "expired"],
        "ManagementKeyStatusEnum": ["active", "revoked"],
    },
}

# --- Security (production when DEBUG is off) -----------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG and SITE_URL.startswith("https"))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every HTML page (qlaud.middleware.ContentSecurityPolicyMiddleware): scripts, styles, fonts and images from this
# site only, no inline script and no eval; inline style *attributes* stay allowed (bar widths are data), `<style>`
# elements do not. 'self' in connect-src also covers the dashboard's same-host websocket. No form-action: sign-in
# with GitHub/Google and Stripe Checkout are redirects after a form post. The API reference page (Redoc) has its
# own, wider policy (api/urls.py).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)
REDOC_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "worker-src 'self' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",  # Redoc's "API docs by Redocly" logo (cdn.redoc.ly) is refused: no third-party loads
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"level": "ERROR"}, "httpx": {"level": "WARNING"}},
}

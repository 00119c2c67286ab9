"""Settings shared by every environment; everything that differs comes from the environment."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

SECRET_KEY = env(
    "SECRET_KEY", default="insecure-local-key-change-me-in-every-deployment-0123456789"
)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
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
    "rest_framework",
    # API tokens: hashed, expiring, one per client (partners.ApiToken, KNOX_TOKEN_MODEL).
    "knox",
    "drf_spectacular",
    "django_filters",
    "django_celery_beat",
    "django_htmx",
    "simple_history",
    "rules",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # Single sign-on through each organisation's identity provider (integrations.SsoSetup):
    # OpenID Connect and SAML 2.0, configured in the database (allauth's SocialApp).
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    # Failed sign-ins counted in the database, per username and per address (prm.throttles).
    "axes",
    # The project's apps, lowest layer first (see ARCHITECTURE.md).
    "prm",
    "partners",
    "integrations",
    "enablement",
    "incentives",
    "deals",
    "scoring",
]

MIDDLEWARE = [
    # First, so that every response carries X-Request-ID and every log line the request id
    # (prm.logs).
    "prm.logs.RequestIdMiddleware",
    # Request counts and latencies for Prometheus (django-prometheus; its pair is last).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "prm.security.SecurityHeadersMiddleware",
    # Cache-Control: no-store on every answer to a signed-in user (prm.security).
    "prm.security.NoStoreWhenSignedInMiddleware",
    # A body larger than MAX_REQUEST_BYTES is refused (413) before it is read.
    "prm.errors.RequestSizeMiddleware",
    # A query string holding a NUL character is refused (400) before any view reads it.
    "prm.errors.NulInQueryMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Staff roles set up two-factor sign-in before anything else (prm.mfa).
    "prm.mfa.StaffMfaRequiredMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # An unreachable database answers 503 (Retry-After), not 500.
    "prm.errors.DatabaseUnavailableMiddleware",
    # Last, so that it sees the sign-in's outcome: a locked-out attempt answers 429.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Content-Security-Policy (prm/security.py): scripts and styles from our own static files only;
# "'nonce'" stands for the request's nonce, which the few <style> blocks carry.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'nonce'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
CONTENT_SECURITY_POLICY_REPORT_ONLY = env.bool("CSP_REPORT_ONLY", default=False)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

ROOT_URLCONF = "prm.urls"
WSGI_APPLICATION = "prm.wsgi.application"

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
                "prm.context_processors.roles",
                "partners.context_processors.notices",
            ],
        },
    },
]

# Database: PostgreSQL in production and tests; a SQLite file (WAL) when nothing is configured,
# so `make run` works on a machine with no database server.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'prm.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # The covering indexes' INCLUDE columns are PostgreSQL's; SQLite builds the index on
    # its key columns alone, which is all the embedded default needs.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Behind PgBouncer in transaction mode, set DISABLE_SERVER_SIDE_CURSORS=true: a cursor
    # outlives its transaction only on a session of its own. (The app's one long read, the
    # ledger export, also reads inside a transaction, where a cursor is safe either way.)
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DISABLE_SERVER_SIDE_CURSORS", default=False
    )


def metered(database: dict) -> dict:
    """The same database through django-prometheus's engine, which subclasses Django's and
    counts connections, queries, their durations and errors for /metrics."""
    engine = database["ENGINE"]
    if engine in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
        database["ENGINE"] = engine.replace("django.db.", "django_prometheus.db.", 1)
    return database


DATABASES["default"] = metered(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "partners.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses every attempt while the username or the address is locked out.
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
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
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

# allauth: username or e-mail login, no self sign-up (partners are invited).
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
# partners' adapter (invitations only, failures counted by axes), with the SSO set-ups' rule
# on passwords (integrations.sso).
ACCOUNT_ADAPTER = "integrations.sso.AccountAdapter"
# The sign-in form sends a work e-mail whose domain has single sign-on to that organisation's
# identity provider, and refuses passwords where the organisation turned them off; so do the
# password-reset forms (integrations.sso).
ACCOUNT_FORMS = {
    "login": "integrations.sso.LoginForm",
    "reset_password": "integrations.sso.ResetPasswordForm",
    "reset_password_from_key": "integrations.sso.ResetPasswordKeyForm",
}
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
# allauth's own limits live in the cache and so fail open while Redis is down: password
# failures are counted by axes instead (below; the adapter skips allauth's count), while
# allauth's "login_failed" limit still slows the guessing of two-factor codes when the
# cache is up (failed codes count in axes too: prm.mfa).
ACCOUNT_RATE_LIMITS = {"login_failed": "5/5m/ip,5/5m/key"}

# Two-factor sign-in (allauth.mfa): an authenticator app's codes, with recovery codes.
# Required for the staff roles (prm.mfa); any partner person may turn it on.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env("MFA_TOTP_ISSUER", default="PRM")
# A code is accepted from the step before and after the current one too: phones drift.
MFA_TOTP_TOLERANCE = 1
MFA_FORMS = {"authenticate": "prm.mfa.AuthenticateForm"}

# Single sign-on (integrations.sso, docs/sso.md): who an identity provider may sign in, and
# as what, is decided by the organisation's SSO set-up, never by allauth's defaults: no
# sign-up form, no link to an existing login by e-mail alone, no tokens kept.
SOCIALACCOUNT_ADAPTER = "integrations.sso.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
# Seconds to wait for an identity provider (discovery, token and user-info requests).
SOCIALACCOUNT_REQUESTS_TIMEOUT = env.int("SSO_REQUESTS_TIMEOUT", default=5)

# Failed sign-ins (portal, admin through the portal, API token): axes keeps them in the
# database, so the lockout holds whatever the state of the cache. Locked out: five
# failures for one username, or twenty from one address, within the cool-off; every
# further attempt meanwhile (even with the right password) is refused with 429 and
# starts the cool-off again.
AXES_HANDLER = "prm.throttles.SignInAttemptsHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env.int("SIGN_IN_FAILURES_PER_USERNAME", default=5)
SIGN_IN_FAILURES_PER_ADDRESS = env.int("SIGN_IN_FAILURES_PER_ADDRESS", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SIGN_IN_COOLOFF_MINUTES", default=15))
AXES_USERNAME_FORM_FIELD = "login"
AXES_USERNAME_CALLABLE = "prm.throttles.attempted_username"
AXES_CLIENT_IP_CALLABLE = "prm.throttles.client_ip"
AXES_LOCKOUT_CALLABLE = "prm.throttles.lockout_response"
AXES_RESET_ON_SUCCESS = False
AXES_SENSITIVE_PARAMETERS = ["password", "code", "login"]
AXES_VERBOSE = False
# The address of a request is its REMOTE_ADDR, unless this many proxies of ours (a load
# balancer, ingress) stand in front: then it is that many hops from the right of
# X-Forwarded-For. Never trust the header from an unknown number of hops: a client writes it.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Anonymous forms (the application form, the password-reset request): at most this many
# posts from one address per hour, counted in the database (prm.throttles).
ANONYMOUS_POSTS_PER_HOUR = env.int("ANONYMOUS_POSTS_PER_HOUR", default=10)

# API tokens (knox, partners.ApiToken): stored as a SHA-512 digest, shown once, expiring.
KNOX_TOKEN_MODEL = "partners.ApiToken"
# knox's migrations would create its own token table even though partners.ApiToken replaces
# it (they predate KNOX_TOKEN_MODEL), and that unused table's key to the users would block
# every flush of the user table. The app has no table of ours to keep: no migrations.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=24 * 7)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
# Live tokens a user may hold at once; the oldest are revoked beyond this.
API_TOKENS_PER_USER = env.int("API_TOKENS_PER_USER", default=10)

LANGUAGE_CODE = "en"
# The program's source material exists in English and Simplified Chinese: so do the portal
# and the dashboards (the language switcher sits in the navigation bar).
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# Dates and numbers follow the active language (prm/formats): "3 Nov 2026" in English,
# "2026年11月3日" in Chinese; amounts keep three-digit grouping with commas in both.
FORMAT_MODULE_PATH = ["prm.formats"]

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# The largest uploaded file accepted (prm.uploads), in the portal, the API and the admin;
# MDF proof-of-performance files (RULEBOOK §7) may have a limit of their own.
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
MDF_PROOF_MAX_BYTES = env.int("MDF_PROOF_MAX_BYTES", default=MAX_UPLOAD_BYTES)
# The largest request body accepted, judged by its Content-Length before it is read
# (prm.errors.RequestSizeMiddleware): an MDF claim's ten largest proofs, and a megabyte.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=10 * MDF_PROOF_MAX_BYTES + 1024 * 1024)
# The largest body that is not a file: a form's fields, a JSON document (prm.parsers reads no
# more than this of an API request).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# Where uploaded files (MDF proofs, the content library) are kept: the one switch every
# environment honours (local.py, production.py and test.py change only the static files).
#   MEDIA_STORAGE=filesystem (the default): under MEDIA_ROOT, which every web and worker
#     process must then share (one machine, or a shared volume).
#   MEDIA_STORAGE=s3: in a private bucket of S3 or an S3-compatible service (MinIO, R2, …),
#     so web replicas need no shared volume.
# Either way no file has a public address: each is handed out by a scoped view, after the
# same access check, as an attachment (prm.downloads).
MEDIA_STORAGE = env("MEDIA_STORAGE", default="filesystem")
if MEDIA_STORAGE == "filesystem":
    MEDIA_BACKEND = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif MEDIA_STORAGE == "s3":
    if not env("AWS_STORAGE_BUCKET_NAME", default=""):
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    MEDIA_BACKEND = {
        "BACKEND": "prm.media.MediaStorage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            # Another S3-compatible service: its address (https://minio.internal:9000, …).
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            # "path" for services that do not answer on <bucket>.<host> (MinIO, most often).
            "addressing_style": env("AWS_S3_ADDRESSING_STYLE", default=None),
            # Unset: boto3 finds credentials itself (an instance or pod role, a profile).
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            # A prefix inside the bucket ("media"), so that one bucket may hold more.
            "location": env("AWS_LOCATION", default=""),
            # Private: no ACL is sent, so an object has the bucket's (owner only); a
            # bucket with ACLs disabled, AWS's default, accepts that and nothing else.
            "default_acl": None,
            # Any address the storage makes is signed and short-lived (MEDIA_SIGNED_URLS).
            "querystring_auth": True,
            "querystring_expire": env.int("MEDIA_SIGNED_URL_SECONDS", default=300),
            "signature_version": "s3v4",
            # Two proofs of the same name never replace each other.
            "file_overwrite": False,
            # Should a stored address ever be opened directly, it still downloads.
            "object_parameters": {"ContentDisposition": "attachment"},
            # A file read for a download is spooled to disk past this size, not held in memory.
            "max_memory_size": 2_621_440,
        },
    }
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE is filesystem or s3, not {MEDIA_STORAGE!r}.")
# Downloads are streamed through the site by default: the scoped view reads the object and
# answers it with the site's own headers (attachment, nosniff, a sandboxing policy), so
# access and headers are the same on every storage, and the bucket needs no CORS and no
# public address. MEDIA_SIGNED_URLS=true (S3 only) answers the scoped view with a redirect
# to a signed address valid MEDIA_SIGNED_URL_SECONDS instead, which spares the web
# processes the bytes: the bucket then serves the file, as an attachment of the stored type.
MEDIA_SIGNED_URLS = MEDIA_STORAGE == "s3" and env.bool("MEDIA_SIGNED_URLS", default=False)
STORAGES = {
    "default": MEDIA_BACKEND,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="PRM <prm@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Seconds the mail server may take to answer each step (connect, send) before the worker
# gives up and tries again later (prm.tasks.send_mail). Mail is never sent in a request.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# Every task has a soft and a hard time limit (seconds), so that none can hang a worker for
# good: at the soft limit the task gets SoftTimeLimitExceeded and records how it ended (the
# quarter close marks itself failed, with the reason); at the hard limit the worker's child
# is killed. The quarter close, the one long task, has larger limits of its own: 20,000
# partners close in about 25 s (docs/benchmarks.md), so 20 minutes is ample.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=5 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=6 * 60)
QUARTER_CLOSE_SOFT_TIME_LIMIT = env.int("QUARTER_CLOSE_SOFT_TIME_LIMIT", default=20 * 60)
QUARTER_CLOSE_TIME_LIMIT = env.int("QUARTER_CLOSE_TIME_LIMIT", default=25 * 60)
# Redis hands a message that was taken but never acknowledged (acks_late: a worker killed
# mid-task) to another worker once this long has passed. It must exceed the longest time a
# message can stay taken while its task is still alive, or a running task is delivered a
# second time: a message a worker took while its children were busy may wait up to the
# longest hard limit (a close) for one, then run up to its own hard limit, so the longest
# hard limit plus the default one plus a margin. Far below Redis's default of an hour, so a
# killed worker's task comes back within about 36 minutes. (Retries' countdowns stay
# under it too: an ETA message is held unacknowledged by the worker meanwhile.)
BROKER_VISIBILITY_TIMEOUT = env.int(
    "CELERY_VISIBILITY_TIMEOUT",
    default=max(CELERY_TASK_TIME_LIMIT, QUARTER_CLOSE_TIME_LIMIT) + CELERY_TASK_TIME_LIMIT + 5 * 60,
)

# Redis is the broker and cache when configured; otherwise Celery's filesystem broker
# under var/ and an in-process cache.
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _queue = VAR_DIR / "celery" / "queue"
    _queue.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": BROKER_VISIBILITY_TIMEOUT}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request that queues a task makes one quick attempt (scoring.tasks.close_enqueue): a Redis
# outage neither fails nor stalls it, and what it asked for is sent again later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2

if REDIS_URL:
    # Fails open (prm.cache): while Redis is down the site serves without its cache.
    CACHES = {
        "default": {
            "BACKEND": "prm.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    # Sessions are read on every signed-in request: from Redis, written through to the
    # database (so a Redis restart signs nobody out).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "partners.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bounded in size and depth, and only text that can be stored (prm.parsers).
    "DEFAULT_PARSER_CLASSES": [
        "prm.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # ?limit= is capped at MAX_PAGE_SIZE rows (prm.api.Pagination).
    "DEFAULT_PAGINATION_CLASS": "prm.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Tags by resource and a summary on every operation (prm.api_schema).
    "DEFAULT_SCHEMA_CLASS": "prm.api_schema.Schema",
    "EXCEPTION_HANDLER": "prm.api_errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
# The API docs' tags (prm.api_schema), in the order the docs list them.
API_TAGS = [
    {"name": "auth", "description": "API tokens: sign in, sign out."},
    {"name": "programs", "description": "Partner programs and their tiers."},
    {"name": "partners", "description": "Partners and their people."},
    {"name": "enablement", "description": "Certifications, trainings and events, per partner."},
    {"name": "accounts", "description": "Customer accounts (the vendor's CRM view)."},
    {"name": "leads", "description": "CRM leads."},
    {"name": "deals", "description": "Deal registrations, their decisions, and conflicts."},
    {"name": "incentives", "description": "The ledger, incentive claims, and contributions."},
    {"name": "mdf", "description": "Market development funds: funds, requests, claims."},
    {"name": "scoring", "description": "Scorecards, red flags and the quarter close."},
    {"name": "reviews", "description": "Quarterly business reviews and joint business plans."},
    {"name": "dashboard", "description": "The executive dashboard's figures."},
    {"name": "webhooks", "description": "Outbound webhook subscriptions and their deliveries."},
]
# A form refused for its security token answers the site's own 403 page (prm.errors).
CSRF_FAILURE_VIEW = "prm.errors.csrf_failure"

SPECTACULAR_SETTINGS = {
    "TITLE": "PRM API",
    "DESCRIPTION": (
        "Partner relationship management: programs, partners, deals, incentives. "
        "Back to the app: [the portal](/) · [the admin](/admin/)."
    ),
    "TAGS": API_TAGS,
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page loads Swagger UI from our own static files (vendored), not a CDN.
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui",
    "ENUM_NAME_OVERRIDES": {
        "PartnerStatusEnum": "partners.models.PartnerStatus",
        "DealStatusEnum": "deals.models.DealStatus",
        "OpenOrResolvedEnum": "partners.models.RedFlag.Status",
        "QuarterCloseStateEnum": "scoring.models.QuarterClose.State",
        "ReviewCadenceEnum": "partners.models.ReviewCadence",
        "EventKindEnum": "integrations.models.EventKind",
        "DeliveryStatusEnum": "integrations.models.DeliveryStatus",
        "LeadDeclineReasonEnum": "partners.models.DeclineReason",
        "LeadCloseReasonEnum": "partners.models.LeadCloseReason",
        "LeadStatusEnum": "partners.models.LeadStatus",
    },
    "SWAGGER_UI_FAVICON_HREF": "/static/vendor/swagger-ui/favicon-32x32.png",
    # What the outbound webhooks POST, one entry per event kind (integrations.api); an
    # OpenAPI 3.0 document holds them as ``x-webhooks`` (integrations.api.webhooks_as_extension).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.api.webhooks_as_extension",
    ],
    "WEBHOOKS": [
        f"integrations.api.webhook_doc_{kind}"
        for kind in (
            "deal_registered",
            "deal_approved",
            "deal_rejected",
            "deal_won",
            "deal_expired",
            "claim_approved",
            "ledger_paid",
            "tier_changed",
            "red_flag_opened",
            "lead_assigned",
        )
    ],
}

SIMPLE_HISTORY_HISTORY_ID_USE_UUID = False

# Outbound webhooks (integrations.webhooks, docs/webhooks.md). A subscription's address
# must be https unless WEBHOOKS_REQUIRE_HTTPS is off, and may not be (or resolve to) a
# private, loopback or link-local address unless WEBHOOKS_ALLOW_PRIVATE_ADDRESSES is on: a
# partner could otherwise make the workers call into the vendor's own network. Development
# (DEBUG) allows both, so that a receiver on localhost works.
WEBHOOKS_REQUIRE_HTTPS = env.bool("WEBHOOKS_REQUIRE_HTTPS", default=not DEBUG)
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=DEBUG)

# Retention (prm.retention; pruned nightly by prm.prune, or `manage.py prune`). Expired
# sessions go at once; anonymous form posts after a day. Nothing a scorecard, a rerun of
# a close or an audit reads is pruned sooner than it needs.
# Notices every person they are meant for has seen (unread ones are kept).
NOTICE_RETENTION_DAYS = env.int("NOTICE_RETENTION_DAYS", default=180)
# Portal-login days: older ones are summed per partner and month (enablement.LoginMonth),
# which the scorecard reads for a quarter that old; at least 400 days are always kept.
LOGIN_DAY_RETENTION_DAYS = env.int("LOGIN_DAY_RETENTION_DAYS", default=2 * 365)
# The change history of deals, claims, MDF, ledger entries, partners and tiers.
HISTORY_RETENTION_YEARS = env.int("HISTORY_RETENTION_YEARS", default=7)
# Events handed to webhooks and the CRM sync, with their delivery log.
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=90)
# Webhook deliveries that ended (delivered or given up) are logged this long; their
# events' own retention (above) caps it.
WEBHOOK_DELIVERY_RETENTION_DAYS = env.int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=30)
# The admin's "Recent actions" log.
ADMIN_LOG_RETENTION_DAYS = env.int("ADMIN_LOG_RETENTION_DAYS", default=2 * 365)
# Records of sign-in attempts (axes: failures, lockout counters, the access log).
SIGN_IN_RECORDS_RETENTION_DAYS = env.int("SIGN_IN_RECORDS_RETENTION_DAYS", default=90)

# Logs on standard error: plain text for a person at a terminal, or JSON lines for a log
# collector (LOG_FORMAT=json, production's default): timestamp, level, logger, message,
# request_id and user_id (prm.logs). The Celery worker and beat log the same way.
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")


def logging_config(log_format: str, level: str) -> dict:
    if log_format not in ("text", "json"):
        raise ValueError(f"LOG_FORMAT must be text or json, not {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "prm.logs.RequestContextFilter"}},
        "formatters": {
            "text": {
                "format": "%(asctime)s %(levelname)s %(name)s "
                "[request %(request_id)s user %(user_id)s] %(message)s",
            },
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": ["levelname", "name", "message", "request_id", "user_id"],
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": True,
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_context"],
                "formatter": log_format,
            }
        },
        "root": {"handlers": ["console"], "level": level},
    }


LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)

# Prometheus (prm.metrics): /metrics answers only "Authorization: Bearer <METRICS_TOKEN>",
# and is a 404 while the token is unset. A Celery worker serves its task counts on
# WORKER_METRICS_PORT (0: not at all). Several processes: PROMETHEUS_MULTIPROC_DIR.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)

# Errors to Sentry when SENTRY_DSN is set (prm.sentry); nothing is sent otherwise.
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from prm.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        release=env("SENTRY_RELEASE", default="") or None,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# The CRM sync (integrations.crm; docs/crm.md). Credentials only from the environment; a
# CRM whose variables are unset is not synced (its connection shows "not configured").
# Salesforce: a connected app's OAuth refresh token (refresh-token flow).
SALESFORCE_CLIENT_ID = env("SALESFORCE_CLIENT_ID", default="")
SALESFORCE_CLIENT_SECRET = env("SALESFORCE_CLIENT_SECRET", default="")
SALESFORCE_REFRESH_TOKEN = env("SALESFORCE_REFRESH_TOKEN", default="")
# The org's My Domain address (https://acme.my.salesforce.com).
SALESFORCE_INSTANCE_URL = env("SALESFORCE_INSTANCE_URL", default="")
# https://test.salesforce.com for a sandbox.
SALESFORCE_LOGIN_URL = env("SALESFORCE_LOGIN_URL", default="https://login.salesforce.com")
SALESFORCE_API_VERSION = env("SALESFORCE_API_VERSION", default="62.0")
# The external-id field (unique, on Account and Opportunity) holding the PRM's key.
SALESFORCE_EXTERNAL_ID_FIELD = env("SALESFORCE_EXTERNAL_ID_FIELD", default="PRM_Id__c")
# Share of the org's daily API calls (Sforce-Limit-Info) past which a run stops.
SALESFORCE_API_USAGE_CEILING = env.float("SALESFORCE_API_USAGE_CEILING", default=0.9)
# HubSpot: a private app's access token, or a public app's OAuth client and refresh token.
HUBSPOT_ACCESS_TOKEN = env("HUBSPOT_ACCESS_TOKEN", default="")
HUBSPOT_CLIENT_ID = env("HUBSPOT_CLIENT_ID", default="")
HUBSPOT_CLIENT_SECRET = env("HUBSPOT_CLIENT_SECRET", default="")
HUBSPOT_REFRESH_TOKEN = env("HUBSPOT_REFRESH_TOKEN", default="")
# The unique-value property (on companies and deals) holding the PRM's key.
HUBSPOT_EXTERNAL_ID_PROPERTY = env("HUBSPOT_EXTERNAL_ID_PROPERTY", default="prm_id")
# The longest a sync waits in one go for a CRM that asks it to (429 Retry-After); a
# longer wait ends the run, and the next one goes on.
CRM_MAX_WAIT_SECONDS = env.int("CRM_MAX_WAIT_SECONDS", default=60)
CRM_SYNC_SOFT_TIME_LIMIT = env.int("CRM_SYNC_SOFT_TIME_LIMIT", default=10 * 60)
CRM_SYNC_TIME_LIMIT = env.int("CRM_SYNC_TIME_LIMIT", default=12 * 60)

"""Moim settings, read from environment variables only.

With no variables set, a fresh clone runs on SQLite, the in-memory channel layer,
eager Celery tasks, a local-memory cache and media on local disk. ``DATABASE_URL``,
``REDIS_URL`` and the ``AWS_*`` variables switch to the production stack.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "config.apps.MoimConfig",
    "channels",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "profiles",
    "community",
    "commerce",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "profiles.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the ASGI server's threads and a Celery task share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
else:
    # A connection pool per process (psycopg_pool), not persistent connections: under
    # ASGI each request's sync code may run on a new thread, and a persistent connection
    # per thread exhausts the server's connections. The pool hands out only healthy
    # connections, so there is no health-check query per request or socket frame.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN", default=2),
        "max_size": env.int("DB_POOL_MAX", default=20),
        "timeout": env.int("DB_POOL_TIMEOUT", default=10),
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
# A streaming replica for the read-only paths (config/db_routing.py): history, discover,
# search, profiles. A client that just wrote reads the primary for the window below.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
DATABASE_REPLICA_ALIAS = "replica" if DATABASE_REPLICA_URL else ""
DATABASE_REPLICA_READ_PRIMARY_SECONDS = env.int("DATABASE_REPLICA_READ_PRIMARY_SECONDS", default=10)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    for _key in ("ATOMIC_REQUESTS", "CONN_MAX_AGE", "OPTIONS"):
        if _key in DATABASES["default"]:
            DATABASES["replica"][_key] = DATABASES["default"][_key]
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.db_routing.PrimaryReplicaRouter"]
MIDDLEWARE.append("config.db_routing.ReplicaReadsMiddleware")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery broker -----------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

# The channel layer sharded over several Redis servers (comma-separated URLs; channels
# hashes each channel and group to one of them). Unset: REDIS_URL alone.
CHANNEL_LAYER_REDIS_URLS = env.list("CHANNEL_LAYER_REDIS_URLS", default=[])

if REDIS_URL:
    # The core channels-redis layer (sorted sets per channel) rather than the pub/sub
    # layer: it keeps per-channel queues, so a consumer that is briefly slow does not
    # miss a group message. Its default capacity of 100 silently drops group messages
    # once a channel's queue is full, which a burst into a busy room reaches easily, so
    # the capacity is raised well above any burst a single socket can be behind by.
    # Expiry bounds how long an undelivered message may sit; group_expiry bounds how
    # long a crashed process's channels stay subscribed (the consumer re-adds itself).
    # The pub/sub layer was not chosen: Redis keeps nothing for it, so a message
    # published while a process's Redis connection is re-establishing is lost with
    # no trace, while the core layer holds it in the channel's queue until expiry.
    # tests/community/test_consumer.py proves a 500-message burst arrives whole.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": CHANNEL_LAYER_REDIS_URLS or [REDIS_URL],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="moim"),
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=5000),
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "moim",
            "TIMEOUT": 300,
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 5000, "expiry": 60},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "moim",
        }
    }

# --- Celery ---------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"

# --- Auth -------------------------------------------------------------------------
AUTH_USER_MODEL = "profiles.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# Failed log-ins per username and per IP before a cool-down.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)

# --- API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.CursorPagination",
    "PAGE_SIZE": 30,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.MoimAutoSchema",
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "config.api.throttling.IPRateThrottle",
        # Only for views that name a throttle_scope; per user, else per IP.
        "config.api.throttling.WriteScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="600/min"),
        "ip": env.str("THROTTLE_IP", default="1800/min"),
        "writes": env.str("THROTTLE_WRITES", default="30/min"),
        "money": env.str("THROTTLE_MONEY", default="30/min"),
        "auth": env.str("THROTTLE_AUTH", default="20/min"),
        "reactions": env.str("THROTTLE_REACTIONS", default="120/min"),
        "uploads": env.str("THROTTLE_UPLOADS", default="60/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=30),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Moim API",
    "DESCRIPTION": "The Moim mobile and web API. Errors share one shape: "
    '{"error": {"code", "message", "fields"}}.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "WordFilterKindEnum": "community.models.moderation.BlockedPattern.Kind",
        "AppealKindEnum": "community.models.moderation.Appeal.Kind",
    },
}

# --- Internationalisation -----------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ko", _("Korean")), ("ja", _("Japanese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# --- Static and media ---------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default=None)
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="us-east-1")
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True
    AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=3600)
    AWS_S3_FILE_OVERWRITE = False
    default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
    # Uploaded media (originals and derivatives) under its own prefix; never public:
    # served through a permission-checked view that redirects to a signed, expiring URL.
    media_storage = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"location": "media"}}
else:
    default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    # Outside MEDIA_ROOT so nothing serves it directly; the media view streams it. In
    # production it must be named: a default inside the code checkout would be lost on
    # the next deploy, and one inside MEDIA_ROOT would be published wherever MEDIA_ROOT
    # is (config/checks.py checks where it points).
    MEDIA_PRIVATE_ROOT = env.str("MEDIA_PRIVATE_ROOT", default="")
    if not MEDIA_PRIVATE_ROOT:
        if not DEBUG:
            raise ImproperlyConfigured(
                "MEDIA_PRIVATE_ROOT is required when DEBUG is off and media is on local disk "
                "(no AWS_STORAGE_BUCKET_NAME): a directory outside the code checkout and "
                "outside MEDIA_ROOT that survives deploys (uploads live there)."
            )
        MEDIA_PRIVATE_ROOT = str(BASE_DIR / "media-private")
    media_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_PRIVATE_ROOT, "base_url": None},
    }
STORAGES = {
    "default": default_storage,
    "media": media_storage,
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Media uploads (community/services/media.py): limits by detected kind, decoding caps.
MEDIA_IMAGE_MAX_BYTES = env.int("MEDIA_IMAGE_MAX_BYTES", default=20 * 1024 * 1024)
MEDIA_VIDEO_MAX_BYTES = env.int("MEDIA_VIDEO_MAX_BYTES", default=200 * 1024 * 1024)
MEDIA_MAX_IMAGE_PIXELS = env.int("MEDIA_MAX_IMAGE_PIXELS", default=50_000_000)
MEDIA_MAX_ANIMATION_FRAMES = env.int("MEDIA_MAX_ANIMATION_FRAMES", default=300)
# The long side of the stored "original" (the metadata-free full-size WebP); larger
# images are scaled down to it. 0 keeps the uploaded resolution (docs/media.md).
MEDIA_MAX_STORED_SIDE = env.int("MEDIA_MAX_STORED_SIDE", default=2048)
MEDIA_THUMBNAIL_SIZES = (320, 720, 1280)
MEDIA_FFMPEG = env.str("MEDIA_FFMPEG", default="ffmpeg")
MEDIA_FFPROBE = env.str("MEDIA_FFPROBE", default="ffprobe")
MEDIA_FFMPEG_TIMEOUT_SECONDS = env.int("MEDIA_FFMPEG_TIMEOUT_SECONDS", default=300)
MEDIA_SIGNED_URL_SECONDS = env.int("MEDIA_SIGNED_URL_SECONDS", default=3600)
MEDIA_MAX_ATTEMPTS = 5
MEDIA_STALE_MINUTES = env.int("MEDIA_STALE_MINUTES", default=30)
MEDIA_UNUSED_UPLOAD_HOURS = env.int("MEDIA_UNUSED_UPLOAD_HOURS", default=24)
# Belongs in CELERY_BEAT_SCHEDULE (merged there with the other areas' entries).
MEDIA_BEAT_SCHEDULE = {
    "media-sweep": {"task": "community.tasks.sweep_media_assets", "schedule": 15 * 60},
}

# --- Security -------------------------------------------------------------------------
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Product limits ---------------------------------------------------------------------
ROOM_DEFAULT_CAPACITY = 1500
ROOM_MAX_CAPACITY = env.int("ROOM_MAX_CAPACITY", default=5000)
MESSAGE_MAX_LENGTH = 4000

# Serves bench/baseline.py's endpoints; only `make bench` turns it on.
BENCH_ENDPOINTS = env.bool("BENCH_ENDPOINTS", default=False)
# --- Moderation (all overridable from the environment) ----------------------------------
MODERATION_REPORTS_PER_HOUR = env.int("MODERATION_REPORTS_PER_HOUR", default=20)
MODERATION_PATTERN_MAX_LENGTH = 200
# A pattern that takes longer than this on one message counts as no match (and is logged).
MODERATION_PATTERN_TIMEOUT_SECONDS = env.float("MODERATION_PATTERN_TIMEOUT_SECONDS", default=0.05)
MODERATION_NEW_ACCOUNT_HOURS = env.int("MODERATION_NEW_ACCOUNT_HOURS", default=24)
MODERATION_NEW_ACCOUNT_MAX_LINKS = env.int("MODERATION_NEW_ACCOUNT_MAX_LINKS", default=1)
# Flood: more than N messages in the window mutes the member for the given minutes.
MODERATION_FLOOD_MESSAGES = env.int("MODERATION_FLOOD_MESSAGES", default=10)
MODERATION_FLOOD_WINDOW_SECONDS = env.int("MODERATION_FLOOD_WINDOW_SECONDS", default=10)
MODERATION_FLOOD_MUTE_MINUTES = env.int("MODERATION_FLOOD_MUTE_MINUTES", default=5)
MODERATION_MAX_MUTE_MINUTES = 60 * 24 * 30

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Chat: at most N messages per user per window (seconds), across all rooms.
CHAT_SEND_RATE = (
    env.int("CHAT_SEND_RATE_COUNT", default=20),
    env.int("CHAT_SEND_RATE_WINDOW", default=10),
)
# Frames one socket may send per window (seconds) before they are refused unread.
CHAT_FRAME_RATE = (
    env.int("CHAT_FRAME_RATE_COUNT", default=60),
    env.int("CHAT_FRAME_RATE_WINDOW", default=10),
)
# --- Commerce (ledger) -------------------------------------------------------------------
COMMERCE_CURRENCIES = env.list("COMMERCE_CURRENCIES", default=["KRW", "USD", "JPY", "EUR"])
COMMERCE_MAX_AMOUNT = env.int("COMMERCE_MAX_AMOUNT", default=10**12)
# Platform fee in basis points (1000 = 10%), rounded down; see commerce/fees.py.
COMMERCE_PLATFORM_FEE_BPS = env.int("COMMERCE_PLATFORM_FEE_BPS", default=1000)
# Creator earnings stay pending this long (refund window) before they can be paid out.
COMMERCE_EARNINGS_HOLD = timedelta(hours=env.int("COMMERCE_EARNINGS_HOLD_HOURS", default=168))
COMMERCE_PAYOUT_HOLD_EXPIRY = timedelta(days=env.int("COMMERCE_PAYOUT_HOLD_DAYS", default=14))
COMMERCE_MEMBERSHIP_PERIOD = timedelta(days=env.int("COMMERCE_MEMBERSHIP_DAYS", default=30))
COMMERCE_IDEMPOTENCY_KEY_TTL = timedelta(hours=env.int("COMMERCE_IDEMPOTENCY_HOURS", default=48))
COMMERCE_PAYMENT_PROVIDERS = {"sandbox": "commerce.providers.sandbox.SandboxProvider"}
COMMERCE_DEFAULT_PROVIDER = env.str("COMMERCE_DEFAULT_PROVIDER", default="sandbox")
COMMERCE_SANDBOX_WEBHOOK_SECRET = env.str(
    "COMMERCE_SANDBOX_WEBHOOK_SECRET", default=f"sandbox-{SECRET_KEY}"
)
# The sandbox provider confirms every payment at once, without taking any money: on with
# DEBUG, otherwise refused unless set explicitly (a staging site); `check --deploy` warns.
PAYMENTS_SANDBOX = env.bool("PAYMENTS_SANDBOX", default=DEBUG)
CELERY_BEAT_SCHEDULE = {
    "commerce-mature-earnings": {"task": "commerce.tasks.mature_earnings", "schedule": 3600},
    "commerce-renew-memberships": {"task": "commerce.tasks.renew_room_access", "schedule": 900},
    "commerce-expire-holds": {"task": "commerce.tasks.expire_pending_transfers", "schedule": 900},
    "commerce-purge-keys": {"task": "commerce.tasks.purge_idempotency_keys", "schedule": 3600},
    **MEDIA_BEAT_SCHEDULE,
}

# --- Notifications -----------------------------------------------------------------------
# Email: the console backend unless EMAIL_URL (smtp://user:pass@host:587/?tls=True) is set.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Moim <no-reply@moim.example>")
# Unread mentions and replies are emailed once they are this old (and still unread).
NOTIFY_DIGEST_DELAY_MINUTES = env.int("NOTIFY_DIGEST_DELAY_MINUTES", default=30)
CELERY_BEAT_SCHEDULE["community-notification-digest"] = {
    "task": "community.tasks.send_notification_digests",
    "schedule": 300,
}

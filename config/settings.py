"""Moim settings, read from environment variables only.

With no variables set, a fresh clone runs on SQLite, the in-memory channel layer,
eager Celery tasks, a local-memory cache and media on local disk. ``DATABASE_URL``,
``REDIS_URL`` and the ``AWS_*`` variables switch to the production stack.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.redis_clients import broker_transport_options, cache_settings, channel_layer_settings

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"
# Rotating SECRET_KEY (docs/operations.md): the previous keys, comma-separated, still
# verify sessions, password-reset links and signed values until they are dropped.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

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
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    # Device and subscription models of push notifications (community/push uses them).
    "push_notifications",
    "profiles",
    "community",
    "commerce",
]

MIDDLEWARE = [
    # Observability (config/logs.py, config/metrics.py): the request id first, then
    # /metrics for allowed scrapers, then django-prometheus's request counts.
    "config.logs.request_id_middleware",
    "config.metrics.metrics_endpoint_middleware",
    "config.metrics.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response that has none of its own (below); this
    # early, so answers made by the middleware after it (a NUL byte's 400) get it too.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the request: NUL bytes answer 400 (config/middleware.py).
    "config.middleware.RejectNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "profiles.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out log-in into its 429 page.
    "axes.middleware.AxesMiddleware",
    "config.metrics.PrometheusAfterMiddleware",
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
    # Tests use Django's shared in-memory database. Said explicitly because pytest-django
    # recognises SQLite by ENGINE, which django-prometheus's wrapper (below) changes: it
    # would otherwise give each xdist worker "test_/path/db.sqlite3_gwN", a path that
    # cannot exist.
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
else:
    # A connection pool per process (psycopg_pool), not persistent connections: under
    # ASGI each request's sync code may run on a new thread, and a persistent connection
    # per thread exhausts the server's connections. The pool does NOT notice on its own
    # that the server restarted: its idle connections are dead until used. The backend
    # in config/postgresql checks every checkout without a round trip (is the idle
    # socket readable?) and replaces dead connections at once, so the first request
    # after a restart succeeds (tests/config/test_db_faults.py). CONN_HEALTH_CHECKS
    # stays off: with a pool it hands psycopg_pool's own check, a query per checkout
    # that sleeps 1 s, 2 s, 4 s... between dead connections and so times out.
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "config.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    # psycopg prepares a statement once a connection has run it this many times, for
    # server-bound cursors only (``server_bound_cursor`` in config/postgresql: the
    # ledger's posting statement); Django's own cursors splice values into the SQL and
    # never prepare. Empty turns it off: PgBouncer in transaction mode before 1.21
    # cannot keep a connection's prepared statements.
    prepare_threshold = env.str("DB_PREPARE_THRESHOLD", default="5")
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        int(prepare_threshold) if prepare_threshold else None
    )
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN", default=2),
        "max_size": env.int("DB_POOL_MAX", default=20),
        "timeout": env.int("DB_POOL_TIMEOUT", default=10),
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"] in (
    "config.postgresql",
    "django.db.backends.postgresql",
)
# django-prometheus's wrapper of the SQLite backend counts connections, queries and
# their durations (django_db_* metrics); on PostgreSQL config.postgresql builds on its
# wrapper of Django's backend.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.sqlite3"
# A streaming replica for the read-only paths (config/db_routing.py): history, discover,
# search, profiles. A client that just wrote reads the primary for the window below.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
DATABASE_REPLICA_ALIAS = "replica" if DATABASE_REPLICA_URL else ""
DATABASE_REPLICA_READ_PRIMARY_SECONDS = env.int("DATABASE_REPLICA_READ_PRIMARY_SECONDS", default=10)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    for _key in ("ENGINE", "ATOMIC_REQUESTS", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "OPTIONS"):
        if _key in DATABASES["default"]:
            DATABASES["replica"][_key] = DATABASES["default"][_key]
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.db_routing.PrimaryReplicaRouter"]
MIDDLEWARE.append("config.db_routing.ReplicaReadsMiddleware")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery broker -----------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Every Redis client (cache, channel layer, broker) gives up after these many seconds
# instead of hanging while Redis is frozen (config/redis_clients.py, docs/operations.md).
REDIS_TIMEOUT_ARGS = {
    "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=3.0),
    "connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", default=2.0),
}
# An after-commit broadcast gives up after this long (the message stays stored; sockets
# catch up from storage), so a frozen Redis cannot hold a request.
REALTIME_BROADCAST_TIMEOUT_SECONDS = env.float("REALTIME_BROADCAST_TIMEOUT_SECONDS", default=3.0)
# A socket send that the client does not take within this long closes the socket with
# the resync code (4000): a client that stopped reading catches up from storage.
REALTIME_SOCKET_SEND_TIMEOUT_SECONDS = env.float(
    "REALTIME_SOCKET_SEND_TIMEOUT_SECONDS", default=10.0
)
# A socket that sees a seq gap waits this long for the missing message (events from
# several processes overtake each other), then sends it from storage.
REALTIME_GAP_WAIT_SECONDS = env.float("REALTIME_GAP_WAIT_SECONDS", default=1.0)
# Threads for room sockets' database work, a room per lane (config/db_lanes.py); 0 is
# Channels' single thread. Half the connection pool by default; SQLite keeps one writer.
REALTIME_DB_LANES = env.int(
    "REALTIME_DB_LANES",
    default=DATABASES["default"]["OPTIONS"]["pool"]["max_size"] // 2 if IS_POSTGRES else 0,
)
# Each /healthz check gives up after this long (they run at once), so the probe answers.
HEALTHZ_CHECK_TIMEOUT_SECONDS = env.float("HEALTHZ_CHECK_TIMEOUT_SECONDS", default=2.0)

# The channel layer sharded over several Redis servers (comma-separated URLs; channels
# hashes each channel and group to one of them). Unset: REDIS_URL alone.
CHANNEL_LAYER_REDIS_URLS = env.list("CHANNEL_LAYER_REDIS_URLS", default=[])

# Which channels-redis layer carries realtime events (config/redis_clients.py):
# ``pubsub`` publishes a group message once and each process fans it out to its own
# sockets; ``core`` writes a copy per member channel into Redis. docs/performance.md
# (Fanout) has the measurements behind the default, docs/scaling.md the trade-off.
CHANNEL_LAYER_BACKEND = env.str("CHANNEL_LAYER_BACKEND", default="pubsub")
CHANNEL_LAYER_PREFIX = env.str("CHANNEL_LAYER_PREFIX", default="moim")

if REDIS_URL:
    # Core layer: per-channel queues in Redis, so a consumer that is briefly slow or
    # away does not miss a group message. Its default capacity of 100 silently drops
    # group messages once a channel's queue is full, which a burst into a busy room
    # reaches easily, so the capacity is raised well above any burst a single socket
    # can be behind by (tests/community/chat/test_consumer.py: a 500-message burst
    # arrives whole). Expiry bounds how long an undelivered message may sit;
    # group_expiry how long a crashed process's channels stay subscribed.
    # Pub/sub layer: Redis keeps nothing, so what is published while a process's
    # connection is down is lost to it; the layer notices the reconnect and its room
    # sockets fill the gap from storage (config/channel_layer.py).
    CHANNEL_LAYERS = {
        "default": channel_layer_settings(
            CHANNEL_LAYER_REDIS_URLS or [REDIS_URL],
            backend=CHANNEL_LAYER_BACKEND,
            prefix=CHANNEL_LAYER_PREFIX,
            capacity=env.int("CHANNEL_LAYER_CAPACITY", default=5000),
            receive_block_seconds=1.0,
            **REDIS_TIMEOUT_ARGS,
        )
    }
    CACHES = {"default": cache_settings(REDIS_URL, **REDIS_TIMEOUT_ARGS)}
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 5000, "expiry": 60},
        }
    }
    CACHES = {
        "default": {
            # Django's local-memory cache, counting gets/hits/misses (django_cache_*).
            "BACKEND": "config.metrics.MeteredLocMemCache",
            "LOCATION": "moim",
        }
    }

# --- Celery ---------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
# redis:// brokers publish through one redis-py client per channel instead of one per
# command (config/broker.py: a quarter of a task publish's CPU); same commands, pool
# and timeouts.
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Every task has a soft time limit (SoftTimeLimitExceeded is raised in it: media
# processing ends the asset "failed") and a hard one (the pool kills the child).
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=CELERY_TASK_SOFT_TIME_LIMIT + 30)
# With acks_late a message stays unacknowledged in Redis while its task runs; one left
# by a worker that died (SIGKILL, OOM, a lost host) is delivered again once this old.
# Just above the hard limit: a task still running is never delivered twice, and a
# killed worker's task comes back within minutes (was an hour). Retry countdowns and
# ETAs must stay below it (process_media_asset backs off at most 300 s).
CELERY_BROKER_VISIBILITY_TIMEOUT = env.int(
    "CELERY_BROKER_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 30
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
    # Look for such messages every 10 s (kombu's default scans every 100 s).
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
# A frozen broker fails a publish after the Redis timeouts instead of hanging the request.
CELERY_BROKER_TRANSPORT_OPTIONS.update(broker_transport_options(**REDIS_TIMEOUT_ARGS))
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT_ARGS["connect_timeout"]
CELERY_REDIS_SOCKET_TIMEOUT = REDIS_TIMEOUT_ARGS["socket_timeout"]
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_TIMEOUT_ARGS["connect_timeout"]
CELERY_TIMEZONE = "UTC"

# --- Auth -------------------------------------------------------------------------
AUTH_USER_MODEL = "profiles.User"
# Django's algorithms; config/passwords.py hashes without holding a database connection
# and at most PASSWORD_HASH_CONCURRENCY at once per process (then 503 + Retry-After).
PASSWORD_HASHERS = [
    "config.passwords.Argon2PasswordHasher",
    "config.passwords.PBKDF2PasswordHasher",
]
PASSWORD_HASH_CONCURRENCY = env.int("PASSWORD_HASH_CONCURRENCY", default=os.cpu_count() or 2)
PASSWORD_HASH_WAIT_SECONDS = env.float("PASSWORD_HASH_WAIT_SECONDS", default=5.0)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# Failed log-ins of one username from one client address before a cool-down
# (django-axes, on every log-in form and the API token endpoint: profiles/login_policy.py).
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)
AUTHENTICATION_BACKENDS = [
    "profiles.login_policy.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = "profiles.login_policy.failure_limit"
AXES_COOLOFF_TIME = "profiles.login_policy.cool_off"
AXES_USERNAME_CALLABLE = "profiles.login_policy.username"
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip_or_none"
AXES_LOCKOUT_CALLABLE = "profiles.login_policy.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# No row per successful log-in: Moim keeps no history of where people log in from.
AXES_DISABLE_ACCESS_LOG = True
# Reverse proxies in front of Moim that append to X-Forwarded-For (config/client_ip.py).
# 0 trusts only the socket's peer address; a wrong value lets clients choose their IP.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

# --- API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's, also refusing tokens from before a password change (profiles/tokens.py).
        "profiles.tokens.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.CursorPagination",
    "PAGE_SIZE": 30,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.MoimAutoSchema",
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        # Moim's own throttles: each fails open when the cache is down and identifies
        # the client by config.client_ip (NUM_PROXIES).
        "config.api.throttling.AnonRateThrottle",
        "config.api.throttling.UserRateThrottle",
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
        # GET /api/v1/link-preview/: each miss makes the server fetch a web page.
        "link_preview": env.str("THROTTLE_LINK_PREVIEW", default="30/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Only for DRF's own get_ident(); Moim's throttles call config.client_ip directly.
    "NUM_PROXIES": NUM_PROXIES,
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=30),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "TOKEN_OBTAIN_SERIALIZER": "profiles.tokens.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "profiles.tokens.TokenRefreshSerializer",
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
        "WordFilterKindEnum": "community.moderation.models.BlockedPattern.Kind",
        "AppealKindEnum": "community.moderation.models.Appeal.Kind",
        "ChatMessageKindEnum": "community.chat.api.views.CHAT_MESSAGE_KINDS",
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
# Media uploads (community/media/services.py): limits by detected kind, decoding caps.
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
# Deliveries of one asset's processing (retries, redeliveries after a worker died)
# before it ends "failed": a file that kills the worker is not retried without end.
MEDIA_MAX_ATTEMPTS = env.int("MEDIA_MAX_ATTEMPTS", default=5)
# The sweep re-queues (or, at MEDIA_MAX_ATTEMPTS, fails) assets still pending or
# processing this long after upload: past the broker's own redelivery, so it only
# catches what the broker lost. Derived from the task limits above.
MEDIA_STALE_SECONDS = CELERY_BROKER_VISIBILITY_TIMEOUT + 60
MEDIA_UNUSED_UPLOAD_HOURS = env.int("MEDIA_UNUSED_UPLOAD_HOURS", default=24)
# Belongs in CELERY_BEAT_SCHEDULE (merged there with the other areas' entries).
MEDIA_BEAT_SCHEDULE = {
    "media-sweep": {"task": "community.tasks.sweep_media_assets", "schedule": 5 * 60},
}

# --- Security -------------------------------------------------------------------------
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
# Django's database sessions, read through a query compiled once per process.
SESSION_ENGINE = "config.sessions"
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): every script is a file from this origin, so no
# inline script can run; no inline style either (the profile background is set through
# the CSSOM by static/js/moim.js). Images and video may come from the media storage's
# origin (signed S3 URLs) and as data: placeholders. /api/docs/ adds inline styles for
# Swagger UI only (config/urls.py). Media files carry their own sandboxing policy.
CSP_MEDIA_ORIGINS = env.list("CSP_MEDIA_ORIGINS", default=[])
if not CSP_MEDIA_ORIGINS and AWS_STORAGE_BUCKET_NAME:
    if AWS_S3_ENDPOINT_URL:
        from urllib.parse import urlsplit

        _endpoint = urlsplit(AWS_S3_ENDPOINT_URL)
        CSP_MEDIA_ORIGINS = [f"{_endpoint.scheme}://{_endpoint.netloc}"]
    else:
        CSP_MEDIA_ORIGINS = [
            f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com",
            f"https://{AWS_STORAGE_BUCKET_NAME}.s3.{AWS_S3_REGION_NAME}.amazonaws.com",
            f"https://s3.{AWS_S3_REGION_NAME}.amazonaws.com",
        ]
_site_socket_origin = SITE_URL.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", *CSP_MEDIA_ORIGINS],
        "media-src": ["'self'", "blob:", *CSP_MEDIA_ORIGINS],
        "font-src": ["'self'"],
        # The service worker (/sw.js) and the web app manifest are served from this origin.
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "connect-src": ["'self'", _site_socket_origin.rstrip("/")],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Link previews (community/links, docs/links.md) ---------------------------------------
# The first http(s) URL of a text message gets a card (title, description, image), fetched
# by a Celery task through the guarded client of community/links/fetch.py.
LINK_PREVIEWS_ENABLED = env.bool("LINK_PREVIEWS_ENABLED", default=True)
# One deadline for a whole fetch (DNS, connect, redirects, body), page and image each.
LINK_PREVIEW_TIMEOUT_SECONDS = env.float("LINK_PREVIEW_TIMEOUT_SECONDS", default=5.0)
LINK_PREVIEW_MAX_BYTES = env.int("LINK_PREVIEW_MAX_BYTES", default=1024 * 1024)
LINK_PREVIEW_IMAGE_MAX_BYTES = env.int("LINK_PREVIEW_IMAGE_MAX_BYTES", default=5 * 1024 * 1024)
LINK_PREVIEW_MAX_REDIRECTS = 3
# The stored image's long side (a WebP in the media storage; never hot-linked).
LINK_PREVIEW_IMAGE_SIDE = 600
# How long a fetched page (or a failure) is reused before the next message refetches it.
LINK_PREVIEW_TTL_SECONDS = env.int("LINK_PREVIEW_TTL_SECONDS", default=24 * 3600)
LINK_PREVIEW_FAILED_TTL_SECONDS = env.int("LINK_PREVIEW_FAILED_TTL_SECONDS", default=3600)
LINK_PREVIEW_USER_AGENT = f"MoimLinkPreview/1.0 (+{SITE_URL})"
# "ip:port" entries the fetcher may reach although they are not public addresses or not
# port 80/443: only tests set it (their local server); never read from the environment.
LINK_PREVIEW_ALLOWED_ADDRESSES: list[str] = []

# --- Product limits ---------------------------------------------------------------------
ROOM_DEFAULT_CAPACITY = 1500
ROOM_MAX_CAPACITY = env.int("ROOM_MAX_CAPACITY", default=5000)
MESSAGE_MAX_LENGTH = 4000

# Serves bench/baseline.py's endpoints; only `make bench` turns it on.
BENCH_ENDPOINTS = env.bool("BENCH_ENDPOINTS", default=False)
# The baselines' layer: the naive design (core layer, a copy per member channel) whatever
# CHANNEL_LAYER_BACKEND Moim runs on, so Moim's ratio shows what its choice buys.
BENCH_CHANNEL_LAYER = "bench_core"
if BENCH_ENDPOINTS and REDIS_URL:
    CHANNEL_LAYERS[BENCH_CHANNEL_LAYER] = channel_layer_settings(
        CHANNEL_LAYER_REDIS_URLS or [REDIS_URL],
        backend="core",
        prefix=f"{CHANNEL_LAYER_PREFIX}-bench",
        capacity=env.int("CHANNEL_LAYER_CAPACITY", default=5000),
        receive_block_seconds=1.0,
        **REDIS_TIMEOUT_ARGS,
    )
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

# Room passwords: guesses per person per room, and per room from everyone, in a window
# (seconds). A guess over either limit is refused (429) before the password is checked.
ROOM_PASSWORD_GUESS_LIMIT = env.int("ROOM_PASSWORD_GUESS_LIMIT", default=5)
ROOM_PASSWORD_ROOM_GUESS_LIMIT = env.int("ROOM_PASSWORD_ROOM_GUESS_LIMIT", default=50)
ROOM_PASSWORD_GUESS_WINDOW_SECONDS = env.int("ROOM_PASSWORD_GUESS_WINDOW_SECONDS", default=900)


# --- Observability (docs/operations.md) ----------------------------------------------------
# Logs: one JSON object per line (python-json-logger) with the request id of the request,
# socket session or task (config/logs.py); plain text with DEBUG on.
LOG_FORMAT = env.str("LOG_FORMAT", default="") or ("text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT is json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "config.logs.JsonFormatter"},
        "text": {"()": "config.logs.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # django-axes logs every log-in at INFO; lockouts are WARNING.
        "axes": {"level": "WARNING"},
    },
}
# Celery workers log through the same handler (and so in JSON, with task ids).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Metrics: /metrics answers these client addresses or networks only (anyone else: 404).
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
for _allowed in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_allowed.strip(), strict=False)
    except ValueError as error:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {error}") from None
# A Celery worker serves its metrics on this port (0: off), bound to this address.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_ADDRESS = env.str("WORKER_METRICS_ADDRESS", default="127.0.0.1")
# Errors: Sentry when SENTRY_DSN is set (config/sentry.py; no personal data is sent).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from config.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        release=env.str("SENTRY_RELEASE", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

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
# The shared part of a history page (community/chat/selectors.py, ``history_page``) is
# kept this many seconds at most: every writer of what it shows makes the room's pages
# new at once, the bound only limits memory and a writer the cache was not told about.
# 0 turns the cache off.
CHAT_HISTORY_CACHE_SECONDS = env.int("CHAT_HISTORY_CACHE_SECONDS", default=60)
# Read counts (community/reads): rooms with at most this many active members show each
# message's unread count (docs/performance.md, "Read counts", measured the figure);
# larger rooms show none. Counts are broadcast at most twice per window (seconds) per room.
READ_COUNTS_MAX_MEMBERS = env.int("READ_COUNTS_MAX_MEMBERS", default=1000)
READ_COUNTS_BROADCAST_SECONDS = env.float("READ_COUNTS_BROADCAST_SECONDS", default=2.0)
# Translation of messages for their readers (community/translation, docs/api.md): off
# unless an engine is named. "libretranslate" speaks the LibreTranslate API at
# LIBRETRANSLATE_URL (self-hosted or a provider's, with LIBRETRANSLATE_API_KEY when it
# wants one); any other value is the class path of an engine (community/translation/engines.py).
TRANSLATION_ENGINE = env.str("TRANSLATION_ENGINE", default="")
LIBRETRANSLATE_URL = env.str("LIBRETRANSLATE_URL", default="http://127.0.0.1:5000")
LIBRETRANSLATE_API_KEY = env.str("LIBRETRANSLATE_API_KEY", default="")
TRANSLATION_CONNECT_TIMEOUT_SECONDS = env.float("TRANSLATION_CONNECT_TIMEOUT_SECONDS", default=2.0)
TRANSLATION_READ_TIMEOUT_SECONDS = env.float("TRANSLATION_READ_TIMEOUT_SECONDS", default=8.0)
# Translations one user may ask the engine for per window (seconds); cached ones are free.
TRANSLATION_RATE = (
    env.int("TRANSLATION_RATE_COUNT", default=30),
    env.int("TRANSLATION_RATE_WINDOW", default=60),
)
# The languages message detection chooses among (py3langid codes): the rooms' 17 content
# languages (community.rooms.selectors.ROOM_LANGUAGE_CODES; "zh" is both Chinese scripts).
TRANSLATION_DETECT_LANGUAGES = env.list(
    "TRANSLATION_DETECT_LANGUAGES",
    default=[
        "en", "ko", "ja", "zh", "es", "fr", "de", "pt", "it",
        "ru", "ar", "hi", "id", "vi", "th", "tr",
    ],
)  # fmt: skip
# --- Commerce (ledger) -------------------------------------------------------------------
COMMERCE_CURRENCIES = env.list("COMMERCE_CURRENCIES", default=["KRW", "USD", "JPY", "EUR"])
COMMERCE_MAX_AMOUNT = env.int("COMMERCE_MAX_AMOUNT", default=10**12)
# Platform fee in basis points (1000 = 10%), rounded down; see commerce/fees.py.
COMMERCE_PLATFORM_FEE_BPS = env.int("COMMERCE_PLATFORM_FEE_BPS", default=1000)
# The platform fee is credited to one of this many sub-accounts per currency (picked at
# random per payment), so concurrent payments rarely lock the same fee row; balances and
# reports sum them (commerce.selectors.platform_fee_balances). Lowering it leaves the
# higher shards' money where it is, still summed.
COMMERCE_PLATFORM_FEE_SHARDS = env.int("COMMERCE_PLATFORM_FEE_SHARDS", default=16)
# A creator's pending earnings likewise: a payment credits one of this many sub-accounts
# (1: one row, as before), so one popular creator's tips rarely wait on each other; a
# merge (beat, and before any debit) moves them into shard 0, which payouts mature from.
COMMERCE_EARNINGS_SHARDS = env.int("COMMERCE_EARNINGS_SHARDS", default=16)
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
# The largest single top-up per currency in minor units ("KRW=10000000,USD=1000000");
# a currency not listed: 10,000 major units (config/currencies.py).
COMMERCE_MAX_TOPUP = env.dict(
    "COMMERCE_MAX_TOPUP",
    cast={"value": int},
    default={"KRW": 10_000_000, "JPY": 1_000_000, "USD": 1_000_000, "EUR": 1_000_000},
)
CELERY_BEAT_SCHEDULE = {
    "commerce-mature-earnings": {"task": "commerce.tasks.mature_earnings", "schedule": 3600},
    "commerce-merge-earnings-shards": {
        "task": "commerce.tasks.merge_earnings_shards",
        "schedule": 300,
    },
    "commerce-renew-memberships": {"task": "commerce.tasks.renew_room_access", "schedule": 900},
    "commerce-expire-holds": {"task": "commerce.tasks.expire_pending_transfers", "schedule": 900},
    "commerce-purge-keys": {"task": "commerce.tasks.purge_idempotency_keys", "schedule": 3600},
    # The tips' notification outbox relay, every second: a paid tip's recipient hears of
    # it within about that. A run no worker started within 30 s is dropped: a later one
    # does its work.
    "commerce-relay-tip-notifications": {
        "task": "commerce.tasks.relay_tip_notifications",
        "schedule": 1.0,
        "options": {"expires": 30},
    },
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
# Link previews no message shows any more (docs/links.md).
CELERY_BEAT_SCHEDULE["community-link-preview-sweep"] = {
    "task": "community.links.sweep_link_previews",
    "schedule": 3600,
}

# Polls close on time (votes are refused from then on; this sends the final tallies),
# and meetups remind the members going an hour before they start.
CELERY_BEAT_SCHEDULE["community-close-due-polls"] = {
    "task": "community.polls.close_due_polls",
    "schedule": 60,
}
MEETUP_REMINDER_MINUTES = env.int("MEETUP_REMINDER_MINUTES", default=60)
CELERY_BEAT_SCHEDULE["community-meetup-reminders"] = {
    "task": "community.meetups.send_meetup_reminders",
    "schedule": 60,
}

# --- Push notifications (community/push, docs/push.md) -----------------------------------
# Web Push (VAPID, RFC 8292): the application server's private key, as the base64url raw
# key or a PEM; the public key handed to browsers is derived from it. Empty: no Web Push.
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", default="")
# The contact push services see in the VAPID claims ("mailto:" or an https URL).
VAPID_SUBJECT = env.str("VAPID_SUBJECT", default="mailto:push@moim.example")
# Hosts (and their subdomains) a browser's subscription endpoint may name: the server
# POSTs there, so an endpoint elsewhere is refused (no request forgery through it).
PUSH_WEB_ENDPOINT_HOSTS = env.list(
    "PUSH_WEB_ENDPOINT_HOSTS",
    default=[
        "fcm.googleapis.com",
        "push.services.mozilla.com",
        "notify.windows.com",
        "push.apple.com",
    ],
)
# FCM HTTP v1: the Firebase service account (a JSON file's path) and its project; the
# endpoint is a setting so tests (and a relay) can point it elsewhere.
FCM_SERVICE_ACCOUNT_FILE = env.str("FCM_SERVICE_ACCOUNT_FILE", default="")
FCM_PROJECT_ID = env.str("FCM_PROJECT_ID", default="")
FCM_ENDPOINT = env.str("FCM_ENDPOINT", default="https://fcm.googleapis.com")
# APNs token authentication: the .p8 key (path), its key id, the team and the app's bundle
# id (the topic). Sandbox or production is per device (registered by the app).
APNS_AUTH_KEY_FILE = env.str("APNS_AUTH_KEY_FILE", default="")
APNS_KEY_ID = env.str("APNS_KEY_ID", default="")
APNS_TEAM_ID = env.str("APNS_TEAM_ID", default="")
APNS_TOPIC = env.str("APNS_TOPIC", default="")
APNS_ENDPOINT = env.str("APNS_ENDPOINT", default="https://api.push.apple.com")
APNS_SANDBOX_ENDPOINT = env.str(
    "APNS_SANDBOX_ENDPOINT", default="https://api.sandbox.push.apple.com"
)
# Seconds a provider may take to answer one push.
PUSH_TIMEOUT_SECONDS = env.int("PUSH_TIMEOUT_SECONDS", default=10)
# Plain room messages wait this long and go out as one notification per room.
PUSH_ROOM_COLLAPSE_SECONDS = env.int("PUSH_ROOM_COLLAPSE_SECONDS", default=15)
# At most this many pushes reach one person per window; the rest stay in the centre.
PUSH_MAX_PER_USER = env.int("PUSH_MAX_PER_USER", default=30)
PUSH_RATE_WINDOW_SECONDS = env.int("PUSH_RATE_WINDOW_SECONDS", default=600)
# At most this many push targets per account (phones, tablets, browsers).
PUSH_MAX_DEVICES_PER_USER = env.int("PUSH_MAX_DEVICES_PER_USER", default=20)
PUSH_NOTIFICATIONS_SETTINGS = {
    # One row per token: registering a token again moves it to its newest owner.
    "UNIQUE_REG_ID": True,
    "USER_MODEL": "profiles.User",
}

# --- Account recovery (profiles/recovery.py) ----------------------------------------------
# Password reset links (Django's tokens) and email verification links expire after these.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=24 * 3600)
EMAIL_VERIFICATION_TIMEOUT = env.int("EMAIL_VERIFICATION_TIMEOUT_SECONDS", default=3 * 24 * 3600)
# Reset and verification emails per window: to one address, and asked for by one client.
ACCOUNT_EMAILS_WINDOW_SECONDS = env.int("ACCOUNT_EMAILS_WINDOW_SECONDS", default=3600)
ACCOUNT_EMAILS_PER_ADDRESS = env.int("ACCOUNT_EMAILS_PER_ADDRESS", default=3)
ACCOUNT_EMAILS_PER_IP = env.int("ACCOUNT_EMAILS_PER_IP", default=10)

"""Django settings, all read from the environment.

Two profiles:
- local (default): SQLite in var/, DEBUG on, files in var/media, Redis on localhost.
- production (APP_ENV=production): PostgreSQL from DATABASE_URL, SECRET_KEY and
  ALLOWED_HOSTS required, DEBUG off, secure cookies, HSTS, whitenoise for static files.
  A missing secret stops the process at import time instead of running insecurely.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from webapp.env import env_bool, env_float, env_int, env_list
from webapp.finetune.options import check_train_options

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

APP_ENV = os.environ.get("APP_ENV", "local")
if APP_ENV not in ("local", "production"):
    raise ImproperlyConfigured(f"APP_ENV must be 'local' or 'production', not {APP_ENV!r}")
PRODUCTION = APP_ENV == "production"


def required_in_production(name: str, local_default: str) -> str:
    value = os.environ.get(name, "")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when APP_ENV=production")
    return local_default


SECRET_KEY = required_in_production("SECRET_KEY", "local-insecure-key-do-not-use-in-production")
# The rule of `check --deploy` (security.W009): long, and not one repeated character or two.
if PRODUCTION and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("local-insecure")):
    raise ImproperlyConfigured(
        "SECRET_KEY must be a random string of at least 50 characters, at least 5 of them different, in production"
    )
DEBUG = env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", required_in_production("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver"))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",  # makes `runserver` speak ASGI (websockets) in development
    "webapp.core.admin_site.HueAdminConfig",  # django.contrib.admin, staff only (403 for other users)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",  # sign-in throttling
    "django_ratelimit",
    "csp",
    "webapp.core",
    "webapp.registry",
    "webapp.accounts",
    "webapp.photos",
    "webapp.finetune",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "webapp.api",
]

MIDDLEWARE = [
    "webapp.core.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy on every page (CONTENT_SECURITY_POLICY)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # answers a locked-out sign-in (429, accounts/locked_out.html)
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"
WSGI_APPLICATION = "webapp.wsgi.application"

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

# --- Database -------------------------------------------------------------------
DATABASE_URL = required_in_production("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if PRODUCTION and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    # Web and workers write concurrently from several machines; SQLite (and anything
    # untested) is for a laptop.
    raise ImproperlyConfigured(
        "DATABASE_URL must be a PostgreSQL URL (postgres://...) when APP_ENV=production, "
        f"not a {DATABASE_URL.split(':', 1)[0]!r} one"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and worker processes write concurrently; wait for the lock instead of failing, and
    # take the write lock when a transaction begins (a read lock cannot be upgraded while waiting).
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable server fails a connection within seconds instead of hanging requests,
    # workers and the /healthz probe for the operating system's TCP timeout (minutes).
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 3)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses sign-ins while an account or an address is locked out
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one account, or from
# one address, sign-ins for it pause for LOGIN_LOCKOUT_MINUTES.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per account and per address
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "webapp.accounts.throttle.locked_out"
AXES_CLIENT_IP_CALLABLE = "webapp.accounts.throttle.client_ip"
# Sign-ups (django-ratelimit, counted in the Redis cache): this many accounts per address and hour.
SIGNUP_RATE = os.environ.get("SIGNUP_RATE", "10/h")
RATELIMIT_FAIL_OPEN = True  # with the cache down, sign-ups go on (sign-in throttling lives in the database)
RATELIMIT_IP_META_KEY = "webapp.accounts.throttle.client_ip"
# Django's own Redis cache increments atomically; django-ratelimit just does not list it.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Files ------------------------------------------------------------------------
# Every file goes through Django's storage API (default_storage / FileField), never a
# raw path, so that web and workers on different machines can share an object store.
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# No MEDIA_URL is routed: originals and results are streamed by views that check the owner.
MEDIA_URL = "/media-not-served/"

AWS_STORAGE_BUCKET_NAME = os.environ.get("S3_BUCKET", "")
if AWS_STORAGE_BUCKET_NAME:
    default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
            "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
            "region_name": os.environ.get("S3_REGION") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": default_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION  # serve straight from static/ while developing
FILE_UPLOAD_PERMISSIONS = 0o640
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("DATA_UPLOAD_MAX_NUMBER_FILES", 100)

# --- Redis, Celery, Channels ----------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # job state lives in the database, not in a result backend
CELERY_TASK_ACKS_LATE = True  # a task is acknowledged only once it has finished...
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # ...and requeued if its worker dies mid-task
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # long jobs: do not hoard messages in one worker
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 14 * 60)
CELERY_TRAINING_TIME_LIMIT = env_int("CELERY_TRAINING_TIME_LIMIT", 48 * 3600)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # An unacknowledged message is redelivered after this long; longer than any
    # inference job. Training jobs are made idempotent by their claim instead.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
}
CELERY_TASK_DEFAULT_QUEUE = "inference"
CELERY_TASK_ALWAYS_EAGER = False

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 gives up on a read after 5 s by default, exactly as long as channels_redis's
            # blocking receive (BZPOPMIN, 5 s) may take: a websocket idle for 5 s would crash.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5}],
            "capacity": 500,
            "expiry": 30,
        },
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

JOB_REAPER_INTERVAL = env_float("JOB_REAPER_INTERVAL", 30)  # seconds between runs of the reapers (core.queue: the beat schedule)

# --- Uploads and colorization jobs ------------------------------------------------------
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 25 * 1024 * 1024)  # per file
# Request bodies, refused before they reach the disk (webapp.core.limits): one photo per script request,
# this much in all for the plain upload form, little for other pages and less before signing in.
UPLOAD_FORM_MAX_BYTES = env_int("UPLOAD_FORM_MAX_BYTES", 10 * UPLOAD_MAX_BYTES)
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 1024 * 1024)
ANONYMOUS_REQUEST_MAX_BYTES = env_int("ANONYMOUS_REQUEST_MAX_BYTES", 64 * 1024)
MODEL_UPLOAD_MAX_BYTES = env_int("MODEL_UPLOAD_MAX_BYTES", 1024**3)  # a generator file uploaded in the admin
# Bodies being received may not leave less than this free on the disk they are spooled to (503 then).
REQUEST_DISK_RESERVE_BYTES = env_int("REQUEST_DISK_RESERVE_BYTES", 1024**3)
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 50_000_000)  # checked from the header, before decoding
COLORIZE_RENDER_SIZES = [int(size) for size in env_list("COLORIZE_RENDER_SIZES", "256,512")]  # the first is the default
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3)  # a job that fails this many times ends failed
JOB_HEARTBEAT_INTERVAL = env_float("JOB_HEARTBEAT_INTERVAL", 10)  # a running job proves its worker alive this often (s)
JOB_STALLED_AFTER = env_float("JOB_STALLED_AFTER", 60)  # a running job without a heartbeat this long is requeued (s)
JOB_RESEND_QUEUED_AFTER = env_float("JOB_RESEND_QUEUED_AFTER", 300)  # a queued job's message is re-sent after (s)
MODEL_WATCH_INTERVAL = env_float("MODEL_WATCH_INTERVAL", 5)  # an inference worker loads a new active model within (s)

# --- HTTP API (/api/v1/, webapp.api) ------------------------------------------------------
API_RATE = os.environ.get("API_RATE", "600/min")  # requests per token (per user for the site's own scripts)
API_MAX_QUEUED_JOBS = env_int("API_MAX_QUEUED_JOBS", 500)  # waiting colorizations per user; more: 429
API_QUEUE_RETRY_AFTER = env_int("API_QUEUE_RETRY_AFTER", 30)  # the Retry-After of that 429 (s)
# Callbacks go only to public addresses, and to these hosts (e.g. an intranet server) an admin allows.
API_CALLBACK_ALLOWED_HOSTS = env_list("API_CALLBACK_ALLOWED_HOSTS")
API_CALLBACK_MAX_ATTEMPTS = env_int("API_CALLBACK_MAX_ATTEMPTS", 8)
API_CALLBACK_RETRY_DELAY = env_float("API_CALLBACK_RETRY_DELAY", 10)  # first retry after (s), then doubling
API_CALLBACK_TIMEOUT = env_float("API_CALLBACK_TIMEOUT", 10)  # per delivery attempt (s)
API_CALLBACK_RESEND_AFTER = env_float("API_CALLBACK_RESEND_AFTER", 300)  # a lost message is re-sent after (s)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "webapp.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the site's own scripts
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["webapp.api.throttles.TokenRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "webapp.api.pagination.Pages",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "webapp.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Hue API",
    "DESCRIPTION": "Colorize black-and-white photos from scripts: upload, wait (or get a signed callback), "
                   "download at full resolution. Authenticate with `Authorization: Bearer <token>` "
                   "(tokens: your account page, /account/api-tokens/).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",  # served from this site's static files: the CSP allows only 'self'
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Datasets and fine-tuning ---------------------------------------------------------------
# Server folders an admin may register as datasets (a folder outside these is refused).
DATASET_FOLDER_ROOTS = env_list("DATASET_FOLDER_ROOTS", str(VAR_DIR / "datasets"))
DATASET_MAX_FILES = env_int("DATASET_MAX_FILES", 50_000)  # files in one archive or folder
DATASET_MAX_BYTES = env_int("DATASET_MAX_BYTES", 20 * 1024**3)  # an archive's total uncompressed size
DATASET_MAX_ARCHIVE_BYTES = env_int("DATASET_MAX_ARCHIVE_BYTES", DATASET_MAX_BYTES)  # the uploaded .zip itself
DATASET_MAX_PHOTO_BYTES = env_int("DATASET_MAX_PHOTO_BYTES", 50 * 1024**2)  # one photo in a dataset
TRAINING_DIR = Path(os.environ.get("TRAINING_DIR", VAR_DIR / "training"))  # a training worker's local scratch
FINETUNE_LOADER_WORKERS = env_int("FINETUNE_LOADER_WORKERS", 2)  # photo-decoding processes while training
FINETUNE_CACHE_BYTES = env_int("FINETUNE_CACHE_BYTES", 4 * 1024**3)  # memory for decoded photos kept across epochs
FINETUNE_EVAL_FID = env_bool("FINETUNE_EVAL_FID", True)  # score candidates with FID too (slower on a CPU)
# While this file exists, training workers save their progress after every step and hold after each save
# until `<file>.held` (naming the job and step) or the file is removed: step through a run to inspect it.
FINETUNE_HOLD_FILE = os.environ.get("FINETUNE_HOLD_FILE", "")
FINETUNE_STALLED_AFTER = env_float("FINETUNE_STALLED_AFTER", 120)  # no heartbeat this long: interrupted (s)
# Extra colorizer.train.TrainConfig fields for every job, as JSON, e.g. {"compile": true} on a GPU;
# not the ones each job sets itself (webapp.finetune.options).
try:
    FINETUNE_TRAIN_OPTIONS = json.loads(os.environ.get("FINETUNE_TRAIN_OPTIONS") or "{}")
except json.JSONDecodeError as exc:
    raise ImproperlyConfigured(f"FINETUNE_TRAIN_OPTIONS is not valid JSON: {exc}") from None
try:
    check_train_options(FINETUNE_TRAIN_OPTIONS)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None

# --- Colorizer ---------------------------------------------------------------------
COLORIZER_DEVICE = os.environ.get("COLORIZER_DEVICE", "auto")  # auto | cpu | cuda
# The model shipped in the repository, registered as version 1 on a fresh install.
COLORIZER_DEFAULT_WEIGHTS = Path(
    os.environ.get("COLORIZER_DEFAULT_WEIGHTS", BASE_DIR / "colorizer" / "weights" / "default.safetensors")
)
# Its validation metrics, as scripts/tools/default_model.py writes them; none when absent.
COLORIZER_DEFAULT_METRICS = Path(
    os.environ.get("COLORIZER_DEFAULT_METRICS", BASE_DIR / "docs" / "model_metrics.json")
)

# --- Email (password reset links only) ----------------------------------------------------
# Locally the message is printed on the web process's console; with EMAIL_HOST set it goes out by SMTP.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Hue <noreply@localhost>")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 3600)  # how long a reset link works (s)

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts, styles, images and connections (the websockets
# included: 'self' covers ws:/wss: of the same host) from this site only; no plugins, no framing.
# Inline style attributes are allowed (pages set a photo's aspect ratio that way); inline scripts are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],  # blob: the upload page's previews of chosen files
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", PRODUCTION)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

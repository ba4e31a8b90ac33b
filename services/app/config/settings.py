"""Django settings, all read from the environment (see .env.example at the repository root).

Every variable is read once, here at the top, with its type and default; the rest is derived.
DEBUG is off unless set. With DEBUG off, a missing SECRET_KEY or ALLOWED_HOSTS stops start-up
with one line naming the variable, instead of a stack trace or an insecure default.
"""

import importlib.util
import os
from email.utils import getaddresses
from pathlib import Path

import botocore.config
import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
# Host runs keep their data here (git-ignored); the image points STATIC_ROOT and MEDIA_ROOT
# at /vol/web instead.
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# An empty value counts as unset, as compose's ${NAME:-default} has it: `CONN_MAX_AGE=` in .env
# gives the default instead of an error.
env.ENVIRON = {name: value for name, value in os.environ.items() if value}


def fail(message: str):
    """Stop start-up with one clear line (no traceback): a deployer reads it in the logs."""
    raise SystemExit(f"Configuration error: {message}")


def secret(name: str, default: str = "") -> str:
    """NAME from the environment, or the content of the file NAME_FILE names (Docker secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if not path:
        return env.str(name, default=default)
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        fail(f"{name}_FILE={path} cannot be read ({exc.strerror}).")


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = secret("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
DATABASE_URL = env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASE_PASSWORD = secret("DATABASE_PASSWORD")
CONN_MAX_AGE = env.int("CONN_MAX_AGE", default=60)
# How long the app waits for the database at start (wait_for_db) before it gives up.
DB_WAIT_TIMEOUT = env.float("DB_WAIT_TIMEOUT", default=60)
# Seconds a release's migration may wait for a lock (release_migrate, release_rollback) before it
# gives up, rather than queue the site's queries behind it.
MIGRATION_LOCK_TIMEOUT = env.int("MIGRATION_LOCK_TIMEOUT", default=5)
# /status/backups answers "backup stale" when the last base backup is older than this many hours
# (a day's schedule and some slack), a WAL segment has waited this many seconds to be archived, or
# the last restore drill (or, with none, the first base backup) is this many days old (a week's
# schedule and a day).
BACKUP_STALE_AFTER = env.float("BACKUP_STALE_AFTER", default=26)
BACKUP_WAL_STALE_AFTER = env.int("BACKUP_WAL_STALE_AFTER", default=300)
BACKUP_DRILL_STALE_AFTER = env.float("BACKUP_DRILL_STALE_AFTER", default=8)
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
# Error reports (ops.reports): off unless set. RELEASE is the release serving, set by `inv deploy`.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
RELEASE = env.str("RELEASE", default="")
# Behind a TLS-terminating front: secure cookies, HTTPS redirect and HSTS.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
# HSTS on https: a year by default. Subdomains and the browsers' preload list only when asked:
# either binds every subdomain to https, and a preloaded site for months after a change of mind
# (docs/security.md).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Failed logins in a row that lock an account (django-axes), and the hours until the lock lifts
# by itself; an admin lifts it sooner (docs/security.md).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME", default=1)
# Where uploads live: the `media` volume, or (s3) a bucket of AWS S3 or an S3-compatible store,
# with django-storages' own setting names. An empty endpoint means AWS S3.
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="volume")
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="")
AWS_ACCESS_KEY_ID = secret("AWS_ACCESS_KEY_ID")
AWS_SECRET_ACCESS_KEY = secret("AWS_SECRET_ACCESS_KEY")
# Background tasks (ops.tasks): the tries a failing task gets after its first before it is kept as
# failed; the base of the waits before them (seconds: this, its square, its cube...); seconds
# without a worker's heartbeat before its tasks run again elsewhere; days a finished task is kept
# (a failed one three times as long); tasks one worker runs at a time.
TASK_RETRIES = env.int("TASK_RETRIES", default=4)
TASK_RETRY_WAIT = env.int("TASK_RETRY_WAIT", default=4)
TASK_STALLED_AFTER = env.int("TASK_STALLED_AFTER", default=30)
TASK_KEEP_DAYS = env.float("TASK_KEEP_DAYS", default=7)
WORKER_CONCURRENCY = env.int("WORKER_CONCURRENCY", default=4)
# Mail, sent by the worker (ops.mail): over SMTP, set by EMAIL_URL (smtp://user:password@host:587,
# smtp+tls:// for STARTTLS, smtps:// for TLS) or by Django's own EMAIL_HOST, EMAIL_PORT... ; or
# consolemail:// (each mail printed in the worker's log: the default with DEBUG on). Or an email
# service's API through django-anymail: EMAIL_BACKEND names its backend, ANYMAIL its settings
# (NAME=value,NAME=value).
EMAIL_URL = secret("EMAIL_URL", default="" if env.str("EMAIL_HOST", default="") or not DEBUG else "consolemail://")
SMTP = env.email_url_config(EMAIL_URL) if EMAIL_URL else {}
EMAIL_DELIVERY_BACKEND = env.str(
    "EMAIL_BACKEND", default=SMTP.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
)
ANYMAIL = env.parse_value(secret("ANYMAIL"), dict) if secret("ANYMAIL") else {}
EMAIL_HOST = SMTP.get("EMAIL_HOST") or env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = SMTP.get("EMAIL_PORT") or env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = SMTP.get("EMAIL_HOST_USER") or env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = SMTP.get("EMAIL_HOST_PASSWORD") or secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = SMTP.get("EMAIL_USE_TLS") or env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = SMTP.get("EMAIL_USE_SSL") or env.bool("EMAIL_USE_SSL", default=False)
# Seconds a mail server may take to answer before the try fails (and is retried later).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")
# Django's error mails go from SERVER_EMAIL to ADMINS ("Ann <ann@example.com>,bob@example.com").
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
ADMINS = [(name or address, address) for name, address in getaddresses([env.str("ADMINS", default="")]) if address]

if not DEBUG:
    if not SECRET_KEY:
        fail("SECRET_KEY is not set (DEBUG is off). Set it in .env, or SECRET_KEY_FILE.")
    if not ALLOWED_HOSTS:
        fail("ALLOWED_HOSTS is not set (DEBUG is off). Set it in .env, e.g. ALLOWED_HOSTS=example.com")
if MEDIA_STORAGE == "s3":
    for name in ("AWS_STORAGE_BUCKET_NAME", "AWS_S3_REGION_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        if not globals()[name]:
            fail(f'{name} is not set (MEDIA_STORAGE=s3). Set it in .env (README, "Uploads in a bucket").')
elif MEDIA_STORAGE != "volume":
    fail(f"MEDIA_STORAGE={MEDIA_STORAGE} is neither volume (the default) nor s3.")
if not SECRET_KEY:
    # Only ever used with DEBUG on, on a developer's machine.
    SECRET_KEY = "django-insecure-development-only"  # noqa: S105

# The project's own apps. `manage.py startapp NAME` (`inv startapp NAME`) adds each new app here.
LOCAL_APPS = [
    # The example: a todo list with attachments (docs/developing.md says how to remove it).
    "todos",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    # Django's task API (the backport), and Procrastinate, the queue under it (ops.tasks); before
    # ops, whose tasks it registers.
    "django_tasks",
    "ops.apps.QueueConfig",
    # The workspace's own part of the site (health, status, uploads, the release commands).
    "ops",
    *LOCAL_APPS,
]

MIDDLEWARE = [
    # First: every log line of the request names its user once it is known.
    "ops.logs.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "ops.middleware.DatabaseUnavailableMiddleware",
    "ops.middleware.StorageFullMiddleware",
    "ops.middleware.StorageUnavailableMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it answers a locked account's login.
    "axes.middleware.AxesMiddleware",
]

# The debug toolbar, in development only: the dev image has it (requirements-dev.txt), the
# runtime image does not.
DEBUG_TOOLBAR = DEBUG and importlib.util.find_spec("debug_toolbar") is not None
if DEBUG_TOOLBAR:
    INSTALLED_APPS.append("debug_toolbar")
    MIDDLEWARE.insert(0, "debug_toolbar.middleware.DebugToolbarMiddleware")


def default_gateway() -> list[str]:
    """This container's default gateway, from the kernel's routing table: the address a browser
    on the Docker host has when its request reaches the app through the proxy."""
    try:
        routes = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return []
    gateways = [int(fields[2], 16) for fields in map(str.split, routes) if fields[1] == "00000000"]
    # Little-endian hex: 0100A8C0 is 192.168.0.1.
    return [".".join(str(gateway >> shift & 0xFF) for shift in (0, 8, 16, 24)) for gateway in gateways[:1]]


INTERNAL_IPS = ["127.0.0.1", *default_gateway()] if DEBUG_TOOLBAR else []

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own templates (the site's layout, its login page), then each app's.
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

DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASE_PASSWORD:
    DATABASES["default"]["PASSWORD"] = DATABASE_PASSWORD
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default: a git-ignored file, so the app runs with no database server.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DATABASES["default"]["CONN_MAX_AGE"] = CONN_MAX_AGE
# A reused connection is checked before use, so the app recovers by itself after a db restart.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast while the database is away instead of hanging a worker.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)

# Background tasks: Django's API (django_tasks), run by Procrastinate's worker on PostgreSQL
# (ops.tasks). On SQLite (a run on the host without a database server), each runs at once, inline.
TASKS = {
    "default": {
        "BACKEND": "ops.tasks.QueueBackend"
        if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
        else "django_tasks.backends.immediate.ImmediateBackend"
    }
}

# Every mail is handed to the worker (ops.mail), which sends it with EMAIL_DELIVERY_BACKEND: a slow
# mail server holds no page.
EMAIL_BACKEND = "ops.mail.QueuedEmailBackend"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it counts each failed login, and refuses every try of a locked account.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# An account is locked, whatever address the tries come from (the proxy limits each address's
# tries). A successful login starts the count again.
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
# No banner at every start: a command's error stays the one line it prints.
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

# The site's own login page (templates/registration/login.html); logging in and out lead back to
# the home page.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True

# Folders made for uploads and static files stay writable for the group `web` that every app
# user of the image is in, and hand it on (setgid; see services/app/Dockerfile): the volumes
# keep working when the app user's ids change. Django sets exactly this mode.
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o2775

STATIC_URL = "/static/"
# The project's own static files (the site's CSS, the favicon), then each app's.
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "ops.storage." + ("ObjectStorage" if MEDIA_STORAGE == "s3" else "MediaStorage")},
    # With DEBUG off, file names carry a content hash, so the proxy can cache them forever.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage."
        + ("StaticFilesStorage" if DEBUG else "ManifestStaticFilesStorage")
    },
}
# The bucket stays private: the proxy fetches each object with a URL the app signs for it
# (ops.views.media), used at once, so it is valid for seconds only.
AWS_QUERYSTRING_EXPIRE = 60
AWS_S3_CLIENT_CONFIG = botocore.config.Config(
    signature_version="s3v4",
    # Path-style URLs (endpoint/bucket/key) on an S3-compatible endpoint: no DNS name per bucket.
    s3={"addressing_style": "path" if AWS_S3_ENDPOINT_URL else "virtual"},
    # Fail fast while the store is away (503, ops.middleware) instead of holding a worker for
    # botocore's default minute and its retries.
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 2},
)

# The proxy sets Host and X-Forwarded-Proto; Django builds URLs and judges HTTPS from them.
USE_X_FORWARDED_HOST = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# Healthchecks talk to the app directly, without TLS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# The pages load their scripts, styles, images and fonts from the site itself and nothing else:
# no inline script or style, so nothing an attacker slips into a page runs. (Uploads under
# /media/ get a stricter one from the proxy.) With DEBUG on the policy only reports, in the
# browser's console: Django's debug pages use inline styles and scripts.
PAGE_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
    },
}
CONTENT_SECURITY_POLICY = None if DEBUG else PAGE_POLICY
CONTENT_SECURITY_POLICY_REPORT_ONLY = PAGE_POLICY if DEBUG else None

# check --deploy (a warning fails `inv deploy`) asks for these, which are left off by choice:
# HSTS for subdomains and preload unless asked (above), and django-axes' lock per address, which
# the proxy's limit per client does instead (docs/security.md).
SILENCED_SYSTEM_CHECKS = [
    "axes.W006",
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]

# Each line of a request names its id (ops.logs), as the proxy's line does: plain text, or one
# JSON object a line for a log collector (LOG_FORMAT=json), with the request's fields as keys.
LOG_FORMATTERS = {
    "plain": {
        "()": "logging.Formatter",
        "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s request_id=%(request_id)s",
        "defaults": {"request_id": "-"},
    },
    "json": {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
    },
}
if LOG_FORMAT not in LOG_FORMATTERS:
    fail(f"LOG_FORMAT={LOG_FORMAT} is neither plain (the default) nor json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": LOG_FORMATTERS[LOG_FORMAT]},
    "filters": {
        "request": {"()": "ops.logs.RequestContext"},
        "task_arguments": {"()": "ops.logs.TaskArguments"},
        "repeated_task_outcome": {"()": "ops.logs.RepeatedTaskOutcome"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["request", "task_arguments"]},
        # Django's own: a mail to ADMINS for each error of a request (DEBUG off).
        "mail_admins": {
            "level": "ERROR",
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Replaces Django's own console handler, which would print each line twice with DEBUG on.
        "django": {
            "handlers": ["console", *(["mail_admins"] if ADMINS else [])],
            "level": LOG_LEVEL,
            "propagate": False,
        },
        # release_migrate's linter logs each migration it reads at INFO: its verdict is the one line.
        "django_migration_linter": {"level": "WARNING"},
        # The worker's lines are ops.tasks' (a task's start and end, with the request that
        # enqueued it); Procrastinate's own only from WARNING up, and not those that repeat them.
        "procrastinate": {"level": "WARNING"},
        "procrastinate.worker": {"filters": ["repeated_task_outcome"]},
    },
}

if SENTRY_DSN:
    # Imported only when asked for: a site without reports loads no SDK.
    from ops import reports

    if problem := reports.start(SENTRY_DSN, release=RELEASE, environment=SENTRY_ENVIRONMENT):
        fail(problem)

"""The settings of a deployment, in one table: each one's name, whether it is required, whether it
is a secret, its check and its doc line. `inv deploy`'s checks, the swarm's Docker secrets and the
table in docs/settings.md come from here (`python -m workspace.settings` prints that table), and
tests/workspace holds .env.deploy.example and the compose files against it.

A check takes the value and all the settings, and returns what is wrong with it, or "".
"""

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

Settings = Mapping[str, str]

HOST_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
TRUE = {"1", "true", "yes", "on"}


def uses_bucket(settings: Settings) -> bool:
    return settings.get("MEDIA_STORAGE") == "s3"


def has_domain(settings: Settings) -> bool:
    return bool(settings.get("DOMAIN"))


def debug_off(value: str, settings: Settings) -> str:
    return "DEBUG is on: a deployment runs with DEBUG off (remove the line)" if value.lower() in TRUE else ""


def host_name(value: str, settings: Settings) -> str:
    if not HOST_NAME.fullmatch(value):
        return f"DOMAIN={value} is not a host name: a lower-case name like example.com, no scheme, port or path"
    allowed = [host.strip() for host in settings.get("ALLOWED_HOSTS", "").split(",")]
    if not any(host in ("*", value) or (host.startswith(".") and f".{value}".endswith(host)) for host in allowed):
        return f"ALLOWED_HOSTS does not include DOMAIN ({value}): the site would answer 400"
    return ""


def email(value: str, settings: Settings) -> str:
    return "" if EMAIL.fullmatch(value) else f"ACME_EMAIL={value} is not an email address (or leave it empty)"


def acme_directory(value: str, settings: Settings) -> str:
    return "" if value.startswith("https://") else f"ACME_CA={value} is not an https:// URL of an ACME directory"


def dsn(value: str, settings: Settings) -> str:
    if not re.fullmatch(r"https?://[^@/\s]+@[^/\s]+/\S*\d", value):
        return "SENTRY_DSN is not a DSN: it looks like https://KEY@HOST/PROJECT (the project's settings show it)"
    return ""


def with_domain(check: Callable[[str, Settings], str]) -> Callable[[str, Settings], str]:
    """CHECK, for a setting of the TLS front: only with DOMAIN set."""

    def checked(value: str, settings: Settings) -> str:
        if not has_domain(settings):
            return "it is set, but DOMAIN is not: set DOMAIN for HTTPS, or remove it"
        return check(value, settings)

    return checked


def uses_backup_bucket(settings: Settings) -> bool:
    return bool(settings.get("BACKUP_S3_BUCKET"))


def one_of(*choices: str) -> Callable[[str, Settings], str]:
    def check(value: str, settings: Settings) -> str:
        return "" if value in choices else f"it is {value!r}: one of {', '.join(choices)}"

    return check


def whole_number(value: str, settings: Settings) -> str:
    return "" if value.isdigit() else f"it is {value!r}: a whole number"


def not_site(value: str, settings: Settings) -> str:
    return "it is 'site': the name of the app's own role (docs/security.md); choose another" if value == "site" else ""


def size(value: str, settings: Settings) -> str:
    """A size as pgBackRest reads one: bytes, or with KiB, MiB, GiB (or KB, MB, GB) after it."""
    return "" if re.fullmatch(r"\d+([KMGT]i?B)?", value, re.IGNORECASE) else f"it is {value!r}: a size, like 4GiB"


def folder(value: str, settings: Settings) -> str:
    return "" if value.startswith("/") else f"it is {value!r}: a folder from the bucket's root, like /pgbackrest"


@dataclass(frozen=True)
class Setting:
    name: str
    doc: str
    # Required always (True), never (False), or when this is true of the settings.
    required: bool | Callable[[Settings], bool] = False
    # Passed to a swarm as a Docker secret, never in the stack's environment; and never the
    # example's value.
    secret: bool = False
    check: Callable[[str, Settings], str] | None = None
    # What makes a conditionally required setting required, for the message.
    when: str = ""

    def needed(self, settings: Settings) -> bool:
        return self.required(settings) if callable(self.required) else self.required


TABLE = (
    Setting("COMPOSE_PROJECT_NAME", "The compose project (one host) or stack (swarm): names containers and volumes."),
    Setting("SECRET_KEY", "Signs sessions and tokens: long and random, your own.", required=True, secret=True),
    Setting("ALLOWED_HOSTS", "The names the site answers to, comma-separated.", required=True),
    Setting("CSRF_TRUSTED_ORIGINS", "Origins allowed to POST forms, as the browser sees them (https://example.com)."),
    Setting("DEBUG", "Always off in a deployment.", check=debug_off),
    Setting("HTTPS", "Behind TLS (default true): secure cookies, redirect, HSTS.", check=one_of("true", "false")),
    Setting("SECURE_SSL_REDIRECT", "Redirect http to https (default: as HTTPS).", check=one_of("true", "false")),
    Setting("SECURE_HSTS_SECONDS", "Seconds browsers keep to https (default a year with HTTPS).", check=whole_number),
    Setting(
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "HSTS binds every subdomain too (default false).",
        check=one_of("true", "false"),
    ),
    Setting(
        "SECURE_HSTS_PRELOAD", "Ask for the browsers' preload list (default false).", check=one_of("true", "false")
    ),
    Setting("AXES_FAILURE_LIMIT", "Failed logins in a row that lock an account (default 10).", check=whole_number),
    Setting("AXES_COOLOFF_TIME", "Hours until a locked account opens again (default 1)."),
    Setting("FORWARDED_ALLOW_IPS", "A front of your own: the addresses whose X-Forwarded-* the proxy believes."),
    Setting("LOG_LEVEL", "Django's log level (default INFO)."),
    Setting("LOG_FORMAT", "Log lines: plain (default) or json.", check=one_of("plain", "json")),
    Setting("SENTRY_DSN", "Error reports go to this Sentry or GlitchTip project (default off).", check=dsn),
    Setting("SENTRY_ENVIRONMENT", "The environment the reports name (default production)."),
    Setting("TIME_ZONE", "The site's time zone (default UTC)."),
    Setting("CONN_MAX_AGE", "Seconds a database connection is reused.", check=whole_number),
    Setting("DOMAIN", "The site's name: a TLS front gets its certificate by ACME.", check=host_name),
    Setting("ACME_EMAIL", "The address the CA writes to about the account.", check=with_domain(email)),
    Setting("ACME_CA", "Another ACME CA's directory URL.", check=with_domain(acme_directory)),
    Setting("FRONT_HOST_IP", "Where the front publishes its ports (default 0.0.0.0)."),
    Setting("FRONT_HTTP_PORT", "The front's http port (default 80).", check=whole_number),
    Setting("FRONT_HTTPS_PORT", "The front's https port (default 443).", check=whole_number),
    Setting("FRONT_PLACEMENT", "Swarm: the node the front runs on (default the manager)."),
    Setting("MEDIA_STORAGE", "Where uploads live: volume (default) or s3.", check=one_of("volume", "s3")),
    Setting(
        "AWS_STORAGE_BUCKET_NAME",
        "The uploads' bucket (MEDIA_STORAGE=s3).",
        required=uses_bucket,
        when="MEDIA_STORAGE=s3",
    ),
    Setting(
        "AWS_S3_REGION_NAME", "The bucket's region (MEDIA_STORAGE=s3).", required=uses_bucket, when="MEDIA_STORAGE=s3"
    ),
    Setting("AWS_S3_ENDPOINT_URL", "An S3-compatible store's address; empty for AWS S3."),
    Setting(
        "AWS_ACCESS_KEY_ID",
        "The bucket's access key (MEDIA_STORAGE=s3).",
        required=uses_bucket,
        when="MEDIA_STORAGE=s3",
        secret=True,
    ),
    Setting(
        "AWS_SECRET_ACCESS_KEY",
        "Its secret (MEDIA_STORAGE=s3).",
        required=uses_bucket,
        when="MEDIA_STORAGE=s3",
        secret=True,
    ),
    Setting("POSTGRES_DB", "The database's name (default app)."),
    Setting("POSTGRES_USER", "The database's superuser (default app); not site, the app's own role.", check=not_site),
    Setting("POSTGRES_PASSWORD", "The database's password: your own, any characters.", required=True, secret=True),
    Setting("PROXY_HOST_IP", "Without DOMAIN: where the proxy publishes (default 127.0.0.1)."),
    Setting("PROXY_PORT", "Without DOMAIN: the proxy's port (default 8000).", check=whole_number),
    Setting("CLIENT_MAX_BODY_SIZE", "The largest request body, as nginx sizes (10m)."),
    Setting(
        "PROXY_WRITES_NEED_LOGIN",
        "true: the proxy refuses a body from anyone not logged in (default false).",
        check=one_of("true", "false"),
    ),
    Setting("APP_REPLICAS", "App containers (default 2).", check=whole_number),
    Setting("WORKER_REPLICAS", "Worker containers, for the background tasks (default 1).", check=whole_number),
    Setting("WORKER_CONCURRENCY", "Tasks one worker runs at a time (default 4).", check=whole_number),
    Setting("TASK_RETRIES", "Tries a failing task gets after its first (default 4).", check=whole_number),
    Setting("TASK_RETRY_WAIT", "The base of the waits before them, in seconds (default 4).", check=whole_number),
    Setting(
        "TASK_STALLED_AFTER", "Seconds without a worker's heartbeat before its tasks run again.", check=whole_number
    ),
    Setting("TASK_KEEP_DAYS", "Days a finished task is kept (default 7)."),
    Setting("EMAIL_URL", "Where mail goes: smtp+tls://user:password@host:587, smtps://.", secret=True),
    Setting("EMAIL_TIMEOUT", "Seconds the mail server may take to answer (default 20).", check=whole_number),
    Setting("EMAIL_BACKEND", "An email service's API instead of SMTP: django-anymail's backend."),
    Setting("ANYMAIL", "Its settings: NAME=value,NAME=value.", secret=True),
    Setting("DEFAULT_FROM_EMAIL", "The sender of the site's mail."),
    Setting("SERVER_EMAIL", "The sender of the error mails (default: DEFAULT_FROM_EMAIL)."),
    Setting("ADMINS", "Who gets a mail for each error: Ann <ann@example.com>,bob@example.com."),
    Setting("DB_PLACEMENT", "Swarm: the node the database runs on (default the manager)."),
    Setting("DB_WAIT_TIMEOUT", "Seconds the app waits at start for the database.", check=whole_number),
    Setting("UWSGI_PROCESSES", "uWSGI's worker processes (default 2).", check=whole_number),
    Setting("UWSGI_THREADS", "Threads per uWSGI process (default 1).", check=whole_number),
    Setting("UWSGI_HARAKIRI", "Seconds before a stuck request is killed (default 30).", check=whole_number),
    Setting("APP_UID", "The app user's uid in the images (default 1000).", check=whole_number),
    Setting("APP_GID", "Its gid (default 1000).", check=whole_number),
    Setting("IMAGE_PREFIX", "Images are IMAGE_PREFIX-app:IMAGE_TAG; a registry's name pushes them there."),
    Setting("RELEASES_KEPT", "Releases whose images stay, for inv rollback (default 5).", check=whole_number),
    Setting("MIGRATION_LOCK_TIMEOUT", "Seconds a migration may wait for a lock (default 5).", check=whole_number),
    Setting(
        "BACKUP_KEY",
        "Encrypts the backups: long and random, kept apart from the repository and the bucket.",
        required=True,
        secret=True,
    ),
    Setting("BACKUP_SCHEDULE", "When a base backup is taken: cron syntax, UTC (default 0 3 * * *, daily)."),
    Setting("BACKUP_DRILL_SCHEDULE", "When the restore drill runs: cron syntax, UTC (default 30 4 * * 0, weekly)."),
    Setting(
        "BACKUP_RETENTION",
        "Full backups kept: a count, or days with BACKUP_RETENTION_TYPE=time (default 7).",
        check=whole_number,
    ),
    Setting("BACKUP_RETENTION_TYPE", "count (default) or time.", check=one_of("count", "time")),
    Setting(
        "ARCHIVE_TIMEOUT",
        "Seconds before a WAL segment with writes is archived, full or not (default 60).",
        check=whole_number,
    ),
    Setting("BACKUP_STALE_AFTER", "Hours after which /status/backups calls the last base backup stale (default 26)."),
    Setting(
        "BACKUP_WAL_STALE_AFTER", "Seconds a WAL segment may wait for the archiver (default 300).", check=whole_number
    ),
    Setting(
        "BACKUP_DRILL_STALE_AFTER",
        "Days after which /status/backups calls the last restore drill, or its absence, stale (default 8).",
    ),
    Setting(
        "BACKUP_WAL_QUEUE_MAX",
        "WAL the database keeps for a failing archiver before it drops it, so the disk does not fill (default 4GiB).",
        check=size,
    ),
    Setting("BACKUP_S3_BUCKET", "The backups' bucket; empty: the volume backups on the host."),
    Setting(
        "BACKUP_S3_ENDPOINT",
        "The bucket's store, a host name (s3.eu-west-1.amazonaws.com).",
        required=uses_backup_bucket,
        when="BACKUP_S3_BUCKET",
    ),
    Setting("BACKUP_S3_PORT", "Its HTTPS port (default 443).", check=whole_number),
    Setting("BACKUP_S3_REGION", "The bucket's region.", required=uses_backup_bucket, when="BACKUP_S3_BUCKET"),
    Setting(
        "BACKUP_S3_URI_STYLE", "host (AWS S3, the default) or path (most other stores).", check=one_of("host", "path")
    ),
    Setting(
        "BACKUP_S3_PATH",
        "The site's folder in the bucket (default /pgbackrest): sites that share a bucket each need their own.",
        check=folder,
    ),
    Setting(
        "BACKUP_S3_KEY", "The bucket's access key.", required=uses_backup_bucket, when="BACKUP_S3_BUCKET", secret=True
    ),
    Setting("BACKUP_S3_KEY_SECRET", "Its secret.", required=uses_backup_bucket, when="BACKUP_S3_BUCKET", secret=True),
    Setting(
        "RELEASE_HEALTH_TIMEOUT",
        "Seconds a release has to get healthy (default 180).",
        check=whole_number,
    ),
)
BY_NAME = {setting.name: setting for setting in TABLE}
SECRETS = tuple(setting for setting in TABLE if setting.secret)


def interpolated(text: str) -> set[str]:
    """The variables a compose file's TEXT reads (`${NAME}`, `${NAME:-default}`, ...)."""
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


def problems(settings: Settings, example: Settings, written: Iterable[str], also: Iterable[str] = ()) -> list[str]:
    """What a deployment must not run with, one line each: a name WRITTEN in its env file that is
    no setting (with the nearest known one; ALSO names more, those a site's own compose file
    reads), a required setting missing, an example's secret, a value its check refuses."""
    found = []
    known = {*BY_NAME, *also}
    for name in written:
        if name not in known:
            near = difflib.get_close_matches(name, known, n=1)
            found.append(f"{name} is not a setting" + (f": did you mean {near[0]}?" if near else ""))
    for setting in TABLE:
        value = settings.get(setting.name, "")
        if not value:
            if setting.needed(settings):
                found.append(f"{setting.name} is not set, and {setting.when or 'a deployment'} needs it")
        elif setting.secret and value == example.get(setting.name):
            found.append(f"{setting.name} is the example's value: set your own")
        elif setting.check and (problem := setting.check(value, settings)):
            found.append(problem if problem.startswith(setting.name) else f"{setting.name}: {problem}")
    return found


def markdown() -> str:
    """The table as docs/settings.md shows it."""
    rows = ["| Setting | Required | Secret | What it is |", "|---|---|---|---|"]
    for setting in TABLE:
        required = "yes" if setting.required is True else (f"with {setting.when}" if setting.required else "")
        rows.append(f"| `{setting.name}` | {required} | {'yes' if setting.secret else ''} | {setting.doc} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")

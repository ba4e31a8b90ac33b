"""Error reports (SENTRY_DSN): a page that raises, or a line logged at ERROR, goes to Sentry or any
server that takes its reports (GlitchTip, a Sentry of one's own), with the release serving, the
environment and the request's id (the one in the proxy's and the app's log lines). Nothing that
names or belongs to a visitor goes: no user, no cookie, no request body."""

import logging

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.utils import BadDsn

from ops import logs

# What the SDK would collect by default and a report leaves out: the user's identity, cookies,
# what was posted (a form's password, an upload), the values in SQL queries, and the value of a
# frame's variable whose name says it is secret (password, token, key, session and the like).
# Headers and query strings go, filtered by the same names.
PRIVATE = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_bodies": [],
    "database_query_data": False,
    "stack_frame_variables": {"mode": "denylist"},
}


def start(dsn: str, *, release: str, environment: str) -> str:
    """Sends the reports to DSN from now on; the problem in one line if DSN is not one."""
    try:
        sentry_sdk.init(
            dsn=dsn,
            release=release or None,
            environment=environment,
            data_collection=PRIVATE,
            before_send=with_request_id,
            # A line logged at ERROR is a report; the other lines stay in the logs only, instead
            # of going to the server as well (the SDK's default since 3.0).
            integrations=[LoggingIntegration(level=None, event_level=logging.ERROR)],
        )
    except BadDsn as exc:
        return f"SENTRY_DSN is not a DSN ({exc}): it looks like https://KEY@HOST/PROJECT."
    return ""


def with_request_id(event, hint):
    """The request's id as a tag, to search the reports by it as the log lines are."""
    if (context := logs.current.get()) is not None and context["request_id"]:
        event.setdefault("tags", {})["request_id"] = context["request_id"]
    return event

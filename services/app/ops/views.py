import logging

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import DatabaseError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from . import backups, uploads
from .database import check, first_line

log = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request):
    """Liveness and database readiness, for the healthchecks: never a traceback."""
    try:
        check()
    except DatabaseError as exc:
        log.warning("healthz: database unavailable: %s", first_line(exc))
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@never_cache
@require_GET
def backup_status(request):
    """Whether the backups keep up, for a monitor: 503 "backup stale" when archiving is stuck or the
    last base backup is too old or failed. Apart from /healthz on purpose: a stale backup must never
    make the app look unhealthy to compose or a swarm."""
    try:
        found = backups.report()
    except DatabaseError as exc:
        log.warning("status/backups: database unavailable: %s", first_line(exc))
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    status = 200 if found["status"] != "backup stale" else 503
    # What is wrong, and the WAL's names, for the site's staff only.
    return JsonResponse(found if request.user.is_staff else {"status": found["status"]}, status=status)


@never_cache
def session(request):
    """For the proxy with PROXY_WRITES_NEED_LOGIN=true, before it reads the body of a request
    that writes (its /_session): 204 for a logged-in user's session, 403 for anyone else, whose
    request the proxy then refuses unread."""
    return HttpResponse(status=204 if request.user.is_authenticated else 403)


@require_safe
def media(request, name):
    """An upload the proxy does not serve on its own: any upload in a bucket (MEDIA_STORAGE=s3),
    and a private one (ops.uploads) on the volume.

    Only a file a row of the site names: any other name (a restore's staging copy, the file of a
    deleted row) is a 404. A private file goes to whom the row allows, else a visitor is sent to
    log in and a user refused. X-Accel-Redirect sends nginx to the bytes (the bucket's object at a
    URL signed for this request, or the volume's file), so they never pass through a worker and
    the answer gets the proxy's /media/ headers. Nothing is asked of the store here: a missing
    object is the store's 404.
    """
    row = uploads.row_naming(name)
    if row is None:
        raise Http404
    if uploads.is_private(name) and not uploads.may_download(row, request.user):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise PermissionDenied
    # No charset: nginx would keep it and add it to the file's own Content-Type.
    response = HttpResponse(content_type="application/octet-stream")
    if settings.MEDIA_STORAGE == "s3":
        response["X-Accel-Redirect"] = "/_bucket"
        # Whole and encoded as the store signed it: nginx passes it on as it is.
        response["X-Bucket-Url"] = default_storage.signed_url(name, request.method)
    elif settings.DEBUG:
        # Development without the proxy in front: Django sends the file itself.
        return FileResponse(default_storage.open(name))
    else:
        # As stored: Private's names are random, of letters, digits and one dot.
        response["X-Accel-Redirect"] = "/_private/" + name.removeprefix(uploads.PRIVATE)
    return response

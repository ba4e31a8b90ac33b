import errno
import logging

from botocore.exceptions import BotoCoreError, ClientError
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.utils.deprecation import MiddlewareMixin

from .database import first_line

log = logging.getLogger(__name__)

# Each answers one kind of failure in process_exception; MiddlewareMixin passes requests on.


def unavailable(what: str) -> HttpResponse:
    """503 with a short page: nothing was written, and the client may retry in a moment."""
    message = f"Service temporarily unavailable: {what} cannot be reached. Try again shortly.\n"
    response = HttpResponse(message, status=503, content_type="text/plain")
    response["Retry-After"] = "5"
    return response


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """While the database is away, answer 503 with a short page instead of a 500 and a trace.

    Clients may retry; nothing was written, since the request's query did not reach the database.
    """

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)):
            log.warning("database unavailable: %s", first_line(exception))
            return unavailable("the database")
        return None


class StorageFullMiddleware(MiddlewareMixin):
    """When the disk is full, answer 507 with a short page instead of a 500: the upload was not
    stored (the storage removes what it could not write whole)."""

    def process_exception(self, request, exception):
        if isinstance(exception, OSError) and exception.errno == errno.ENOSPC:
            log.error("storage full: %s", exception)
            return HttpResponse(
                "Insufficient storage: the server has no space left to store this. Try again later.\n",
                status=507,
                content_type="text/plain",
            )
        return None


class StorageUnavailableMiddleware(MiddlewareMixin):
    """While the bucket cannot be reached or refuses (MEDIA_STORAGE=s3), answer 503 instead of a
    500: the upload was not stored, and neither was its row (the file is written first, and an
    object is stored whole or not at all)."""

    def process_exception(self, request, exception):
        if isinstance(exception, (BotoCoreError, ClientError)):
            log.error("object storage unavailable: %s", first_line(exception))
            return unavailable("the file storage")
        return None

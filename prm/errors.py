"""Error pages: JSON in the API's error shape under /api/, the portal's pages elsewhere.

When the database cannot be reached (a restart, a failover, a network cut) a request
answers 503 with ``Retry-After``, not 500: nothing was written, and trying again is
right. Django gives up the broken connection at the end of the request; with
``CONN_HEALTH_CHECKS`` the next request opens a fresh one.
"""

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext
from django.views import defaults

logger = logging.getLogger(__name__)

# The database errors that mean "not reachable now", as opposed to a bug or bad data.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"detail": "You do not have permission to do this.", "code": "permission_denied"},
            status=403,
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def request_too_large(request, limit: int) -> HttpResponse:
    """413: the body is refused before it is read (nothing was received or saved)."""
    size = f"{limit / 1024 / 1024:.0f} MB"
    if _is_api(request):
        return JsonResponse(
            {
                "detail": f"The request is larger than {size}; nothing was saved. "
                "Send smaller files, or fewer at once.",
                "code": "too_large",
            },
            status=413,
        )
    page = loader.get_template("413.html").render({"size": size})
    return HttpResponse(page, status=413)


class RequestSizeMiddleware:
    """Refuse a request whose declared body is larger than ``MAX_REQUEST_BYTES``, from its
    Content-Length, before reading it: uploads are otherwise spooled to disk whole before
    any size check (``DATA_UPLOAD_MAX_MEMORY_SIZE`` leaves files out). A body sent
    without a length is not read by Django at all."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MAX_REQUEST_BYTES
        if length > limit:
            logger.warning("Refused %s %s: %s bytes", request.method, request.path, length)
            return request_too_large(request, limit)
        return self.get_response(request)


class NulInQueryMiddleware:
    """A query string holding a NUL character (``%00``) is answered 400 before any view
    reads it: no text column stores one (PostgreSQL refuses it with an error), so no
    filter, search or page parameter may carry one. Form fields refuse NULs themselves."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            if _is_api(request):
                return JsonResponse(
                    {
                        "detail": gettext("A query parameter holds a NUL character."),
                        "code": "bad_request",
                    },
                    status=400,
                )
            return defaults.bad_request(request, None)
        return self.get_response(request)


def database_unavailable(request, exception=None) -> HttpResponse:
    """503: the database did not answer. Renders without context processors (they query
    the database)."""
    logger.warning("Database unavailable on %s %s: %s", request.method, request.path, exception)
    if _is_api(request):
        response = JsonResponse(
            {
                "detail": "The service is briefly unavailable; nothing was saved. "
                "Please try again in a moment.",
                "code": "unavailable",
            },
            status=503,
        )
    else:
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """A view (or DRF viewset) that hits an unreachable database answers 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_UNAVAILABLE):
            return database_unavailable(request, exception)
        return None


def server_error(request) -> HttpResponse:
    # Raised outside a view (in a middleware: the session, the user): still a 503.
    exception = sys.exc_info()[1]
    if isinstance(exception, DATABASE_UNAVAILABLE):
        return database_unavailable(request, exception)
    if _is_api(request):
        return JsonResponse(
            {"detail": "Something went wrong on our side; it has been logged.", "code": "error"},
            status=500,
        )
    return defaults.server_error(request)

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
from django.urls import reverse
from django.utils.functional import empty
from django.utils.translation import gettext

from .roles import VENDOR_ROLES, Role, role_of

logger = logging.getLogger(__name__)

# The database errors that mean "not reachable now", as opposed to a bug or bad data.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _is_admin(request) -> bool:
    return request.path.startswith(reverse("admin:index"))


def audience(request, *, may_query: bool = True) -> str:
    """Who an error page speaks to: ``anonymous``, ``partner`` or ``staff``; ``unknown``
    when finding out would need the database and ``may_query`` is off (the 500 page: the
    error may be the database's own)."""
    user = getattr(request, "user", None)
    if user is None:
        return "unknown"
    if not may_query and getattr(user, "_wrapped", None) is empty:
        return "unknown"
    try:
        role = role_of(user)
    except DATABASE_UNAVAILABLE:
        return "unknown"
    if role is None:
        return "anonymous" if not user.is_authenticated else "unknown"
    if role == Role.PARTNER:
        return "partner"
    return "staff" if role in VENDOR_ROLES else "unknown"


def error_page(
    request, template: str, status: int, *, may_query: bool = True, **extra
) -> HttpResponse:
    """An error page in the site's look, worded for whoever sees it, with a way back: the
    admin's index for staff who were in the admin, the home page (which sends each role to
    its own) otherwise, the sign-in page for someone not signed in. Rendered without the
    context processors, which query the database."""
    context = {
        "audience": audience(request, may_query=may_query),
        "home": reverse("home"),
        "admin": reverse("admin:index") if _is_admin(request) else "",
        "sign_in": f"{reverse('account_login')}",
        "request_id": getattr(request, "request_id", ""),
        **extra,
    }
    return HttpResponse(loader.render_to_string(template, context), status=status)


def bad_request(request, exception=None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return error_page(request, "400.html", 400)


def permission_denied(request, exception=None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"detail": "You do not have permission to do this.", "code": "permission_denied"},
            status=403,
        )
    return error_page(request, "403.html", 403)


def csrf_failure(request, reason: str = "") -> HttpResponse:
    """A form sent without its (or with a stale) security token: typically a page left open
    across a sign-out, or cookies refused. Nothing was saved; reloading the form fixes it."""
    logger.warning("CSRF failure on %s %s: %s", request.method, request.path, reason)
    if _is_api(request):
        return JsonResponse(
            {"detail": "CSRF check failed: " + reason, "code": "csrf_failed"}, status=403
        )
    return error_page(request, "403_csrf.html", 403)


def page_not_found(request, exception=None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return error_page(request, "404.html", 404)


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
    return error_page(request, "413.html", 413, may_query=False, size=size)


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
            return error_page(request, "400.html", 400, may_query=False)
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
        response = error_page(request, "503.html", 503, may_query=False)
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
    return error_page(request, "500.html", 500, may_query=False)

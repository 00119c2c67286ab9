"""One error shape for the API: ``{"detail": "…", "code": "…"}`` or DRF's field errors."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request is too large; nothing was saved."
    default_code = "too_large"


def exception_handler(exc, context) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        # A body (not a file) past DATA_UPLOAD_MAX_MEMORY_SIZE: Django stopped reading it.
        size = f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024 / 1024:.1f} MB"
        exc = RequestTooLarge(
            gettext("The request body is larger than %(size)s; nothing was saved.") % {"size": size}
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        detail = data["detail"]
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        if isinstance(detail, list):
            detail = " ".join(str(item) for item in detail)
        response.data = {"detail": str(detail), "code": code}
    elif isinstance(data, list):
        response.data = {"detail": " ".join(str(item) for item in data), "code": "invalid"}
    return response

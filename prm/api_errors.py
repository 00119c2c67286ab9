"""One error shape for the API: ``{"detail": "…", "code": "…"}`` or DRF's field errors."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def exception_handler(exc, context):
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

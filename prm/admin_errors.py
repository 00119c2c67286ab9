"""The admin's answer to bad input: a form sent back with errors is a 400."""

from django.http import HttpResponse


class BadInputIs400Mixin:
    """A form sent back with errors answers 400, not 200: the request was at fault, and a
    script or a test can tell it from a success."""

    def changeform_view(
        self, request, object_id=None, form_url="", extra_context=None
    ) -> HttpResponse:
        response = super().changeform_view(request, object_id, form_url, extra_context)
        context = getattr(response, "context_data", None) or {}
        if request.method == "POST" and context.get("errors"):
            response.status_code = 400
        return response

"""The admin's history pages, read-only.

django-simple-history's page of one past version (``<id>/history/<version>/``) saves its
form on POST, checking only that the user may *view* history: an executive could write,
and anyone could put a row back to an old state without the service that guards its
transitions. Every history page here shows who changed what and when; writes go through
services, so a POST to a version page is refused.
"""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from simple_history.admin import SimpleHistoryAdmin


class HistoryAdmin(SimpleHistoryAdmin):
    def history_form_view(self, request, object_id, version_id, extra_context=None) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("Past versions are shown, never restored.")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None) -> bool:
        return True

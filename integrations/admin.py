"""The CRM sync in the admin: connections (sync now, full push), field mappings, every
synced object, and the sync-error queue with its retry and skip actions.

Synced objects are scoped like every partner's data (``partners.admin.ScopedAdminMixin``):
a channel manager sees and acts on the rows of their own partners only; the rows about
customer accounts and leads, which belong to no partner, are for the roles that see
every partner. Actions call ``integrations.crm.services``.
"""

import re

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from partners.admin import ScopedAdminMixin

from .crm import connector_class
from .crm.base import NotConfigured
from .crm.mapping import LOCAL_FIELDS
from .crm.services import (
    crm_full_push,
    crm_sync_enqueue,
    sync_records_retry,
    sync_records_skip,
)
from .models import CrmConnection, FieldMapping, SyncError, SyncRecord, SyncState

CRM_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")


def _configured(provider: str) -> str:
    try:
        connector_class(provider).from_environment()
    except NotConfigured as exc:
        return exc.message
    return ""


@admin.register(CrmConnection)
class CrmConnectionAdmin(admin.ModelAdmin):
    list_display = ["provider", "enabled", "inbound", "outbound", "configuration", "last_run"]
    fields = [
        "provider",
        "enabled",
        "inbound",
        "outbound",
        "configuration",
        "last_run",
        "watermarks",
    ]
    readonly_fields = ["provider", "configuration", "last_run", "watermarks"]
    actions = ["sync_now", "push_everything"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("configuration"))
    def configuration(self, obj) -> str:
        return _configured(obj.provider) or _("Credentials set in the environment")

    @admin.display(description=_("last run"))
    def last_run(self, obj) -> str:
        if not obj.last_run_at:
            return _("never")
        return f"{obj.last_run_at:%Y-%m-%d %H:%M} UTC: {obj.last_run_summary}"

    @admin.display(description=_("read up to"))
    def watermarks(self, obj):
        marks = obj.marks.order_by("object_type")
        return format_html_join(
            ", ",
            "{}: {}",
            ((m.object_type, f"{m.modified_since:%Y-%m-%d %H:%M:%S}") for m in marks),
        ) or _("nothing read yet")

    @admin.action(description=_("Sync now"), permissions=["change"])
    def sync_now(self, request, queryset):
        ready = [c for c in queryset if c.enabled and not _configured(c.provider)]
        for connection in queryset:
            if connection not in ready:
                why = _configured(connection.provider) or _("it is not enabled")
                self.message_user(
                    request,
                    _("%(crm)s was not synced: %(why)s") % {"crm": connection, "why": why},
                    messages.WARNING,
                )
        if ready:
            crm_sync_enqueue(connections=ready)
            self.message_user(
                request,
                _("A sync of %(crms)s has started: its outcome shows under “last run”.")
                % {"crms": ", ".join(str(c) for c in ready)},
                messages.SUCCESS,
            )

    @admin.action(description=_("Push every partner and registration"), permissions=["change"])
    def push_everything(self, request, queryset):
        for connection in queryset.filter(enabled=True, outbound=True):
            count = crm_full_push(connection=connection)
            self.message_user(
                request,
                _("%(count)d objects marked to push to %(crm)s.")
                % {"count": count, "crm": connection},
                messages.SUCCESS,
            )


class FieldMappingForm(forms.ModelForm):
    class Meta:
        model = FieldMapping
        fields = ["provider", "object_type", "local_field", "crm_field", "enabled"]

    def clean(self):
        cleaned = super().clean()
        object_type, local = cleaned.get("object_type"), cleaned.get("local_field")
        if object_type and local and local not in LOCAL_FIELDS[object_type]:
            self.add_error(
                "local_field",
                _("One of: %(fields)s.") % {"fields": ", ".join(LOCAL_FIELDS[object_type])},
            )
        crm_field = cleaned.get("crm_field") or ""
        if crm_field and not CRM_FIELD.match(crm_field):
            self.add_error(
                "crm_field",
                _("A field's API name: letters, digits and underscores (one dot for a relation)."),
            )
        return cleaned


@admin.register(FieldMapping)
class FieldMappingAdmin(admin.ModelAdmin):
    form = FieldMappingForm
    list_display = ["provider", "object_type", "local_field", "crm_field", "enabled"]
    list_filter = ["provider", "object_type", "enabled"]
    list_editable = ["enabled"]
    search_fields = ["local_field", "crm_field"]


class SyncRecordAdminBase(ScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "object_type",
        "connection",
        "state",
        "external_id",
        "short_error",
        "attempts",
        "changed_at",
    ]
    list_filter = ["connection", "object_type", "state"]
    list_select_related = ["connection", "partner"]
    search_fields = ["label", "external_id", "error"]
    readonly_fields = [
        "connection",
        "object_type",
        "local_id",
        "partner",
        "external_id",
        "label",
        "state",
        "error",
        "attempts",
        "next_attempt_at",
        "note",
        "pushed_hash",
        "pulled_modified_at",
        "synced_at",
        "changed_at",
        "skipped_by",
        "facts",
    ]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The actions need the change permission; no row is ever edited by hand.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("CRM's message"))
    def short_error(self, obj) -> str:
        return obj.error[:160] + ("…" if len(obj.error) > 160 else "")

    @admin.action(description=_("Retry"), permissions=["change"])
    def retry(self, request, queryset):
        count = sync_records_retry(records=queryset, by=request.user)
        self.message_user(
            request,
            ngettext(
                "%(count)d object queued to sync again.",
                "%(count)d objects queued to sync again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(SyncRecord)
class SyncRecordAdmin(SyncRecordAdminBase):
    pass


@admin.register(SyncError)
class SyncErrorAdmin(SyncRecordAdminBase):
    list_display = [
        "__str__",
        "object_type",
        "connection",
        "error",
        "attempts",
        "next_attempt_at",
        "changed_at",
    ]
    list_filter = ["connection", "object_type"]
    actions = ["retry", "skip"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(state=SyncState.ERROR)

    @admin.action(description=_("Skip (do not sync)"), permissions=["change"])
    def skip(self, request, queryset):
        count = sync_records_skip(records=queryset, by=request.user)
        self.message_user(
            request,
            ngettext("%(count)d object skipped.", "%(count)d objects skipped.", count)
            % {"count": count},
            messages.SUCCESS,
        )

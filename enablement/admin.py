from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from simple_history.admin import SimpleHistoryAdmin

from partners.admin import ScopedAdminMixin

from . import services
from .models import (
    Certification,
    CertificationType,
    EventAttendance,
    LoginDay,
    TrainingCompletion,
)


@admin.register(CertificationType)
class CertificationTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "validity_months", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class CertificationForm(forms.ModelForm):
    class Meta:
        model = Certification
        fields = ["partner", "user", "certification_type", "issued_on", "expires_on"]

    def clean(self):
        cleaned = super().clean()
        partner, user = cleaned.get("partner"), cleaned.get("user")
        if (
            partner
            and user
            and getattr(getattr(user, "membership", None), "partner_id", None) != partner.pk
        ):
            self.add_error("user", f"{user} does not work for {partner}.")
        return cleaned


@admin.register(Certification)
class CertificationAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    form = CertificationForm
    list_display = ["user", "partner", "certification_type", "issued_on", "expires_on"]
    list_filter = ["certification_type", "expires_on"]
    list_select_related = ["user", "partner", "certification_type"]
    search_fields = ["user__username", "user__email", "partner__name"]
    date_hierarchy = "expires_on"
    raw_id_fields = ["user"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        try:
            saved = services.certification_award(
                partner=obj.partner,
                user=obj.user,
                certification=obj.certification_type,
                issued_on=obj.issued_on,
                expires_on=obj.expires_on,
                awarded_by=request.user,
            )
        except ValidationError as exc:
            raise PermissionDenied(" ".join(exc.messages)) from exc
        obj.pk = saved.pk


class EngagementAdminMixin(ScopedAdminMixin):
    raw_id_fields = ["user"]
    list_select_related = ["user", "partner"]
    search_fields = ["user__username", "partner__name"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TrainingCompletion)
class TrainingCompletionAdmin(EngagementAdminMixin, admin.ModelAdmin):
    list_display = ["user", "partner", "course", "completed_on"]
    list_filter = ["course", "completed_on"]
    fields = ["partner", "user", "course", "completed_on"]

    def save_model(self, request, obj, form, change):
        try:
            saved = services.training_completion_record(
                partner=obj.partner,
                user=obj.user,
                course=obj.course,
                completed_on=obj.completed_on,
                recorded_by=request.user,
            )
        except ValidationError as exc:
            raise PermissionDenied(" ".join(exc.messages)) from exc
        obj.pk = saved.pk


@admin.register(EventAttendance)
class EventAttendanceAdmin(EngagementAdminMixin, admin.ModelAdmin):
    list_display = ["user", "partner", "event", "attended_on"]
    list_filter = ["event", "attended_on"]
    fields = ["partner", "user", "event", "attended_on"]

    def save_model(self, request, obj, form, change):
        try:
            saved = services.event_attendance_record(
                partner=obj.partner,
                user=obj.user,
                event=obj.event,
                attended_on=obj.attended_on,
                recorded_by=request.user,
            )
        except ValidationError as exc:
            raise PermissionDenied(" ".join(exc.messages)) from exc
        obj.pk = saved.pk


@admin.register(LoginDay)
class LoginDayAdmin(EngagementAdminMixin, admin.ModelAdmin):
    list_display = ["user", "partner", "day"]
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

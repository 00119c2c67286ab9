from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from simple_history.admin import SimpleHistoryAdmin

from partners.admin import ScopedAdminMixin

from . import services
from .models import Certification, CertificationType


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

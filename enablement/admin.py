from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext

from partners.admin import ReadOnlyAdminMixin, ScopedAdminMixin
from partners.models import User
from partners.permissions import manages_partner
from prm.admin_errors import BadInputIs400Mixin
from prm.admin_history import HistoryAdmin
from prm.admin_money import MoneyAdmin
from prm.admin_style import colour_class
from prm.roles import MANAGER_ROLES, Role, role_of

from . import services
from .models import (
    Campaign,
    CampaignLead,
    Certification,
    CertificationType,
    CoMarketingActivity,
    ContentItem,
    EventAttendance,
    LoginDay,
    Milestone,
    OnboardingTask,
    PartnerApplication,
    ProfileCriterion,
    RecruitmentTarget,
    TrainingCompletion,
)
from .queries import recruitment_progress


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
class CertificationAdmin(ScopedAdminMixin, HistoryAdmin):
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


# ---------------------------------------------------------------- recruitment


class ApproveForm(forms.Form):
    agreement_signed_on = forms.DateField(
        help_text="YYYY-MM-DD: the day the partner agreement was signed."
    )
    channel_manager = forms.ModelChoiceField(
        queryset=User.objects.filter(role=Role.CHANNEL_MANAGER, is_active=True), required=False
    )


class DeclineForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="E-mailed to the applicant."
    )


@admin.register(PartnerApplication)
class PartnerApplicationAdmin(ReadOnlyAdminMixin, MoneyAdmin, HistoryAdmin):
    list_display = [
        "company_name",
        "fit",
        "status",
        "partner_type",
        "country",
        "employees",
        "annual_revenue",
        "submitted_at",
        "partner",
    ]
    list_filter = ["status", "partner_type", "country"]
    search_fields = ["company_name", "domain", "contact_email", "contact_name"]
    readonly_fields = [f.name for f in PartnerApplication._meta.fields] + ["fit_lines"]
    actions = ["qualify_selected", "approve_selected", "activate_selected", "decline_selected"]
    ordering = ["-fit_score", "-submitted_at"]
    change_list_template = "admin/enablement/partnerapplication/change_list.html"

    def has_decide_permission(self, request) -> bool:
        return role_of(request.user) in MANAGER_ROLES

    @admin.display(description="Fit", ordering="fit_score")
    def fit(self, obj):
        colour = (
            "#1a7f37" if obj.fit_score >= 70 else "#b58105" if obj.fit_score >= 40 else "#a40e26"
        )
        return format_html('<b class="{}">{}</b>', colour_class(colour), obj.fit_score)

    @admin.display(description="Ideal-partner profile")
    def fit_lines(self, obj):
        return format_html_join(
            "",
            "<div>{} {} <span class='c-muted'>({} pts)</span></div>",
            (
                ("✔" if line["met"] else "✘", line["criterion"], line["points"])
                for line in obj.fit_details
            ),
        )

    def changelist_view(self, request, extra_context=None):
        targets = [
            (target, recruitment_progress(target))
            for target in RecruitmentTarget.objects.select_related("program").order_by(
                "-starts_on"
            )[:3]
        ]
        return super().changelist_view(request, {**(extra_context or {}), "targets": targets})

    def _each(self, request, queryset, call, verb):
        done = 0
        for application in queryset:
            try:
                call(application)
                done += 1
            except services.EnablementError as exc:
                self.message_user(request, f"{application}: {exc.message}", messages.WARNING)
            except ValidationError as exc:
                self.message_user(
                    request, f"{application}: {' '.join(exc.messages)}", messages.WARNING
                )
        if done:
            self.message_user(request, f"{verb} {done}.", messages.SUCCESS)

    @admin.action(description="Qualify selected", permissions=["decide"])
    def qualify_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda a: services.application_qualify(application=a, by=request.user),
            "Qualified:",
        )

    @admin.action(
        description="Approve selected (agreement signed: create partner, invite)…",
        permissions=["decide"],
    )
    def approve_selected(self, request, queryset):
        form = ApproveForm(request.POST if "confirmed" in request.POST else None)
        if form.is_valid():
            base_url = request.build_absolute_uri("/")
            self._each(
                request,
                queryset,
                lambda a: services.application_approve(
                    application=a,
                    by=request.user,
                    agreement_signed_on=form.cleaned_data["agreement_signed_on"],
                    channel_manager=form.cleaned_data["channel_manager"],
                    base_url=base_url,
                ),
                "Approved (partner created and admin invited):",
            )
            return None
        return self._ask(request, queryset, form, "approve_selected", "Approve applications")

    @admin.action(description="Activate selected (onboarding done)", permissions=["decide"])
    def activate_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda a: services.application_activate(application=a, by=request.user),
            "Activated:",
        )

    @admin.action(description="Decline selected…", permissions=["decide"])
    def decline_selected(self, request, queryset):
        form = DeclineForm(request.POST if "confirmed" in request.POST else None)
        if form.is_valid():
            self._each(
                request,
                queryset,
                lambda a: services.application_decline(
                    application=a, by=request.user, reason=form.cleaned_data["reason"]
                ),
                "Declined:",
            )
            return None
        return self._ask(request, queryset, form, "decline_selected", "Decline applications")

    def _ask(self, request, queryset, form, action, title):
        return render(
            request,
            "admin/incentives/confirm_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "items": queryset,
                "form": form,
                "action": action,
                "opts": self.model._meta,
            },
        )


@admin.register(ProfileCriterion)
class ProfileCriterionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "program", "points"]
    list_filter = ["program"]


@admin.register(RecruitmentTarget)
class RecruitmentTargetAdmin(admin.ModelAdmin):
    list_display = ["name", "program", "starts_on", "ends_on", "target_low", "target_high"]


# ---------------------------------------------------------------- onboarding


class OverdueFilter(admin.SimpleListFilter):
    title = "progress"
    parameter_name = "progress"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("open", "To do"), ("done", "Done")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "overdue":
            return queryset.filter(completed_on__isnull=True, due_on__lt=today)
        if self.value() == "open":
            return queryset.filter(completed_on__isnull=True)
        if self.value() == "done":
            return queryset.filter(completed_on__isnull=False)
        return queryset


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    list_display = ["name", "program", "phase", "due_days", "certification_type", "auto_event"]
    list_filter = ["program", "phase"]
    ordering = ["program", "due_days", "order"]


@admin.register(OnboardingTask)
class OnboardingTaskAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, HistoryAdmin):
    list_display = ["milestone", "partner", "due_on", "state", "completed_on", "note"]
    list_filter = [OverdueFilter, "milestone__phase", "completed_automatically"]
    list_select_related = ["partner", "milestone"]
    search_fields = ["partner__name", "milestone__name"]
    readonly_fields = [f.name for f in OnboardingTask._meta.fields]
    actions = ["complete_selected"]

    def has_decide_permission(self, request) -> bool:
        return role_of(request.user) in MANAGER_ROLES

    @admin.display(description="State")
    def state(self, obj):
        if obj.completed_on:
            return format_html(
                '<span class="c-ok">done{}</span>',
                " (data)" if obj.completed_automatically else "",
            )
        if obj.due_on < timezone.localdate():
            return format_html('<b class="{}">overdue</b>', "c-bad")
        return "to do"

    @admin.action(description="Mark selected complete", permissions=["decide"])
    def complete_selected(self, request, queryset):
        done = 0
        for task in queryset.filter(completed_on__isnull=True).select_related("partner"):
            if not manages_partner(request.user, task.partner):
                continue
            services.onboarding_task_complete(task=task, by=request.user)
            done += 1
        self.message_user(request, f"Completed {done} step(s).", messages.SUCCESS)


# ---------------------------------------------------------------- content and co-marketing


class ContentItemForm(forms.ModelForm):
    class Meta:
        model = ContentItem
        fields = [
            "program",
            "title",
            "kind",
            "description",
            "file",
            "url",
            "min_tier_rank",
            "published",
            "created_at",
        ]

    url = forms.URLField(required=False, max_length=200, assume_scheme="https")

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("file") and not cleaned.get("url"):
            # what the table's content_has_file_or_link constraint holds, said to a person
            raise ValidationError(
                gettext("Attach a file (PDF, PNG, JPEG, CSV or Office) or give a link.")
            )
        return cleaned

    def clean_file(self):
        file = self.cleaned_data.get("file")
        if isinstance(file, UploadedFile):
            try:
                services.content_file_check(file)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["file"]) from exc
        return file


@admin.register(ContentItem)
class ContentItemAdmin(BadInputIs400Mixin, admin.ModelAdmin):
    form = ContentItemForm
    list_display = ["title", "kind", "program", "min_tier_rank", "published", "download_count"]
    list_filter = ["kind", "published", "program", "min_tier_rank"]
    search_fields = ["title", "description"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(download_count=Count("downloads"))

    @admin.display(description="Downloads", ordering="download_count")
    def download_count(self, obj):
        return obj.download_count


@admin.register(CoMarketingActivity)
class CoMarketingActivityAdmin(admin.ModelAdmin):
    list_display = ["name", "program", "cost_share", "expected_leads_text", "partner_effort"]
    list_filter = ["program"]


class CampaignLeadInline(admin.TabularInline):
    model = CampaignLead
    fields = ["company_name", "contact_email", "recorded_by", "recorded_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, HistoryAdmin):
    list_display = ["name", "partner", "activity", "starts_on", "ends_on", "stage", "leads"]
    list_filter = ["status", "activity__slug"]
    list_select_related = ["partner", "activity"]
    search_fields = ["name", "partner__name"]
    readonly_fields = [f.name for f in Campaign._meta.fields]
    inlines = [CampaignLeadInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(leads_count=Count("leads"))

    @admin.display(description="Stage")
    def stage(self, obj):
        return obj.stage()

    @admin.display(description="Leads (expected)", ordering="leads_count")
    def leads(self, obj):
        return f"{obj.leads_count} ({obj.expected_leads})"

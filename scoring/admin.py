"""Admin for the quarter close: runs with progress, scorecards with their inputs, flags."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from partners.admin import ReadOnlyAdminMixin, ScopedAdminMixin
from partners.models import OutreachTask, RedFlag
from prm.quarters import Quarter
from prm.roles import Role, role_of

from . import services, tasks
from .models import CompanyRevenue, QuarterClose, Scorecard


class CloseForm(forms.Form):
    quarter = forms.CharField(
        max_length=6, help_text="e.g. 2026Q3 — a quarter that has ended.", initial=""
    )


@admin.register(QuarterClose)
class QuarterCloseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "quarter",
        "state",
        "progress_bar",
        "partners_total",
        "tier_changes",
        "flags_opened",
        "runs",
        "finished_at",
    ]
    readonly_fields = [f.name for f in QuarterClose._meta.fields] + ["progress_bar"]
    change_list_template = "admin/scoring/quarterclose/change_list.html"

    def _may_close(self, request) -> bool:
        return role_of(request.user) in (Role.CHANNEL_CHIEF, Role.ADMIN)

    @admin.display(description="Progress")
    def progress_bar(self, obj):
        return format_html(
            '<progress max="100" value="{}" style="width:8em"></progress> {}%',
            obj.progress,
            obj.progress,
        )

    def get_urls(self):
        return [
            path(
                "run/", self.admin_site.admin_view(self.run_view), name="scoring_quarterclose_run"
            ),
            path(
                "<str:quarter>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="scoring_quarterclose_progress",
            ),
        ] + super().get_urls()

    def run_view(self, request):
        """Queue the close of a quarter, then follow its progress on the same page."""
        if not self._may_close(request):
            raise PermissionDenied
        previous = Quarter.containing(timezone.localdate()).previous().label
        form = CloseForm(request.POST or None, initial={"quarter": previous})
        if request.method == "POST" and form.is_valid():
            label = form.cleaned_data["quarter"].strip().upper()
            try:
                close = services.quarter_close_request(quarter=label, by=request.user)
            except services.QuarterNotEnded as exc:
                form.add_error("quarter", str(exc))
            except ValueError as exc:
                form.add_error("quarter", str(exc))
            else:
                user_id = request.user.pk
                transaction.on_commit(lambda: tasks.close_quarter.delay(close.quarter, user_id))
                self.message_user(
                    request, f"The close of {close.quarter} is queued.", messages.INFO
                )
                return redirect(
                    f"{reverse('admin:scoring_quarterclose_run')}?follow={close.quarter}"
                )
        follow = request.GET.get("follow")
        context = {
            **self.admin_site.each_context(request),
            "title": "Run a quarter close",
            "form": form,
            "follow": follow,
            "opts": self.model._meta,
        }
        return render(request, "admin/scoring/quarterclose/run.html", context)

    def progress_view(self, request, quarter):
        """htmx: the close's state, polled every two seconds until it is done or failed."""
        close = QuarterClose.objects.filter(quarter=quarter).first()
        return render(request, "admin/scoring/quarterclose/_progress.html", {"close": close})


@admin.register(Scorecard)
class ScorecardAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "partner",
        "quarter",
        "total",
        "band",
        "revenue",
        "pipeline",
        "certification",
        "satisfaction",
        "engagement",
        "tier_before",
        "decision",
        "tier_after",
    ]
    list_filter = ["quarter", "band", "decision", "tier_before__slug"]
    list_select_related = ["partner", "tier_before", "tier_after"]
    search_fields = ["partner__name"]
    readonly_fields = [f.name for f in Scorecard._meta.fields if f.name != "inputs"] + ["why"]
    exclude = ["inputs"]

    @admin.display(description="Inputs (why)")
    def why(self, obj):
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", sorted(obj.inputs.items())),
        )


@admin.register(RedFlag)
class RedFlagAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["partner", "kind", "status", "opened_at", "resolved_at"]
    list_filter = ["status", "kind", ("partner__channel_manager", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["partner"]
    search_fields = ["partner__name"]
    readonly_fields = ["partner", "kind", "status", "opened_at", "resolved_at", "details"]


@admin.register(OutreachTask)
class OutreachTaskAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["title", "partner", "assignee", "due_on", "status"]
    list_filter = ["status", ("assignee", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["partner", "assignee"]
    search_fields = ["partner__name", "title"]
    actions = ["mark_done"]
    readonly_fields = [
        "partner",
        "assignee",
        "red_flag",
        "title",
        "due_on",
        "status",
        "created_at",
        "done_at",
    ]

    def has_done_permission(self, request) -> bool:
        return role_of(request.user) in (Role.CHANNEL_MANAGER, Role.CHANNEL_CHIEF, Role.ADMIN)

    @admin.action(description="Mark selected tasks done", permissions=["done"])
    def mark_done(self, request, queryset):
        count = queryset.filter(status=OutreachTask.Status.OPEN).update(
            status=OutreachTask.Status.DONE, done_at=timezone.now()
        )
        self.message_user(request, f"{count} task(s) done.", messages.SUCCESS)


@admin.register(CompanyRevenue)
class CompanyRevenueAdmin(SimpleHistoryAdmin):
    """Finance enters the company's total revenue per quarter: the channel share's base."""

    list_display = ["quarter", "amount", "entered_by", "entered_at"]
    fields = ["quarter", "amount"]

    def save_model(self, request, obj, form, change):
        obj.entered_by = request.user
        super().save_model(request, obj, form, change)

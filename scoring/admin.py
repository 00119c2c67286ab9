"""Admin for the quarter close: runs with progress, scorecards with their inputs, flags;
QBRs with their agenda and action items, and joint business plans."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import BooleanField, Case, Count, ExpressionWrapper, Q, Value, When
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from partners import services as partner_services
from partners.admin import ReadOnlyAdminMixin, ScopedAdminMixin
from partners.models import OutreachTask, Program, ProgramVersion, RedFlag, User
from partners.permissions import manages_partner
from partners.services.versions import (
    last_closed_quarter,
    may_edit_versions,
    version_copy_to_draft,
    version_publish,
    version_update_draft,
)
from partners.version_rules import (
    AWARD_FIELDS,
    INCENTIVE_FIELDS,
    SCORING_FIELDS,
    TIER_FIELDS,
    TIER_RULE_FIELDS,
    WHOLE,
)
from prm.admin_errors import BadInputIs400Mixin
from prm.admin_history import HistoryAdmin
from prm.admin_lists import ChannelManagerFilter
from prm.admin_money import MoneyAdmin
from prm.money import format_money
from prm.quarters import Quarter
from prm.roles import MANAGER_ROLES, VENDOR_ROLES, Role, role_of

from . import tasks
from .models import (
    CompanyRevenue,
    DisputeStatus,
    JointBusinessPlan,
    Qbr,
    QbrActionItem,
    QbrStatus,
    QuarterClose,
    Scorecard,
    ScorecardDispute,
)
from .queries import closed_quarter, qbr_overdue
from .services.close import CloseRefused, quarter_close_check, quarter_close_request
from .services.disputes import DisputeError, dispute_answer
from .services.reviews import (
    QbrError,
    action_item_clean,
    check_meeting_day,
    jbp_save,
    qbr_action_item_add,
    qbr_action_item_complete,
    qbr_action_item_update,
    qbr_cancel,
    qbr_hold,
    qbr_prepare,
    qbr_refresh,
    qbr_schedule,
    qbr_share,
    qbr_update,
)
from .services.versions import what_if


class CloseForm(forms.Form):
    quarter = forms.CharField(
        max_length=6, help_text="e.g. 2026Q3 — a quarter that has ended.", initial=""
    )
    # Set by the confirmation page of a quarter already closed: "Close again".
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)


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

    def changelist_view(self, request, extra_context=None):
        # The "Run a quarter close" button only for the roles that may run one.
        extra_context = {**(extra_context or {}), "may_close": self._may_close(request)}
        return super().changelist_view(request, extra_context)

    @admin.display(description="Progress")
    def progress_bar(self, obj):
        return format_html(
            '<progress class="progress-8em" max="100" value="{}"></progress> {}%',
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
        """Queue the close of a quarter, then follow its progress on the same page. A
        quarter already closed is closed again only once the chief confirms it."""
        if not self._may_close(request):
            raise PermissionDenied
        previous = Quarter.containing(timezone.localdate()).previous().label
        form = CloseForm(request.POST or None, initial={"quarter": previous})
        if request.method == "POST" and form.is_valid():
            label = form.cleaned_data["quarter"].strip().upper()
            try:
                if not form.cleaned_data["confirm"]:
                    quarter_close_check(label)
                    closed = closed_quarter(label)
                    if closed is not None:
                        return self._confirm_view(request, closed)
                close = quarter_close_request(quarter=label, by=request.user)
            except (CloseRefused, ValueError) as exc:
                form.add_error("quarter", str(exc))
            else:
                tasks.close_enqueue(close)
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

    def _confirm_view(self, request, closed: QuarterClose):
        """Before a rerun: when the quarter was closed and by whom, what closing it again
        does; "Close again" posts the quarter back confirmed, "Cancel" runs nothing."""
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Close %(quarter)s again?") % {"quarter": closed.quarter},
            "close": closed,
            "closed_by": _closed_by(closed),
            "opts": self.model._meta,
        }
        return render(request, "admin/scoring/quarterclose/confirm_rerun.html", context)

    def progress_view(self, request, quarter):
        """htmx: the close's state, polled every two seconds until it is done or failed."""
        close = QuarterClose.objects.filter(quarter=quarter).first()
        return render(request, "admin/scoring/quarterclose/_progress.html", {"close": close})


def _closed_by(close: QuarterClose) -> str:
    person = close.requested_by
    if person is None:
        return gettext("the scheduled job or the close_quarter command")
    return person.get_full_name() or person.get_username()


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


class DisputeAnswerForm(forms.ModelForm):
    class Meta:
        model = ScorecardDispute
        fields = ["answer"]
        widgets = {"answer": forms.Textarea(attrs={"rows": 5})}

    def clean_answer(self):
        answer = self.cleaned_data.get("answer", "").strip()
        if not answer:
            raise ValidationError("Write an answer to the dispute.")
        return answer


class DisputeStatusFirst(admin.SimpleListFilter):
    """Open or answered; the list shows open disputes first, oldest first among them."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return DisputeStatus.choices

    def queryset(self, request, queryset):
        if self.value() in DisputeStatus.values:
            return queryset.filter(status=self.value())
        return queryset


@admin.register(ScorecardDispute)
class ScorecardDisputeAdmin(BadInputIs400Mixin, ScopedAdminMixin, HistoryAdmin):
    """Partners' disputes of their scorecards: open ones first. The partner's channel
    manager (a chief, an admin) answers on the dispute's page; the answer is final."""

    partner_field = "scorecard__partner"
    form = DisputeAnswerForm
    # Open before answered; the longest waiting first.
    ordering = [
        Case(When(status=DisputeStatus.OPEN, then=Value(0)), default=Value(1)).asc(),
        "raised_at",
        "pk",
    ]
    list_display = ["partner", "quarter", "status", "raised_at", "raised_by", "answered_at"]
    list_filter = [
        DisputeStatusFirst,
        ("scorecard__partner__channel_manager", ChannelManagerFilter),
    ]
    list_select_related = ["scorecard__partner", "raised_by"]
    search_fields = ["scorecard__partner__name", "reason"]
    readonly_fields = [
        "partner",
        "quarter",
        "scorecard_link",
        "explanation",
        "raised_by",
        "raised_at",
        "reason",
        "status",
        "answered_by",
        "answered_at",
    ]

    def lookup_allowed(self, lookup, value, request=None):
        # one partner's disputes, linked from its 360 page (rows stay scoped)
        return lookup == "scorecard__partner__id__exact" or super().lookup_allowed(
            lookup, value, request
        )

    def get_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and obj.is_open and manages_partner(request.user, obj.scorecard.partner):
            return fields + ["answer"]
        return fields + ["answer_shown"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "answer_shown"]

    @admin.display(description="Partner", ordering="scorecard__partner__name")
    def partner(self, obj):
        return obj.scorecard.partner

    @admin.display(description="Quarter", ordering="scorecard__quarter")
    def quarter(self, obj):
        return obj.scorecard.quarter

    @admin.display(description="Scorecard")
    def scorecard_link(self, obj):
        card = obj.scorecard
        return format_html(
            '<a href="{}">{} of 100</a> · <a href="{}?partner={}#scorecard-{}">as the partner '
            "sees it</a>",
            reverse("admin:scoring_scorecard_change", args=[card.pk]),
            card.total,
            reverse("portal-scorecards"),
            card.partner_id,
            card.quarter,
        )

    @admin.display(description="How the points came about")
    def explanation(self, obj):
        from .queries import scorecard_explanation, scorecard_weights
        from .services.close import weights_for

        card = obj.scorecard
        program = card.partner.program
        return format_html_join(
            "",
            "<p><strong>{}</strong> {} / {}<br>{}</p>",
            (
                (
                    part["label"],
                    part["points"],
                    part["max_points"],
                    format_html_join(mark_safe("<br>"), "{}", ((line,) for line in part["lines"])),
                )
                for part in scorecard_explanation(
                    card, scorecard_weights(card, weights_for(program)), program.currency
                )
            ),
        )

    @admin.display(description="Answer")
    def answer_shown(self, obj):
        return obj.answer or "—"

    def has_add_permission(self, request):
        return False  # partners raise disputes from their scorecards

    def has_change_permission(self, request, obj=None):
        if obj is not None and not manages_partner(request.user, obj.scorecard.partner):
            return False
        return role_of(request.user) in MANAGER_ROLES or super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # kept, answered or not

    def save_model(self, request, obj, form, change):
        if not obj.is_open and "answer" not in form.changed_data:
            return
        try:
            saved = dispute_answer(dispute=obj, by=request.user, answer=form.cleaned_data["answer"])
        except DisputeError as exc:
            raise PermissionDenied(exc.message) from exc
        obj.refresh_from_db()
        obj.pk = saved.pk


@admin.register(RedFlag)
class RedFlagAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["partner", "kind", "status", "opened_at", "resolved_at"]
    list_filter = ["status", "kind", ("partner__channel_manager", ChannelManagerFilter)]
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
        "done_by",
    ]

    def has_done_permission(self, request) -> bool:
        return role_of(request.user) in (Role.CHANNEL_MANAGER, Role.CHANNEL_CHIEF, Role.ADMIN)

    @admin.action(description="Mark selected tasks done", permissions=["done"])
    def mark_done(self, request, queryset):
        count = partner_services.outreach_tasks_done(tasks=queryset, by=request.user)
        self.message_user(request, f"{count} task(s) done.", messages.SUCCESS)


@admin.register(CompanyRevenue)
class CompanyRevenueAdmin(MoneyAdmin, HistoryAdmin):
    """Finance enters the company's total revenue per quarter: the channel share's base."""

    list_display = ["quarter", "amount", "entered_by", "entered_at"]
    fields = ["quarter", "amount"]

    def save_model(self, request, obj, form, change):
        obj.entered_by = request.user
        super().save_model(request, obj, form, change)


# ---------------------------------------------------------------- QBRs and business plans


class QbrHeldFilter(admin.SimpleListFilter):
    title = "held"
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [
            ("yes", "Held"),
            ("overdue", "Overdue: date passed, not held"),
            ("upcoming", "Upcoming"),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        scheduled = queryset.filter(status=QbrStatus.SCHEDULED)
        if self.value() == "yes":
            return queryset.filter(status=QbrStatus.HELD)
        if self.value() == "overdue":
            return queryset.filter(qbr_overdue(today))
        if self.value() == "upcoming":
            return scheduled.filter(scheduled_for__gte=today)
        return queryset


class QbrAddForm(forms.ModelForm):
    class Meta:
        model = Qbr
        fields = ["partner", "quarter", "scheduled_for"]
        help_texts = {"quarter": "The quarter the meeting is held in, e.g. 2026Q4."}

    def clean(self):
        cleaned = super().clean()
        label, day = (cleaned.get("quarter") or "").strip().upper(), cleaned.get("scheduled_for")
        try:
            quarter = Quarter.parse(label)
        except ValueError as exc:
            self.add_error("quarter", str(exc))
            return cleaned
        cleaned["quarter"] = quarter.label
        if day:
            try:
                check_meeting_day(quarter, day)
            except ValidationError as exc:
                self.add_error("scheduled_for", exc.message_dict["scheduled_for"])
        return cleaned

    def validate_unique(self):
        # The service refuses a second QBR of a quarter; the form says so first.
        partner, quarter = self.cleaned_data.get("partner"), self.cleaned_data.get("quarter")
        if partner and quarter and Qbr.objects.filter(partner=partner, quarter=quarter).exists():
            self.add_error("quarter", f"{partner} already has a QBR for {quarter}.")


class QbrChangeForm(forms.ModelForm):
    class Meta:
        model = Qbr
        fields = ["scheduled_for", "notes"]

    def clean_scheduled_for(self):
        day = self.cleaned_data["scheduled_for"]
        if day != self.instance.scheduled_for:
            if self.instance.status != QbrStatus.SCHEDULED:
                raise ValidationError("Only a scheduled QBR can be moved.")
            try:
                check_meeting_day(Quarter.parse(self.instance.quarter), day)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["scheduled_for"]) from exc
        return day


class ActionItemForm(forms.ModelForm):
    text = forms.CharField(
        required=False, max_length=300, widget=forms.TextInput(attrs={"size": 50})
    )
    done = forms.BooleanField(required=False)

    class Meta:
        model = QbrActionItem
        fields = ["text", "owner", "owner_name", "due_on"]

    def __init__(self, *args, qbr: Qbr | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.qbr = qbr
        self.fields["done"].initial = self.instance.done_at is not None
        if qbr is not None and qbr.pk:
            self.fields["owner"].queryset = User.objects.filter(
                Q(role__in=VENDOR_ROLES) | Q(membership__partner_id=qbr.partner_id),
                is_active=True,
            ).order_by("role", "username")

    def clean(self):
        cleaned = super().clean()
        if self.qbr is None or self.errors:
            return cleaned
        try:
            cleaned.update(
                action_item_clean(
                    self.qbr,
                    text=cleaned.get("text", ""),
                    owner=cleaned.get("owner"),
                    owner_name=cleaned.get("owner_name", ""),
                    due_on=cleaned.get("due_on"),
                )
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned

    def _post_clean(self):
        # The service validates and saves; the model's own checks would only repeat it.
        pass


class ActionItemFormSet(forms.BaseInlineFormSet):
    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "qbr": self.instance}


class QbrActionItemInline(admin.TabularInline):
    model = QbrActionItem
    form = ActionItemForm
    formset = ActionItemFormSet
    fields = ["text", "owner", "owner_name", "due_on", "done"]
    extra = 1
    can_delete = False

    def get_extra(self, request, obj=None, **kwargs):
        return 0 if obj is not None and obj.status == QbrStatus.CANCELLED else 1

    def has_add_permission(self, request, obj=None):
        if obj is not None and obj.status == QbrStatus.CANCELLED:
            return False  # a cancelled QBR takes no action items
        return super().has_add_permission(request, obj)


QBR_READONLY = [
    "partner",
    "quarter",
    "reviews",
    "status",
    "cadence",
    "check_in_dates",
    "held_on",
    "held_by",
    "cancel_reason",
    "shared_with_partner",
    "shared_at",
    "prepared_at",
    "agenda",
]


@admin.register(Qbr)
class QbrAdmin(BadInputIs400Mixin, ScopedAdminMixin, HistoryAdmin):
    list_display = [
        "partner",
        "quarter",
        "scheduled_for",
        "status",
        "overdue_marker",
        "cadence",
        "shared_with_partner",
        "open_items",
        "held_on",
    ]
    list_filter = [
        "quarter",
        "status",
        QbrHeldFilter,
        "cadence",
        "shared_with_partner",
        ("partner__channel_manager", ChannelManagerFilter),
    ]
    list_select_related = ["partner"]
    search_fields = ["partner__name"]
    ordering = ["-quarter", "scheduled_for", "pk"]
    actions = ["refresh_selected", "hold_selected", "share_selected"]
    change_form_template = "admin/scoring/qbr/change_form.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                open_count=Count("action_items", filter=Q(action_items__done_at__isnull=True)),
                overdue=ExpressionWrapper(
                    qbr_overdue(timezone.localdate()), output_field=BooleanField()
                ),
            )
        )

    @admin.display(description="Open action items", ordering="open_count")
    def open_items(self, obj):
        return obj.open_count

    @admin.display(description="Overdue", ordering="overdue")
    def overdue_marker(self, obj):
        """A scheduled QBR whose day has passed without it being held."""
        if not getattr(obj, "overdue", False):
            return ""
        days = (timezone.localdate() - obj.scheduled_for).days
        return format_html(
            '<span class="c-bad" title="Scheduled for {}, not held">Overdue · {} d</span>',
            date_format(obj.scheduled_for, "DATE_FORMAT"),
            days,
        )

    @admin.display(description="Reviews")
    def reviews(self, obj):
        return obj.reviewed_quarter

    @admin.display(description="Check-ins this quarter")
    def check_in_dates(self, obj):
        dates = obj.check_ins()
        if not dates:
            return "—"
        return ", ".join(f"{day:%d %b} ({kind.lower()})" for day, kind in dates)

    @admin.display(description="Agenda")
    def agenda(self, obj):
        return render_to_string(
            "scoring/_qbr_sections.html",
            {
                "qbr": obj,
                "items": list(obj.action_items.select_related("owner")),
                "show_notes": False,
            },
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = QbrChangeForm if obj is not None else QbrAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["partner", "quarter", "scheduled_for"]
        return QBR_READONLY[:6] + ["scheduled_for"] + QBR_READONLY[6:12] + ["notes", "agenda"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fields = list(QBR_READONLY)
        if obj.status != QbrStatus.SCHEDULED:
            fields.append("scheduled_for")
        return fields

    def get_inlines(self, request, obj):
        return [QbrActionItemInline] if obj is not None else []

    def get_changeform_initial_data(self, request):
        return {"quarter": Quarter.containing(timezone.localdate()).label}

    def has_change_permission(self, request, obj=None):
        if obj is not None and not manages_partner(request.user, obj.partner):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # a QBR is cancelled, not deleted

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                saved = qbr_update(
                    qbr=obj,
                    by=request.user,
                    notes=data.get("notes"),
                    scheduled_for=data.get("scheduled_for"),
                )
            else:
                saved = qbr_schedule(
                    partner=data["partner"],
                    quarter=data["quarter"],
                    scheduled_for=data["scheduled_for"],
                    by=request.user,
                )
        except (ValidationError, QbrError) as exc:
            raise PermissionDenied(_words(exc)) from exc
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        """Action items go through the services: add, edit, tick done."""
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        try:
            for item_form in formset.forms:
                if not item_form.has_changed():
                    continue
                data = item_form.cleaned_data
                fields = {
                    "text": data.get("text", ""),
                    "owner": data.get("owner"),
                    "owner_name": data.get("owner_name", ""),
                    "due_on": data.get("due_on"),
                }
                edited = [f for f in item_form.changed_data if f != "done"]
                if item_form.instance.pk is None:
                    item = qbr_action_item_add(qbr=formset.instance, by=request.user, **fields)
                    formset.new_objects.append(item)
                else:
                    item = item_form.instance
                    if edited:
                        item = qbr_action_item_update(item=item, by=request.user, **fields)
                    formset.changed_objects.append((item, item_form.changed_data))
                if "done" in item_form.changed_data or (
                    item_form.instance.pk is None and data.get("done")
                ):
                    qbr_action_item_complete(
                        item=item, by=request.user, done=bool(data.get("done"))
                    )
        except (ValidationError, QbrError) as exc:
            raise PermissionDenied(_words(exc)) from exc

    # -- one QBR: refresh, hold, share, cancel

    def get_urls(self):
        return [
            path(
                "<int:pk>/act/<str:what>/",
                self.admin_site.admin_view(self.act_view),
                name="scoring_qbr_act",
            )
        ] + super().get_urls()

    # What a manager can do to one QBR: (the button on the change page, the page's title).
    ACTS = {
        "refresh": ("Refresh", "Refresh the sections"),
        "hold": ("Mark held", "Mark held"),
        "share": ("Share", "Share with the partner"),
        "unshare": ("Stop sharing", "Stop sharing with the partner"),
        "cancel": ("Cancel", "Cancel the QBR"),
    }

    def _acts(self, request, qbr: Qbr) -> list[tuple[str, str]]:
        if not self.has_change_permission(request, qbr):
            return []
        names = []
        if qbr.status == QbrStatus.SCHEDULED:
            names += ["refresh", "hold"]
        if qbr.status != QbrStatus.CANCELLED:
            names.append("unshare" if qbr.shared_with_partner else "share")
        if qbr.status == QbrStatus.SCHEDULED:
            names.append("cancel")
        return [
            (self.ACTS[n][0], reverse("admin:scoring_qbr_act", args=[qbr.pk, n])) for n in names
        ]

    def act_view(self, request, pk, what):
        from .queries import qbr_for_user

        qbr = qbr_for_user(request.user, pk)
        if what not in self.ACTS or not self.has_change_permission(request, qbr):
            raise PermissionDenied
        title = self.ACTS[what][1]
        form_class = {"hold": QbrHoldForm, "cancel": QbrCancelForm}.get(what)
        form = form_class(request.POST or None) if form_class else None
        status = 200
        if request.method == "POST":
            if form is None or form.is_valid():
                data = form.cleaned_data if form else {}
                try:
                    if what == "refresh":
                        qbr_prepare(qbr=qbr, by=request.user)
                    elif what == "hold":
                        qbr_hold(qbr=qbr, by=request.user, held_on=data["held_on"])
                    elif what == "cancel":
                        qbr_cancel(qbr=qbr, by=request.user, reason=data["reason"])
                    else:
                        qbr_share(qbr=qbr, by=request.user, shared=what == "share")
                except QbrError as exc:
                    self.message_user(request, exc.message, messages.ERROR)
                    return redirect(reverse("admin:scoring_qbr_change", args=[qbr.pk]))
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if form and field in form.fields else None, errors)
                else:
                    self.message_user(request, f"{qbr}: {title.lower()} — done.", messages.SUCCESS)
                    return redirect(reverse("admin:scoring_qbr_change", args=[qbr.pk]))
            status = 400
        return render(
            request,
            "admin/scoring/qbr/act.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{title}: {qbr}",
                "qbr": qbr,
                "form": form,
                "what": what,
                "button": title,
                "opts": self.model._meta,
            },
            status=status,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        qbr = self.get_object(request, object_id)
        if qbr is not None:
            extra_context["qbr_acts"] = self._acts(request, qbr)
            extra_context["print_url"] = reverse("qbr-print", args=[qbr.pk])
            extra_context["pdf_url"] = reverse("qbr-pdf", args=[qbr.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    # -- bulk actions

    def has_manage_permission(self, request) -> bool:
        return role_of(request.user) in MANAGER_ROLES

    @admin.action(description="Refresh the sections of selected QBRs", permissions=["manage"])
    def refresh_selected(self, request, queryset):
        result = qbr_refresh(qbrs=list(queryset), by=request.user)
        self.message_user(
            request,
            f"Refreshed {result['refreshed']} QBR(s); {result['skipped']} held or cancelled "
            "kept their sections.",
            messages.SUCCESS,
        )

    @admin.action(description="Mark selected QBRs held today", permissions=["manage"])
    def hold_selected(self, request, queryset):
        self._each(request, queryset, "held", lambda qbr: qbr_hold(qbr=qbr, by=request.user))

    @admin.action(description="Share selected QBRs with their partners", permissions=["manage"])
    def share_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            "shared",
            lambda qbr: qbr_share(qbr=qbr, by=request.user),
        )

    def _each(self, request, queryset, done_word, run) -> None:
        done = 0
        for qbr in queryset.select_related("partner"):
            if not manages_partner(request.user, qbr.partner):
                self.message_user(request, f"{qbr}: not your partner", messages.WARNING)
                continue
            try:
                run(qbr)
                done += 1
            except (ValidationError, QbrError) as exc:
                self.message_user(request, f"{qbr}: {_words(exc)}", messages.WARNING)
        if done:
            self.message_user(request, f"{done} QBR(s) {done_word}.", messages.SUCCESS)


class QbrHoldForm(forms.Form):
    held_on = forms.DateField(
        initial=timezone.localdate, help_text="The day the meeting took place (YYYY-MM-DD)."
    )


class QbrCancelForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


def _words(exc) -> str:
    if isinstance(exc, QbrError):
        return exc.message
    return " ".join(exc.messages)


class BusinessPlanForm(forms.ModelForm):
    class Meta:
        model = JointBusinessPlan
        fields = [
            "partner",
            "fiscal_year",
            "revenue_goal",
            "target_accounts",
            "planned_activities",
            "notes",
        ]
        widgets = {
            "target_accounts": forms.Textarea(attrs={"rows": 5}),
            "planned_activities": forms.Textarea(attrs={"rows": 5}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_fiscal_year(self):
        year = self.cleaned_data["fiscal_year"]
        if not 2000 <= year <= 2100:
            raise ValidationError("Give the fiscal year as a year, e.g. 2027.")
        return year


@admin.register(JointBusinessPlan)
class JointBusinessPlanAdmin(BadInputIs400Mixin, ScopedAdminMixin, HistoryAdmin):
    form = BusinessPlanForm
    list_display = ["partner", "fiscal_year", "revenue_goal", "updated_at", "updated_by"]
    list_filter = ["fiscal_year", ("partner__channel_manager", ChannelManagerFilter)]
    list_select_related = ["partner", "updated_by"]
    search_fields = ["partner__name"]

    def get_readonly_fields(self, request, obj=None):
        return ["partner", "fiscal_year", "progress"] if obj is not None else []

    def get_fields(self, request, obj=None):
        fields = list(BusinessPlanForm.Meta.fields)
        return fields + ["progress"] if obj is not None else fields

    def get_changeform_initial_data(self, request):
        return {"fiscal_year": Quarter.containing(timezone.localdate()).year}

    @admin.display(description="Goal against revenue")
    def progress(self, obj):
        from .queries import business_plan_progress

        plan = JointBusinessPlan.objects.select_related("partner__program").get(pk=obj.pk)
        shown = business_plan_progress([plan], timezone.localdate())[plan.pk]
        return (
            f"{format_money(shown['revenue_to_date'])} of {format_money(shown['revenue_goal'])} "
            f"({shown['percent']}%)"
        )

    def has_change_permission(self, request, obj=None):
        if obj is not None and not manages_partner(request.user, obj.partner):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        partner = obj.partner if change else data["partner"]
        try:
            saved = jbp_save(
                partner=partner,
                fiscal_year=obj.fiscal_year if change else data["fiscal_year"],
                revenue_goal=data["revenue_goal"],
                target_accounts=data.get("target_accounts", ""),
                planned_activities=data.get("planned_activities", ""),
                notes=data.get("notes", ""),
                by=request.user,
            )
        except ValidationError as exc:
            raise PermissionDenied(_words(exc)) from exc
        obj.pk = saved.pk
        obj.refresh_from_db()


# ---------------------------------------------------------------- program versions (§12)

_NUMBER_LABELS = {
    "revenue_points": _("Revenue points"),
    "pipeline_points": _("Pipeline points"),
    "pipeline_target": _("Approved registrations for full pipeline points"),
    "certification_points": _("Certification points"),
    "satisfaction_points": _("Satisfaction points"),
    "login_days_points": _("Login-day points"),
    "login_days_target": _("Login days for full points"),
    "training_points": _("Training points"),
    "training_target": _("Trainings for full points"),
    "events_points": _("Event points"),
    "events_target": _("Events for full points"),
    "band_maintain_from": _("Maintain band from"),
    "band_grow_from": _("Grow band from"),
    "band_invest_from": _("Invest band from"),
    "advance_after_closes": _("Closes qualified above before advancing"),
    "demote_after_closes": _("Closes qualified below before demoting"),
    "exit_after_closes": _("Closes below the entry tier before exit"),
    "fast_track_score": _("Fast-track score"),
    "fast_track_quarter_revenue": _("Fast-track quarter revenue"),
    "revenue_floor": _("Revenue floor"),
    "certified_reps_required": _("Certified reps"),
    "open_registrations_required": _("Open registrations"),
    "new_logos_required": _("New logos"),
    "strategic_wins_required": _("Strategic wins"),
    "default_annual_quota": _("Default annual quota"),
    "partner_of_quarter": _("Partner of the Quarter"),
    "top_new_logo": _("Top New Logo Generator"),
    "highest_growth": _("Highest Growth Partner"),
    "growth_min_prior": _("Highest growth: prior quarter at least"),
    "training_champion_per_cert": _("Training Champion, per certification"),
    "community_mvp": _("Community MVP"),
    "revenue_from": _("Quarter revenue from"),
    "rate": _("Rebate rate"),
    "spiff_new_logo": _("New-logo SPIFF"),
    "spiff_new_logo_days": _("New-logo SPIFF: won within days"),
    "spiff_strategic": _("Strategic product SPIFF"),
    "spiff_first_deal": _("First-deal SPIFF"),
    "spiff_large_deal_over": _("Large-deal SPIFF: amount over"),
    "spiff_large_deal_rate": _("Large-deal SPIFF rate"),
    "bonus_cross_sell_rate": _("Cross-sell bonus rate"),
    "bonus_upsell_rate": _("Upsell bonus rate"),
    "bonus_multi_year_rate": _("Multi-year bonus rate, per extra year"),
    "bonus_reference": _("Reference bonus"),
    "bonus_community": _("Community bonus"),
}


def _number_field(name: str, value, *, disabled: bool) -> forms.Field:
    label = _NUMBER_LABELS.get(name, name)
    if name in WHOLE:
        return forms.IntegerField(
            label=label, min_value=0, max_value=10**6, initial=value, disabled=disabled
        )
    return forms.DecimalField(
        label=label,
        min_value=0,
        max_digits=16,
        decimal_places=4,
        initial=Decimal(value),
        disabled=disabled,
        localize=False,
    )


class VersionRulesForm(forms.Form):
    """Every number of a version's rules, one field each (a draft's are editable)."""

    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, version: ProgramVersion, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rules, disabled = version.rules, not version.is_draft
        self.version = version
        self.fields["note"].initial = version.note
        self.fields["note"].disabled = disabled
        for section, names in (
            ("scoring", SCORING_FIELDS),
            ("tier_rules", TIER_RULE_FIELDS),
            ("awards", AWARD_FIELDS),
            ("incentives", INCENTIVE_FIELDS),
        ):
            for name in names:
                self.fields[f"{section}__{name}"] = _number_field(
                    name, rules[section][name], disabled=disabled
                )
        self.tier_rows = []
        for pk, tier in sorted(rules["tiers"].items(), key=lambda item: item[1]["rank"]):
            names = []
            for name in TIER_FIELDS:
                key = f"tier_{pk}__{name}"
                self.fields[key] = _number_field(name, tier[name], disabled=disabled)
                names.append(key)
            self.tier_rows.append((tier["name"], names))
        self.bracket_rows = []
        for index, (start, rate, fast) in enumerate(rules["rebate_brackets"]):
            self.fields[f"bracket_{index}__from"] = _number_field(
                "revenue_from", start, disabled=disabled
            )
            self.fields[f"bracket_{index}__rate"] = _number_field("rate", rate, disabled=disabled)
            self.fields[f"bracket_{index}__fast"] = forms.BooleanField(
                required=False, initial=fast, disabled=disabled
            )
            self.bracket_rows.append(
                [f"bracket_{index}__{part}" for part in ("from", "rate", "fast")]
            )

    def section(self, name: str) -> list:
        return [self[key] for key in self.fields if key.startswith(f"{name}__")]

    def scoring_fields(self):
        return self.section("scoring")

    def tier_rule_fields(self):
        return self.section("tier_rules")

    def award_fields(self):
        return self.section("awards")

    def incentive_fields(self):
        return self.section("incentives")

    def tiers(self):
        return [(name, [self[key] for key in keys]) for name, keys in self.tier_rows]

    def brackets(self):
        return [[self[key] for key in keys] for keys in self.bracket_rows]

    def rules(self) -> dict:
        """The rules as the form says them (after ``is_valid``)."""
        data, rules = self.cleaned_data, self.version.rules
        return {
            section: {name: str(data[f"{section}__{name}"]) for name in rules[section]}
            for section in ("scoring", "tier_rules", "awards", "incentives")
        } | {
            "tiers": {
                pk: {**tier, **{name: str(data[f"tier_{pk}__{name}"]) for name in TIER_FIELDS}}
                for pk, tier in rules["tiers"].items()
            },
            "rebate_brackets": [
                [
                    str(data[f"bracket_{index}__from"]),
                    str(data[f"bracket_{index}__rate"]),
                    bool(data[f"bracket_{index}__fast"]),
                ]
                for index in range(len(rules["rebate_brackets"]))
            ],
        }


class PublishForm(forms.Form):
    effective_from = forms.CharField(
        label=_("Effective from the close of"), max_length=6, help_text=_("e.g. 2027Q1")
    )


class CopyForm(forms.Form):
    program = forms.ModelChoiceField(label=_("Program"), queryset=Program.objects.order_by("name"))


BAND_NAMES = {
    "probation": _("Probation"),
    "maintain": _("Maintain"),
    "grow": _("Grow"),
    "invest": _("Invest"),
}

# Rows of the what-if shown on the page: the partners whose result changes, movers first.
WHAT_IF_ROWS = 200


@admin.register(ProgramVersion)
class ProgramVersionAdmin(admin.ModelAdmin):
    """Versions of each program's rules: a chief copies the live program to a draft, edits
    its numbers, tries it on the last closed quarter and publishes it (RULEBOOK §12)."""

    list_display = [
        "__str__",
        "status",
        "origin",
        "effective_from",
        "last_used_quarter",
        "published_at",
    ]
    list_filter = ["program", "status"]
    change_list_template = "admin/partners/programversion/change_list.html"

    def has_module_permission(self, request) -> bool:
        return may_edit_versions(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return may_edit_versions(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return may_edit_versions(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("program", "created_by")

    def get_urls(self):
        return [
            path(
                "copy/",
                self.admin_site.admin_view(self.copy_view),
                name="partners_programversion_copy",
            ),
        ] + super().get_urls()

    def copy_view(self, request):
        """Copy a program's live rules to a new draft (POST), then edit it."""
        if not may_edit_versions(request.user):
            raise PermissionDenied
        form = CopyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            draft = version_copy_to_draft(program=form.cleaned_data["program"], by=request.user)
            return redirect(reverse("admin:partners_programversion_change", args=[draft.pk]))
        return HttpResponseBadRequest(
            gettext("Choose a program to copy: %(errors)s")
            % {"errors": " ".join(str(e) for errors in form.errors.values() for e in errors)}
            if form.errors
            else gettext("Copy a program with the button on the versions page.")
        )

    def changelist_view(self, request, extra_context=None):
        default = Program.objects.filter(is_default=True).values_list("pk", flat=True).first()
        extra_context = {
            **(extra_context or {}),
            "copy_form": CopyForm(initial={"program": default}),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The version's numbers (a draft's editable), "Run what-if" and "Publish"."""
        if not may_edit_versions(request.user):
            raise PermissionDenied
        try:
            version = ProgramVersion.objects.select_related("program").get(pk=int(object_id))
        except (ValueError, ProgramVersion.DoesNotExist):
            raise Http404(gettext("No such program version.")) from None
        posted = request.method == "POST"
        action = request.POST.get("action", "") if posted else ""
        if posted and not version.is_draft:
            return HttpResponseBadRequest(
                gettext("Version %(number)s is published: only a draft can be changed.")
                % {"number": version.number}
            )
        if posted and action not in ("save", "what_if", "publish"):
            return HttpResponseBadRequest(gettext("Unknown action."))
        form = VersionRulesForm(version, request.POST if posted else None)
        publish = PublishForm(request.POST if action == "publish" else None)
        result, status = None, 200
        if posted and form.is_valid():
            try:
                version = version_update_draft(
                    version=version,
                    rules=form.rules(),
                    by=request.user,
                    note=form.cleaned_data["note"],
                )
                if action == "what_if":
                    result = what_if(version, by=request.user)
                elif action == "publish" and publish.is_valid():
                    version = version_publish(
                        version=version,
                        effective_from=publish.cleaned_data["effective_from"].strip().upper(),
                        by=request.user,
                    )
                    self.message_user(
                        request,
                        gettext("Version %(number)s takes effect from the close of %(quarter)s.")
                        % {"number": version.number, "quarter": version.effective_from},
                        messages.SUCCESS,
                    )
                    return redirect(
                        reverse("admin:partners_programversion_change", args=[version.pk])
                    )
                elif action == "save":
                    self.message_user(request, gettext("The draft is saved."), messages.SUCCESS)
                    return redirect(
                        reverse("admin:partners_programversion_change", args=[version.pk])
                    )
            except ValidationError as exc:
                target = publish if action == "publish" else form
                target.add_error(None, exc)
        if posted and (form.errors or publish.errors):
            status = 400
        shown = []
        if result is not None:
            shown = [row for row in result.rows if row.changes][:WHAT_IF_ROWS]
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("%(program)s, version %(number)s")
            % {"program": version.program, "number": version.number},
            "version": version,
            "form": form,
            "publish": publish,
            "result": result,
            "totals": {
                name: result.total(name)
                for name in (
                    "rebate_actual",
                    "rebate_draft",
                    "awards_actual",
                    "awards_draft",
                    "incentives_actual",
                    "incentives_draft",
                    "payout_actual",
                    "payout_draft",
                    "payout_difference",
                )
            }
            if result
            else {},
            "shown": shown,
            "bands": BAND_NAMES,
            "unchanged": len(result.rows) - sum(r.changes for r in result.rows) if result else 0,
            "hidden": max(0, sum(r.changes for r in result.rows) - len(shown)) if result else 0,
            "currency": version.program.currency,
            "opts": self.model._meta,
            "last_closed": last_closed_quarter(version.program),
        }
        return render(request, "admin/partners/programversion/version.html", context, status=status)

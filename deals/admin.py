"""Admin for channel managers: the approval queue with its SLA, decisions, conflict cases.

Every decision calls the same service as the API and the scheduler.
"""

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from partners.admin import ReadOnlyAdminMixin, ScopedAdminMixin
from partners.models import Program
from partners.permissions import manages_partner
from prm.admin_history import HistoryAdmin
from prm.admin_lists import ChannelManagerFilter
from prm.admin_style import colour_class
from prm.roles import MANAGER_ROLES, role_of

from . import rules, services
from .forms import LoseForm, ReasonForm, ResolutionForm, ReviewNoteForm, WinForm
from .models import ConflictCase, Deal, DealStatus, Product
from .queries import deal_for_user, deal_review_context


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "strategic", "is_active"]
    list_filter = ["strategic", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class QueueFilter(admin.SimpleListFilter):
    """The status filter, whose default is the queue: the list opens on the pending
    registrations (a search looks through every status); "All" shows every status."""

    title = _("status")
    parameter_name = "status__exact"
    ALL = "all"

    @classmethod
    def chosen(cls, request) -> str:
        value = request.GET.get(cls.parameter_name)
        if value:
            return value
        return cls.ALL if request.GET.get("q") else DealStatus.PENDING

    def __init__(self, request, params, model, model_admin):
        self.default = self.chosen(request)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [(self.ALL, _("All")), *DealStatus.choices]

    def value(self):
        return super().value() or self.default

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.ALL:
            return queryset
        if value not in DealStatus.values:
            raise IncorrectLookupParameters(gettext("Unknown status: %(value)s") % {"value": value})
        return queryset.filter(status=value)


class SlaFilter(admin.SimpleListFilter):
    title = "approval SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [
            ("overdue", "Overdue"),
            ("12h", "Due within 12 hours"),
            ("later", "Due later"),
        ]

    def queryset(self, request, queryset):
        # The default program's approval SLA (the column shows each deal's own program's).
        now = timezone.now()
        hours = (
            Program.objects.filter(is_default=True)
            .values_list("registration_sla_hours", flat=True)
            .first()
        ) or 48
        pending = queryset.filter(status=DealStatus.PENDING)
        if self.value() == "overdue":
            return pending.filter(submitted_at__lt=now - timedelta(hours=hours))
        if self.value() == "12h":
            return pending.filter(
                submitted_at__gte=now - timedelta(hours=hours),
                submitted_at__lt=now - timedelta(hours=hours - 12),
            )
        if self.value() == "later":
            return pending.filter(submitted_at__gte=now - timedelta(hours=hours - 12))
        return queryset


class ReasonFilter(admin.SimpleListFilter):
    """Why a registration was rejected: the rulebook's codes, not the distinct codes of
    every row (a pass over the table)."""

    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        codes = [value for name, value in vars(rules.Reason).items() if name.isupper()]
        return [(code, code.replace("_", " ").capitalize()) for code in codes]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(reason=self.value())
        return queryset


def _percent(rate) -> str:
    if rate is None:
        return "—"
    return f"{(rate * 100).normalize():f}%"


def _countdown(delta: timedelta) -> str:
    hours = int(abs(delta.total_seconds()) // 3600)
    minutes = int(abs(delta.total_seconds()) % 3600 // 60)
    return f"{hours} h {minutes:02d} min"


class DecisionMixin:
    """Shared by the approval actions: only managers of the deal's partner decide."""

    def has_decide_permission(self, request) -> bool:
        return role_of(request.user) in MANAGER_ROLES


@admin.register(Deal)
class DealAdmin(ReadOnlyAdminMixin, DecisionMixin, ScopedAdminMixin, HistoryAdmin):
    list_display = [
        "customer_name",
        "partner",
        "status_badge",
        "sla",
        "amount",
        "submitted_at",
        "expires_on",
        "direct_conflict",
    ]
    list_filter = [
        QueueFilter,
        "needs_review",
        SlaFilter,
        "direct_conflict",
        "deal_type",
        "compensation_model",
        ReasonFilter,
        ("partner__channel_manager", ChannelManagerFilter),
    ]
    list_select_related = ["partner__program"]
    search_fields = ["customer_name", "customer_domain", "partner__name", "account__domain_key"]
    date_hierarchy = "submitted_at"
    actions = ["approve_selected", "reject_selected"]
    readonly_fields = [
        *(f.name for f in Deal._meta.fields),
        "products_list",
        "co_sell_share",
        "oem_discount_rate",
        "margin",
        "csat_score",
        "csat_surveyed",
        "csat_recorded",
    ]
    # The review page in the order a manager reads it; ``prm.admin_money`` writes the money.
    fieldsets = [
        (
            _("Customer"),
            {
                "fields": [
                    ("customer_name", "customer_domain"),
                    ("account", "partner"),
                    "products_list",
                    ("deal_type", "contract_years"),
                    "expected_close",
                    "notes",
                    ("submitted_by", "submitted_at"),
                ]
            },
        ),
        (
            _("Money"),
            {
                "fields": [
                    ("amount", "currency"),
                    ("amount_reporting", "amount_rate", "amount_rate_day"),
                    "compensation_model",
                    ("co_sell_share", "oem_discount_rate"),
                    "mdf_request",
                ]
            },
        ),
        (
            _("Protection"),
            {
                "fields": [
                    "status",
                    ("approved_at", "auto_approved"),
                    "expires_on",
                    ("extended", "extension_justification"),
                    "direct_conflict",
                    ("needs_review", "review_reason"),
                ]
            },
        ),
        (
            _("Outcome"),
            {
                "fields": [
                    ("closed_on", "protected_when_won"),
                    ("closed_amount", "partner_credit"),
                    ("closed_amount_reporting", "closed_rate", "closed_rate_day"),
                    ("margin", "partner_price", "commission"),
                    ("csat_score", "csat_surveyed"),
                    ("reason", "reason_note"),
                ]
            },
        ),
        (
            _("History"),
            {
                "classes": ["collapse"],
                "fields": [
                    "approved_by",
                    ("rejected_at", "rejected_by"),
                    ("extended_at", "extended_by"),
                    "expired_at",
                    ("closed_at", "closed_by"),
                    "csat_recorded",
                    "imported",
                    ("created_at", "updated_at"),
                ],
            },
        ),
    ]

    exclude = ["products"]
    ordering = ["-submitted_at"]

    def get_ordering(self, request):
        """The queue (pending, the default list): held for review first, then the oldest
        submission, the one nearest its approval SLA. Any other list: newest first."""
        if QueueFilter.chosen(request) == DealStatus.PENDING:
            return ["-needs_review", "submitted_at"]
        return super().get_ordering(request)

    @admin.display(description=_("Co-sell partner share"))
    def co_sell_share(self, obj):
        return _percent(obj.co_sell_partner_share)

    @admin.display(description=_("OEM discount"))
    def oem_discount_rate(self, obj):
        return _percent(obj.oem_discount)

    @admin.display(description=_("Margin"))
    def margin(self, obj):
        return _percent(obj.margin_rate)

    @admin.display(description=_("CSAT (1–5)"))
    def csat_score(self, obj):
        return obj.csat if obj.csat is not None else "—"

    @admin.display(description=_("CSAT survey date"))
    def csat_surveyed(self, obj):
        return date_format(obj.csat_surveyed_on, "DATE_FORMAT") if obj.csat_surveyed_on else "—"

    @admin.display(description=_("CSAT recorded at"))
    def csat_recorded(self, obj):
        if obj.csat_recorded_at is None:
            return "—"
        return date_format(timezone.localtime(obj.csat_recorded_at), "DATETIME_FORMAT")

    @admin.display(description="Products")
    def products_list(self, obj):
        return ", ".join(p.name for p in obj.products.all()) or "—"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        colours = {
            "pending": "#b58105",
            "approved": "#1a7f37",
            "won": "#0b5394",
            "rejected": "#a40e26",
            "lost": "#6e7781",
            "expired": "#6e7781",
        }
        text = obj.get_status_display()
        if obj.needs_review:
            text = f"Held for review ({obj.get_review_reason_display().lower()})"
        if obj.reason:
            text += f" ({obj.reason.replace('_', ' ')})"
        return format_html('<b class="{}">{}</b>', colour_class(colours.get(obj.status)), text)

    @admin.display(description="Approval SLA")
    def sla(self, obj):
        if obj.status != DealStatus.PENDING:
            return "—"
        due = rules.approval_due_at(obj.submitted_at, obj.partner.program.registration_sla_hours)
        left = due - timezone.now()
        if left.total_seconds() < 0:
            return format_html('<b class="c-bad">overdue {}</b>', _countdown(left))
        colour = "#b58105" if left < timedelta(hours=12) else "#1a7f37"
        return format_html(
            '<span class="{}">{} left</span>', colour_class(colour), _countdown(left)
        )

    @admin.action(description="Approve selected registrations", permissions=["decide"])
    def approve_selected(self, request, queryset):
        done, refused = 0, []
        for deal in queryset.select_related("partner"):
            if not manages_partner(request.user, deal.partner):
                refused.append(f"{deal}: not your partner")
                continue
            try:
                services.deal_approve(deal=deal, by=request.user)
                done += 1
            except services.DealError as exc:
                refused.append(f"{deal}: {exc.message}")
        if done:
            self.message_user(request, f"Approved {done} registration(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Reject selected registrations…", permissions=["decide"])
    def reject_selected(self, request, queryset):
        form = ReasonForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            done, refused = 0, []
            for deal in queryset.select_related("partner"):
                if not manages_partner(request.user, deal.partner):
                    refused.append(f"{deal}: not your partner")
                    continue
                try:
                    services.deal_reject(
                        deal=deal, by=request.user, reason=form.cleaned_data["reason"]
                    )
                    done += 1
                except services.DealError as exc:
                    refused.append(f"{deal}: {exc.message}")
            if done:
                self.message_user(request, f"Rejected {done} registration(s).", messages.SUCCESS)
            for line in refused:
                self.message_user(request, line, messages.WARNING)
            return None
        return render(
            request,
            "admin/deals/deal/reason.html",
            {
                **self.admin_site.each_context(request),
                "title": "Reject registrations",
                "deals": queryset,
                "form": form,
                "action": "reject_selected",
                "opts": self.model._meta,
            },
        )

    # -- one deal: approve, reject, win, lose

    def get_urls(self):
        return [
            path(
                "<int:pk>/decide/<str:decision>/",
                self.admin_site.admin_view(self.decide_view),
                name="deals_deal_decide",
            )
        ] + super().get_urls()

    LABELS = {
        "approve": _("Approve"),
        "reject": _("Reject"),
        "win": _("Record a win"),
        "lose": _("Record a loss"),
        "separate": _("A separate customer: approve"),
        "same": _("The same customer: reject"),
    }
    QUESTIONS = {
        "approve": "Approve this registration? It will be protected for the program's "
        "protection period from its submission.",
        "separate": "Approve this registration as a separate customer? The two accounts are "
        "remembered as two, and it is protected like any approved registration.",
    }
    FORMS = {
        "approve": None,
        "reject": ReasonForm,
        "win": WinForm,
        "lose": LoseForm,
        "separate": None,
        "same": ReviewNoteForm,
    }

    def decide_view(self, request, pk, decision):
        deal = deal_for_user(request.user, pk)
        if decision not in self.FORMS:
            raise PermissionDenied
        if not (
            self.has_decide_permission(request) and manages_partner(request.user, deal.partner)
        ):
            raise PermissionDenied
        form_class = self.FORMS[decision]
        form = form_class(request.POST or None) if form_class else None
        if request.method == "POST" and (form is None or form.is_valid()):
            data = form.cleaned_data if form else {}
            try:
                if decision in ("separate", "same"):
                    services.deal_review_decide(
                        deal=deal,
                        by=request.user,
                        same_customer=decision == "same",
                        note=data.get("note", ""),
                    )
                elif decision == "approve":
                    services.deal_approve(deal=deal, by=request.user)
                elif decision == "reject":
                    services.deal_reject(deal=deal, by=request.user, reason=data["reason"])
                elif decision == "win":
                    services.deal_win(deal=deal, by=request.user, **data)
                else:
                    services.deal_lose(deal=deal, by=request.user, closed_on=data.get("closed_on"))
            except services.DealError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if form and field in form.fields else None, errors)
            else:
                self.message_user(request, f"{deal}: {decision} recorded.", messages.SUCCESS)
                return redirect(reverse("admin:deals_deal_change", args=[deal.pk]))
            if form is None or not form.errors:
                return redirect(reverse("admin:deals_deal_change", args=[deal.pk]))
        status = 400 if request.method == "POST" else 200  # sent back with errors
        return render(
            request,
            "admin/deals/deal/decide.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{self.LABELS[decision]}: {deal}",
                "deal": deal,
                "form": form,
                "decision": self.LABELS[decision],
                "question": self.QUESTIONS.get(decision, ""),
                "opts": self.model._meta,
            },
            status=status,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        deal = self.get_object(request, object_id)
        if deal is not None:
            may_decide = self.has_decide_permission(request) and manages_partner(
                request.user, deal.partner
            )
            allowed = []
            if may_decide and deal.status in (
                DealStatus.PENDING,
                DealStatus.APPROVED,
                DealStatus.EXPIRED,
            ):
                allowed += ["win", "lose"]
            extra_context["decisions"] = [
                (self.LABELS[name], reverse("admin:deals_deal_decide", args=[deal.pk, name]))
                for name in allowed
            ]
            extra_context["panel"] = self._panel(request, deal, may_decide=may_decide)
        return super().change_view(request, object_id, form_url, extra_context)

    def _panel(self, request, deal: Deal, *, may_decide: bool) -> dict:
        """The decision panel: the account, the other registrations and leads on it and on
        the probable same customer (staff-only context), the direct-rep relationship, the
        rules that applied, and the decisions this person may take, with their forms."""
        context = deal_review_context(deal)
        program = deal.partner.program
        decide = []
        if may_decide and deal.status == DealStatus.PENDING:
            url = lambda name: reverse("admin:deals_deal_decide", args=[deal.pk, name])  # noqa: E731
            if deal.needs_review:
                decide = [
                    {"label": self.LABELS["separate"], "url": url("separate"), "form": None},
                    {"label": self.LABELS["same"], "url": url("same"), "form": ReviewNoteForm()},
                ]
            else:
                decide = [
                    {"label": self.LABELS["approve"], "url": url("approve"), "form": None},
                    {"label": self.LABELS["reject"], "url": url("reject"), "form": ReasonForm()},
                ]
        return {
            **context,
            "deal": deal,
            "rules": deal_rules_applied(deal, program),
            "decide": decide,
            "partner_url": reverse("manager-partner", args=[deal.partner_id]),
        }


def deal_rules_applied(deal: Deal, program: Program) -> list[str]:
    """The rulebook's lines (§4) that decided where this registration stands, in words."""
    lines = []
    if deal.needs_review:
        lines.append(
            gettext(
                "Probable same customer (%(why)s): held for a manager, never approved "
                "automatically. A separate customer: approve it. The same customer: reject it "
                "as registered by another partner (the first to register wins)."
            )
            % {"why": deal.get_review_reason_display().lower()}
        )
    if deal.reason == rules.Reason.EXISTING_LEAD:
        lines.append(
            gettext(
                "No double-dipping: a CRM lead for this customer existed before it was registered."
            )
        )
    elif deal.reason == rules.Reason.REGISTERED_BY_ANOTHER_PARTNER:
        lines.append(
            gettext("First to register wins: another partner holds an open registration on it.")
        )
    elif deal.reason == rules.Reason.MANAGER_REJECTED:
        lines.append(gettext("Rejected by a manager: %(note)s") % {"note": deal.reason_note or "—"})
    if deal.direct_conflict:
        share = program.direct_conflict_partner_share
        lines.append(
            gettext(
                "Direct relationship: the vendor's own rep owns this account; once approved, "
                "the revenue credit splits %(direct)s/%(partner)s (direct/partner)."
            )
            % {"direct": _percent(1 - share), "partner": _percent(share)}
        )
    if deal.status == DealStatus.PENDING:
        due = rules.approval_due_at(deal.submitted_at, program.registration_sla_hours)
        text = gettext(
            "Approval SLA: decide within %(hours)s hours, by %(due)s; a registration not held "
            "for review is approved automatically after that."
        )
        lines.append(
            text
            % {
                "hours": program.registration_sla_hours,
                "due": date_format(timezone.localtime(due), "DATETIME_FORMAT"),
            }
        )
    elif deal.status == DealStatus.APPROVED and deal.expires_on:
        lines.append(
            gettext("Approved: protected until %(day)s.")
            % {"day": date_format(deal.expires_on, "DATE_FORMAT")}
        )
    if not lines:
        lines.append(gettext("First to register: no other partner held this customer."))
    return lines


class OverdueFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "Within SLA")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(status="open", sla_due_at__lt=now)
        if self.value() == "no":
            return queryset.filter(Q(status="resolved") | Q(sla_due_at__gte=now))
        return queryset


@admin.register(ConflictCase)
class ConflictCaseAdmin(ReadOnlyAdminMixin, DecisionMixin, ScopedAdminMixin, HistoryAdmin):
    list_display = [
        "scenario",
        "account",
        "partner",
        "other_partner",
        "status",
        "sla_due_at",
        "sla_state",
        "escalation_step",
    ]
    list_filter = ["status", "scenario", OverdueFilter, "escalation_step"]
    list_select_related = ["account", "partner", "other_partner"]
    search_fields = ["account__name", "partner__name", "other_partner__name", "direct_rep"]
    readonly_fields = [f.name for f in ConflictCase._meta.fields]
    actions = ["resolve_selected", "escalate_selected"]
    ordering = ["status", "sla_due_at", "pk"]  # open cases first, the nearest SLA first

    @admin.display(description="SLA")
    def sla_state(self, obj):
        if obj.status != "open":
            return "—"
        left = obj.sla_due_at - timezone.now()
        if left.total_seconds() < 0:
            return format_html('<b class="c-bad">overdue {}</b>', _countdown(left))
        return f"{_countdown(left)} left"

    def _bulk(self, request, queryset, *, field, title, action, run):
        form_class = ResolutionForm if field == "resolution" else ReasonForm
        form = form_class(request.POST if field in request.POST else None)
        if form.is_valid():
            for case in queryset.select_related("partner"):
                if not manages_partner(request.user, case.partner):
                    self.message_user(request, f"{case}: not your partner", messages.WARNING)
                    continue
                try:
                    run(case, form.cleaned_data[field])
                except services.DealError as exc:
                    self.message_user(request, f"{case}: {exc.message}", messages.WARNING)
                else:
                    self.message_user(request, f"{case}: done.", messages.SUCCESS)
            return None
        return render(
            request,
            "admin/deals/deal/reason.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "deals": queryset,
                "form": form,
                "action": action,
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Resolve selected cases…", permissions=["decide"])
    def resolve_selected(self, request, queryset):
        return self._bulk(
            request,
            queryset,
            field="resolution",
            title="Resolve conflict cases",
            action="resolve_selected",
            run=lambda case, text: services.conflict_case_resolve(
                case=case, by=request.user, resolution=text
            ),
        )

    @admin.action(description="Escalate selected cases one step…", permissions=["decide"])
    def escalate_selected(self, request, queryset):
        return self._bulk(
            request,
            queryset,
            field="reason",
            title="Escalate conflict cases (warning → probation → termination)",
            action="escalate_selected",
            run=lambda case, text: services.conflict_case_escalate(
                case=case, by=request.user, reason=text
            ),
        )

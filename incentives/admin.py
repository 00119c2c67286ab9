"""Admin queues of the money engine: claims due, MDF to approve, awards to confirm, and
finance's payment runs. Every decision calls the same service as the API and the portal.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Case, When
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from partners.admin import ReadOnlyAdminMixin, ScopedAdminMixin
from partners.permissions import manages_partner
from prm.admin_history import HistoryAdmin
from prm.admin_lists import ChannelManagerFilter, QuarterFilter
from prm.admin_money import money_display
from prm.admin_style import colour_class
from prm.downloads import csv_attachment
from prm.money import format_money
from prm.roles import DISPUTE_ROLES, role_of

from .models import (
    ClaimStatus,
    Contribution,
    EntryKind,
    EntryStatus,
    IncentiveClaim,
    LedgerEntry,
    MdfClaim,
    MdfFund,
    MdfRequest,
    MdfRequestStatus,
)
from .queries import ledger_csv
from .services.claims import claim_approve, claim_reject, claim_resolve_dispute
from .services.common import IncentiveError
from .services.contributions import contribution_decide
from .services.ledger import award_confirm, award_decline, ledger_mark_paid
from .services.mdf import (
    mdf_claim_approve,
    mdf_claim_reject,
    mdf_request_approve,
    mdf_request_reject,
)

COLOURS = {
    "accrued": "#b58105",
    "submitted": "#b58105",
    "disputed": "#a40e26",
    "approved": "#1a7f37",
    "paid": "#0b5394",
    "reimbursed": "#0b5394",
    "claimed": "#0b5394",
    "rejected": "#a40e26",
    "upheld": "#6e7781",
    "void": "#6e7781",
    "cancelled": "#6e7781",
    "expired": "#6e7781",
}


def badge(obj):
    return format_html(
        '<b class="{}">{}</b>', colour_class(COLOURS.get(obj.status)), obj.get_status_display()
    )


class TextForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, label="Reason", help_text="The partner sees this.", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].label = label
        self.fields["text"].help_text = help_text


class MoneyAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, HistoryAdmin):
    """Rows written only by services; actions decide them one by one, with a report."""

    def has_decide_permission(self, request) -> bool:
        return request.user.has_perm("incentives.decide")

    def has_pay_permission(self, request) -> bool:
        return request.user.has_perm("incentives.pay")

    def apply(self, request, queryset, call, *, verb: str, check_manager: bool = True):
        done, refused = 0, []
        for obj in queryset.select_related("partner"):
            if check_manager and not manages_partner(request.user, obj.partner):
                refused.append(f"{obj}: not your partner")
                continue
            try:
                call(obj)
                done += 1
            except IncentiveError as exc:
                refused.append(f"{obj}: {exc.message}")
            except ValidationError as exc:
                refused.append(f"{obj}: {' '.join(exc.messages)}")
        if done:
            self.message_user(request, f"{verb} {done}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    def with_text(self, request, queryset, action, *, title, label, help_text, then):
        """An intermediate page asking for a reason (or a reference), then ``then(text)``."""
        form = TextForm(
            request.POST if "confirmed" in request.POST else None,
            label=label,
            help_text=help_text,
        )
        if form.is_valid():
            then(form.cleaned_data["text"])
            return None
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


class DueFilter(admin.SimpleListFilter):
    title = "verification SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("today", "Due today"), ("later", "Due later")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        waiting = queryset.filter(status=ClaimStatus.SUBMITTED)
        if self.value() == "overdue":
            return waiting.filter(verify_by__lt=today)
        if self.value() == "today":
            return waiting.filter(verify_by=today)
        if self.value() == "later":
            return waiting.filter(verify_by__gt=today)
        return queryset


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ["kind", "description", "amount_money", "earned_on", "claim_by", "status", "due_on"]
    readonly_fields = fields
    amount_money = staticmethod(money_display(LedgerEntry._meta.get_field("amount")))
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(IncentiveClaim)
class IncentiveClaimAdmin(MoneyAdmin):
    list_display = ["label", "partner", "amount", "status_badge", "sla", "submitted_at"]
    list_filter = [
        "status",
        DueFilter,
        ("partner__channel_manager", ChannelManagerFilter),
    ]
    list_select_related = ["partner"]
    search_fields = ["partner__name", "note", "=id"]
    readonly_fields = [f.name for f in IncentiveClaim._meta.fields]
    inlines = [EntryInline]
    actions = ["approve_selected", "reject_selected", "overturn_selected", "uphold_selected"]
    # The queue first: claims awaiting a decision (verification or dispute), oldest due.
    ordering = [
        Case(
            When(status__in=[ClaimStatus.SUBMITTED, ClaimStatus.DISPUTED], then=0), default=1
        ).asc(),
        "verify_by",
        "pk",
    ]

    @admin.display(description="Claim", ordering="pk")
    def label(self, obj):
        return f"Claim {obj.pk}"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj)

    @admin.display(description="Verify by", ordering="verify_by")
    def sla(self, obj):
        if obj.status != ClaimStatus.SUBMITTED:
            return "—"
        left = (obj.verify_by - timezone.localdate()).days
        if left < 0:
            return format_html('<b class="c-bad">overdue {} d</b>', -left)
        colour = "#b58105" if left <= 1 else "#1a7f37"
        return format_html(
            '<span class="{}">{} ({} d left)</span>', colour_class(colour), obj.verify_by, left
        )

    def has_dispute_permission(self, request) -> bool:
        return role_of(request.user) in DISPUTE_ROLES

    @admin.action(description="Approve selected claims", permissions=["decide"])
    def approve_selected(self, request, queryset):
        self.apply(
            request,
            queryset,
            lambda claim: claim_approve(claim=claim, by=request.user),
            verb="Approved claims:",
        )

    @admin.action(description="Reject selected claims…", permissions=["decide"])
    def reject_selected(self, request, queryset):
        return self.with_text(
            request,
            queryset,
            "reject_selected",
            title="Reject claims",
            label="Reason",
            help_text="The partner sees this and may dispute it.",
            then=lambda text: self.apply(
                request,
                queryset,
                lambda claim: claim_reject(claim=claim, by=request.user, reason=text),
                verb="Rejected claims:",
            ),
        )

    def _resolve(self, request, queryset, *, overturn: bool, action: str):
        return self.with_text(
            request,
            queryset,
            action,
            title="Overturn the rejection" if overturn else "Uphold the rejection",
            label="Decision",
            help_text="Recorded on the claim; the partner sees it.",
            then=lambda text: self.apply(
                request,
                queryset,
                lambda claim: claim_resolve_dispute(
                    claim=claim, by=request.user, overturn=overturn, note=text
                ),
                verb="Disputes decided:",
                check_manager=False,
            ),
        )

    @admin.action(description="Disputes: overturn (approve the claim)…", permissions=["dispute"])
    def overturn_selected(self, request, queryset):
        return self._resolve(request, queryset, overturn=True, action="overturn_selected")

    @admin.action(description="Disputes: uphold the rejection…", permissions=["dispute"])
    def uphold_selected(self, request, queryset):
        return self._resolve(request, queryset, overturn=False, action="uphold_selected")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(MoneyAdmin):
    list_display = [
        "description",
        "partner",
        "kind",
        "amount",
        "status_badge",
        "earned_on",
        "claim_by",
        "due_on",
        "quarter",
    ]
    list_filter = ["status", "kind", QuarterFilter, "due_on"]
    list_select_related = ["partner"]
    search_fields = ["partner__name", "description", "idempotency_key", "payment_reference"]
    readonly_fields = [f.name for f in LedgerEntry._meta.fields]
    date_hierarchy = "earned_on"
    actions = ["confirm_awards", "decline_awards", "export_csv", "mark_paid"]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj)

    @admin.action(description="Confirm selected awards", permissions=["decide"])
    def confirm_awards(self, request, queryset):
        self.apply(
            request,
            queryset.filter(kind=EntryKind.AWARD),
            lambda entry: award_confirm(entry=entry, by=request.user),
            verb="Awards confirmed:",
        )

    @admin.action(description="Decline selected awards…", permissions=["decide"])
    def decline_awards(self, request, queryset):
        awards = queryset.filter(kind=EntryKind.AWARD)
        return self.with_text(
            request,
            awards,
            "decline_awards",
            title="Decline awards",
            label="Reason",
            help_text="Recorded on the entry.",
            then=lambda text: self.apply(
                request,
                awards,
                lambda entry: award_decline(entry=entry, by=request.user, reason=text),
                verb="Awards declined:",
            ),
        )

    @admin.action(description="Export selected approved entries as CSV", permissions=["pay"])
    def export_csv(self, request, queryset):
        rows = queryset.filter(status=EntryStatus.APPROVED).select_related("partner")
        stamp = timezone.localdate().isoformat()
        return csv_attachment(ledger_csv(rows), filename=f"payment-run-{stamp}.csv")

    @admin.action(description="Mark selected approved entries paid…", permissions=["pay"])
    def mark_paid(self, request, queryset):
        def pay(reference):
            try:
                paid = ledger_mark_paid(
                    entry_ids=queryset.values_list("pk", flat=True),
                    by=request.user,
                    reference=reference,
                )
            except ValidationError as exc:  # e.g. no rate for a partner's currency today
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return
            skipped = queryset.count() - paid
            self.message_user(request, f"Marked {paid} entries paid.", messages.SUCCESS)
            if skipped:
                self.message_user(
                    request,
                    f"{skipped} selected entries were not approved (or already paid) "
                    "and were left as they were.",
                    messages.WARNING,
                )

        return self.with_text(
            request,
            queryset,
            "mark_paid",
            title="Mark entries paid",
            label="Payment reference",
            help_text="The payment run's reference, e.g. the bank batch id.",
            then=pay,
        )


@admin.register(Contribution)
class ContributionAdmin(MoneyAdmin):
    list_display = ["title", "partner", "kind", "status", "submitted_at", "link"]
    list_filter = ["status", "kind"]
    search_fields = ["title", "partner__name"]
    readonly_fields = [f.name for f in Contribution._meta.fields]
    actions = ["approve_selected", "reject_selected"]

    @admin.display(description="Link")
    def link(self, obj):
        return format_html('<a href="{}" rel="noopener">open</a>', obj.url) if obj.url else "—"

    @admin.action(description="Approve selected (earns the bonus)", permissions=["decide"])
    def approve_selected(self, request, queryset):
        self.apply(
            request,
            queryset,
            lambda c: contribution_decide(contribution=c, by=request.user, approve=True),
            verb="Approved:",
        )

    @admin.action(description="Reject selected…", permissions=["decide"])
    def reject_selected(self, request, queryset):
        return self.with_text(
            request,
            queryset,
            "reject_selected",
            title="Reject contributions",
            label="Reason",
            help_text="The partner sees this.",
            then=lambda text: self.apply(
                request,
                queryset,
                lambda c: contribution_decide(
                    contribution=c, by=request.user, approve=False, reason=text
                ),
                verb="Rejected:",
            ),
        )


@admin.register(MdfFund)
class MdfFundAdmin(MoneyAdmin):
    list_display = [
        "partner",
        "fiscal_year",
        "amount",
        "reserved",
        "reimbursed",
        "available_amount",
        "basis",
    ]
    list_filter = ["fiscal_year"]
    search_fields = ["partner__name"]
    readonly_fields = [f.name for f in MdfFund._meta.fields]

    @admin.display(description="Available")
    def available_amount(self, obj):
        return format_money(obj.available)


@admin.register(MdfRequest)
class MdfRequestAdmin(MoneyAdmin):
    list_display = [
        "title",
        "partner",
        "activity_type",
        "planned_cost",
        "status_badge",
        "starts_on",
        "ends_on",
        "expected_leads",
        "fund_left",
        "claim_due_on",
    ]
    list_filter = ["status", "activity_type", "fund__fiscal_year"]
    list_select_related = ["partner", "fund"]
    search_fields = ["title", "partner__name"]
    readonly_fields = [f.name for f in MdfRequest._meta.fields]
    actions = ["approve_selected", "reject_selected"]
    # The queue first: requests awaiting pre-approval, the oldest submission first.
    ordering = [
        Case(When(status=MdfRequestStatus.SUBMITTED, then=0), default=1).asc(),
        "submitted_at",
        "pk",
    ]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj)

    @admin.display(description="Fund left")
    def fund_left(self, obj):
        return obj.fund.available

    @admin.action(
        description="Approve selected (reserve the vendor's share)", permissions=["decide"]
    )
    def approve_selected(self, request, queryset):
        self.apply(
            request,
            queryset,
            lambda r: mdf_request_approve(request=r, by=request.user),
            verb="Approved MDF requests:",
        )

    @admin.action(description="Reject selected…", permissions=["decide"])
    def reject_selected(self, request, queryset):
        return self.with_text(
            request,
            queryset,
            "reject_selected",
            title="Reject MDF requests",
            label="Reason",
            help_text="The partner sees this.",
            then=lambda text: self.apply(
                request,
                queryset,
                lambda r: mdf_request_reject(request=r, by=request.user, note=text),
                verb="Rejected MDF requests:",
            ),
        )


@admin.register(MdfClaim)
class MdfClaimAdmin(MoneyAdmin):
    list_display = [
        "request",
        "partner",
        "actual_cost",
        "reserved",
        "leads_generated",
        "status_badge",
        "reimbursement",
        "submitted_at",
        "proof_links",
    ]
    list_filter = ["status"]
    list_select_related = ["partner", "request"]
    search_fields = ["request__title", "partner__name"]
    readonly_fields = [f.name for f in MdfClaim._meta.fields] + ["proof_links"]
    actions = ["approve_selected", "reject_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("proofs")

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj)

    @admin.display(description="Reserved")
    def reserved(self, obj):
        return format_money(obj.request.reserved_amount)

    @admin.display(description="Proof")
    def proof_links(self, obj):
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            (
                (reverse("incentives:proof", kwargs={"pk": proof.pk}), proof.name)
                for proof in obj.proofs.all()
            ),
        )

    @admin.action(description="Approve selected (reimburse)", permissions=["decide"])
    def approve_selected(self, request, queryset):
        self.apply(
            request,
            queryset,
            lambda c: mdf_claim_approve(claim=c, by=request.user),
            verb="Approved MDF claims:",
        )

    @admin.action(description="Reject selected…", permissions=["decide"])
    def reject_selected(self, request, queryset):
        return self.with_text(
            request,
            queryset,
            "reject_selected",
            title="Reject MDF claims",
            label="Reason",
            help_text="The partner sees this and may file again within the window.",
            then=lambda text: self.apply(
                request,
                queryset,
                lambda c: mdf_claim_reject(claim=c, by=request.user, reason=text),
                verb="Rejected MDF claims:",
            ),
        )

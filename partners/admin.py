"""Admin for channel managers: every list is scoped, every write goes through a service."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from prm.admin_errors import BadInputIs400Mixin
from prm.admin_history import HistoryAdmin
from prm.admin_lists import LongListAdmin
from prm.admin_money import MoneyAdmin
from prm.roles import VENDOR_ROLES, Role, role_of

from . import services
from .forms import InviteForm
from .models import (
    Account,
    ApiToken,
    ExchangeRate,
    Lead,
    LeadOffer,
    LeadStatus,
    Partner,
    PartnerUser,
    Program,
    RoutingRule,
    Tier,
    TierChange,
    User,
)
from .permissions import manages_partner
from .queries import (
    accounts_writable_by,
    api_tokens_visible_to,
    channel_managers_assignable_by,
    directory_lead_counts,
    directory_report_partners,
    leads_writable_by,
    month_start,
    partner_for_user,
    partners_writable_by,
    scope_to_user,
)
from .services import currencies
from .services import leads as lead_services
from .services.directory import directory_lead_band


class ReadOnlyAdminMixin:
    """Rows written only by services and jobs: the admin shows them, never edits them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PartnerChoicesMixin:
    """Every partner a form offers is one the user may write for (``partners_writable_by``):
    a manager adds or moves rows only to their own partners, whatever rows they read."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Partner:
            kwargs["queryset"] = partners_writable_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_autocomplete_fields(self, request):
        """A partner is looked up as one types (among the partners one sees; the form
        still accepts only those above), not picked from every partner drawn into the
        page: 20,000 options took 4 s to draw (bench/pages.py)."""
        partners = [
            field.name
            for field in self.model._meta.fields
            if field.is_relation and field.related_model is Partner and field.editable
        ]
        return list(dict.fromkeys([*super().get_autocomplete_fields(request), *partners]))


class ScopedAdminMixin(MoneyAdmin, LongListAdmin, PartnerChoicesMixin):
    """Rows limited to the partners the user may see (``partners.queries.scope_to_user``).
    Their money is written one way (``prm.admin_money``).

    Their tables grow with the program: the lists count at most ``COUNT_CAP`` rows and
    drill down by date without a pass over them (``prm.admin_lists.LongListAdmin``).

    Every page about one row answers 404 outside that scope, as the portal and the API
    do: Django's own pages would redirect with "doesn't exist", and django-simple-history's
    history pages fall back to the row's history records, which are not scoped at all.
    """

    partner_field = "partner"

    def get_queryset(self, request):
        return scope_to_user(
            super().get_queryset(request), request.user, partner_field=self.partner_field
        )

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"No {opts.verbose_name} with this id.")

    def _in_scope_or_404(self, request, object_id) -> None:
        try:
            if self.get_queryset(request).filter(pk=unquote(object_id)).exists():
                return
        except (ValueError, ValidationError):
            pass
        raise Http404(f"No {self.model._meta.verbose_name} with this id.")

    def history_view(self, request, object_id, extra_context=None):
        self._in_scope_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._in_scope_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


class TierFilter(admin.SimpleListFilter):
    """Tiers by slug: one entry per rung, whatever program it belongs to."""

    title = "tier"
    parameter_name = "tier"
    field_path = "tier__slug"

    def lookups(self, request, model_admin):
        rows = Tier.objects.order_by("rank", "slug").values_list("slug", "name").distinct()
        seen, choices = set(), []
        for slug, name in rows:
            if slug not in seen:
                seen.add(slug)
                choices.append((slug, name))
        return choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field_path: self.value()})
        return queryset


class TierFormSet(forms.BaseInlineFormSet):
    """A program's tiers: new ones are added as they are; an existing tier changes only
    what ``tier_update`` allows (not its rank or slug: partners, scorecards and tier
    changes point at them)."""

    def clean(self):
        super().clean()
        for form in self.initial_forms:
            if self._should_delete_form(form):
                continue
            for field in form.changed_data:
                if field not in services.TIER_EDITABLE:
                    form.add_error(field, "An existing tier keeps its rank and slug.")


class TierInline(admin.TabularInline):
    model = Tier
    formset = TierFormSet
    extra = 0
    # The benefits' text is edited on the tier's own page; a table row has no room for it.
    fields = ["rank", "slug", *(field for field in Tier.TERMS if field != "benefits")]


@admin.register(Program)
class ProgramAdmin(MoneyAdmin, HistoryAdmin):
    list_display = ["name", "slug", "is_default", "fiscal_year_start_month", "currency"]
    search_fields = ["name", "slug"]
    inlines = [TierInline]

    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "slug",
                    "is_default",
                    "description",
                    "currency",
                    "fiscal_year_start_month",
                ]
            },
        ),
        (
            "Scorecard (RULEBOOK §2)",
            {
                "classes": ["collapse"],
                "fields": [
                    ("revenue_points", "pipeline_points", "pipeline_target"),
                    ("certification_points", "satisfaction_points"),
                    ("login_days_points", "login_days_target"),
                    ("training_points", "training_target"),
                    ("events_points", "events_target"),
                    ("band_maintain_from", "band_grow_from", "band_invest_from"),
                ],
            },
        ),
        (
            "Tier movement (§3)",
            {
                "classes": ["collapse"],
                "fields": [
                    ("advance_after_closes", "demote_after_closes", "exit_after_closes"),
                    ("fast_track_score", "fast_track_quarter_revenue"),
                    "entry_tier_max_days",
                ],
            },
        ),
        (
            "Registration and compensation (§4–§5)",
            {
                "classes": ["collapse"],
                "fields": [
                    ("registration_sla_hours", "protection_days", "extension_days"),
                    ("partner_conflict_sla_hours", "max_deal_amount"),
                    (
                        "unprotected_margin",
                        "direct_conflict_partner_share",
                        "co_sell_partner_share",
                    ),
                    ("renewal_influence_rate", "oem_discount_min", "oem_discount_max"),
                ],
            },
        ),
        (
            "Lead distribution (§11)",
            {"classes": ["collapse"], "fields": [("lead_answer_hours", "lead_max_offers")]},
        ),
        (
            "Red flags (§8)",
            {
                "classes": ["collapse"],
                "fields": [
                    "no_deal_days",
                    ("low_csat_min_responses", "low_csat_below"),
                    ("direct_competition_min_registrations", "direct_competition_share"),
                ],
            },
        ),
    ]

    def save_formset(self, request, form, formset, change):
        """Changes to an existing tier go through ``tier_update``, as on the tier's own
        page (its history says who and why); new and deleted tiers are saved as usual."""
        if formset.model is not Tier:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)
        for tier in formset.deleted_objects:
            tier.delete()
        for tier in formset.new_objects:
            tier.save()
        for tier, changed in formset.changed_objects:
            services.tier_update(
                tier=tier,
                by=request.user,
                reason="Changed with its program",
                **{
                    field: getattr(tier, field)
                    for field in changed
                    if field in services.TIER_EDITABLE
                },
            )


@admin.register(Tier)
class TierAdmin(MoneyAdmin, HistoryAdmin):
    """Tier definitions one by one, with their history (who changed a threshold, when)."""

    list_display = ["name", "program", "rank", "revenue_floor", "margin", "review_cadence"]
    list_filter = ["program"]
    list_select_related = ["program"]
    ordering = ["program", "rank"]
    readonly_fields = ["program", "slug", "rank"]
    fields = ["program", "slug", "rank", *TierInline.fields[2:], "benefits"]

    def has_add_permission(self, request):
        return False  # tiers are added with their program

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        changes = {
            f: form.cleaned_data[f] for f in form.changed_data if f in services.TIER_EDITABLE
        }
        try:
            saved = services.tier_update(tier=obj, by=request.user, **changes)
        except ValidationError as exc:
            raise PermissionDenied(" ".join(exc.messages)) from exc
        obj.refresh_from_db()
        return saved


class PartnerUserInline(admin.TabularInline):
    model = PartnerUser
    fk_name = "partner"
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class TierChangeInline(admin.TabularInline):
    model = TierChange
    extra = 0
    fields = ["changed_at", "from_tier", "to_tier", "cause", "quarter", "reason", "changed_by"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-changed_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CodeListField(forms.CharField):
    """A list of codes (countries, specialties, languages) typed as ``DE, FR``."""

    def __init__(self, *, upper: bool = False, encoder=None, decoder=None, **kwargs):
        self.upper = upper
        kwargs.setdefault("help_text", "Separated by commas.")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        items = [item.strip() for item in (value or "").replace(";", ",").split(",")]
        for item in items:
            if len(item) > 40:
                raise ValidationError(f"{item[:40]}… is too long for a code.")
        if self.upper:
            items = [item.upper() for item in items]
        return list(dict.fromkeys(item for item in items if item))


class UpperCodeListField(CodeListField):
    def __init__(self, **kwargs):
        super().__init__(upper=True, **kwargs)


class PartnerForm(forms.ModelForm):
    tier_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when you change the tier: it is recorded as a manager override.",
    )

    class Meta:
        model = Partner
        fields = [
            "name",
            "domain",
            "program",
            "tier",
            "status",
            "annual_quota",
            "currency",
            "agreement_signed_on",
            "started_on",
            "channel_manager",
            "region",
            "lead_countries",
            "lead_specialties",
            "lead_languages",
        ]
        field_classes = {
            "lead_countries": UpperCodeListField,
            "lead_specialties": CodeListField,
            "lead_languages": CodeListField,
        }

    def clean(self):
        cleaned = super().clean()
        tier, program = cleaned.get("tier"), cleaned.get("program")
        if tier and program and tier.program_id != program.pk:
            self.add_error("tier", f"{tier} is not a tier of {program}.")
        domain = cleaned.get("domain")
        if domain:
            try:
                services.partner_domain_check(domain, exclude_pk=self.instance.pk)
            except ValidationError as exc:
                self.add_error("domain", exc.message_dict["domain"])
        tier_changed = self.instance.pk and tier and tier.pk != self.instance.tier_id
        if tier_changed and not (cleaned.get("tier_reason") or "").strip():
            self.add_error("tier_reason", "Say why the tier changes.")
        return cleaned


@admin.register(Partner)
class PartnerAdmin(ScopedAdminMixin, HistoryAdmin):
    partner_field = "pk"
    form = PartnerForm
    list_display = [
        "name",
        "tier",
        "status",
        "channel_manager",
        "latest_score",
        "agreement_signed_on",
        "started_on",
    ]
    list_filter = ["status", TierFilter, "program", "channel_manager"]
    list_select_related = ["tier", "channel_manager"]
    search_fields = ["name", "domain"]
    date_hierarchy = "started_on"
    inlines = [PartnerUserInline, TierChangeInline]
    readonly_fields = [
        "latest_score",
        "latest_score_quarter",
        "created_at",
        "directory_leads_this_month",
    ]
    change_list_template = "admin/partners/partner/change_list.html"

    def get_fields(self, request, obj=None):
        fields = list(PartnerForm.Meta.fields) + ["tier_reason"]
        if obj is not None:
            fields.remove("program")
            fields += [
                "latest_score",
                "latest_score_quarter",
                "created_at",
                "directory_leads_this_month",
            ]
        return fields

    @admin.display(description="Directory leads this month")
    def directory_leads_this_month(self, obj):
        """This month's leads from the public directory against the playbook's range."""
        since = month_start(timezone.localdate())
        band = directory_lead_band(directory_lead_counts([obj.pk], since=since).get(obj.pk, 0))
        return f"{band.count} (playbook: {band.low}–{band.high} a month; {band.state})"

    def has_change_permission(self, request, obj=None):
        if obj is not None and not manages_partner(request.user, obj):
            return False
        return super().has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "channel_manager" and role_of(request.user) == Role.CHANNEL_MANAGER:
            # A channel manager keeps their partners and adds new ones for themselves.
            # Chiefs and admins keep the model's choice of anyone with the role (a partner
            # whose manager left stays editable until it is reassigned).
            kwargs["queryset"] = channel_managers_assignable_by(request.user)
            kwargs["required"] = True
            kwargs["initial"] = request.user.pk
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        data = {
            field: form.cleaned_data[field]
            for field in form.changed_data
            if field in services.PARTNER_EDITABLE
        }
        try:
            if change:
                tier = form.cleaned_data["tier"] if "tier" in form.changed_data else None
                saved = services.partner_update(
                    partner=Partner.objects.get(pk=obj.pk),
                    changed_by=request.user,
                    tier=tier,
                    tier_reason=form.cleaned_data.get("tier_reason", ""),
                    **data,
                )
            else:
                fields = {f: form.cleaned_data.get(f) for f in PartnerForm.Meta.fields}
                fields["started_on"] = fields.get("started_on") or None
                saved = services.partner_create(created_by=request.user, **fields)
        except ValidationError as exc:
            raise PermissionDenied(" ".join(exc.messages)) from exc
        obj.pk = saved.pk
        obj.refresh_from_db()

    def get_urls(self):
        return [
            path(
                "<int:pk>/invite/",
                self.admin_site.admin_view(self.invite_view),
                name="partners_partner_invite",
            ),
            path(
                "directory-leads/",
                self.admin_site.admin_view(self.directory_leads_view),
                name="partners_partner_directory_leads",
            ),
        ] + super().get_urls()

    def directory_leads_view(self, request):
        """This month's directory leads of each partner the user sees that is in the
        directory (or was, and got leads this month), against the playbook's range."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        since = month_start(timezone.localdate())
        partners = list(directory_report_partners(request.user, since=since))
        counts = directory_lead_counts([p.pk for p in partners], since=since)
        rows = [{"partner": p, "band": directory_lead_band(counts.get(p.pk, 0))} for p in partners]
        context = {
            **self.admin_site.each_context(request),
            "title": "Directory leads this month",
            "rows": rows,
            "since": since,
            "opts": self.model._meta,
        }
        return render(request, "admin/partners/partner/directory_leads.html", context)

    def invite_view(self, request, pk):
        """Invite one of the partner's people; the e-mail carries a set-password link."""
        partner = partner_for_user(request.user, pk)
        if not manages_partner(request.user, partner):
            raise PermissionDenied
        form = InviteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                member = services.partner_user_invite(
                    partner=partner,
                    invited_by=request.user,
                    base_url=request.build_absolute_uri("/"),
                    **form.cleaned_data,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                self.message_user(
                    request, f"Invitation sent to {member.user.email}.", messages.SUCCESS
                )
                return redirect(reverse("admin:partners_partner_change", args=[partner.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Invite a user to {partner}",
            "partner": partner,
            "form": form,
            "opts": self.model._meta,
        }
        return render(request, "admin/partners/partner/invite.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        partner = self.get_object(request, object_id)
        # Only the actions this person may take: inviting is for the partner's managers.
        if partner is not None and manages_partner(request.user, partner):
            extra_context["invite_url"] = reverse("admin:partners_partner_invite", args=[object_id])
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(PartnerUser)
class PartnerUserAdmin(ScopedAdminMixin, HistoryAdmin):
    list_display = ["user", "partner", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "partner"]
    search_fields = ["user__username", "user__email", "partner__name"]
    readonly_fields = ["user", "partner", "invited_by", "created_at"]
    fields = ["user", "partner", "role", "invited_by", "created_at"]

    def has_add_permission(self, request):
        return False  # people join by invitation (the partner's "Invite" button)

    def save_model(self, request, obj, form, change):
        try:
            services.partner_user_set_role(member=obj, role=obj.role, changed_by=request.user)
        except ValidationError as exc:
            raise PermissionDenied(" ".join(exc.messages)) from exc


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["name", "domain", "direct_rep", "owning_partner"]

    def clean_domain(self):
        # Said on the form, as the partner form does; the service would refuse it on save.
        domain = self.cleaned_data.get("domain") or ""
        try:
            services.account_domain_check(domain, exclude_pk=self.instance.pk)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["domain"]) from exc
        return domain


@admin.register(Account)
class AccountAdmin(LongListAdmin, PartnerChoicesMixin, HistoryAdmin):
    """Every manager reads every account; one changes only those of their own partners
    and those no partner touches yet (``partners.queries.accounts_writable_by``). Another
    manager's partner's account shows read-only, and posting its form is refused."""

    form = AccountForm
    list_display = ["name", "domain", "direct_rep", "owning_partner", "created_at"]
    list_filter = [
        ("owning_partner", admin.EmptyFieldListFilter),
        ("direct_rep", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["owning_partner"]
    search_fields = ["name", "domain", "name_key", "domain_key", "direct_rep"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and not accounts_writable_by(request.user).filter(pk=obj.pk).exists():
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in AccountForm.Meta.fields}
        if change:
            saved = services.account_update(account=Account.objects.get(pk=obj.pk), **data)
        else:
            saved = services.account_create(**data)
        obj.pk = saved.pk


class LeadImportForm(forms.Form):
    # An empty file reaches the import, which says so with the rest of its checks.
    file = forms.FileField(
        allow_empty_file=True,
        help_text="CSV with a header line: company_name, domain, source, created_at.",
    )


class LeadQueueFilter(admin.SimpleListFilter):
    """The managers' queue: leads no partner holds (new, or returned after their offers)."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("waiting", "Waiting for a manager (new or returned)"),
            ("returned", "Returned after their offers"),
            ("offered", "Offered, awaiting an answer"),
            ("converted", "Registered as a deal by its partner"),
            ("closed", "Closed by its partner"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "waiting":
            return queryset.filter(status__in=[LeadStatus.NEW, LeadStatus.RETURNED])
        if value in ("returned", "offered", "converted", "closed"):
            return queryset.filter(status=value)
        return queryset


class LeadOfferInline(admin.TabularInline):
    """The lead's offer history: who was offered it, when, and how they answered."""

    model = LeadOffer
    extra = 0
    can_delete = False
    fields = [
        "partner",
        "kind",
        "rule",
        "offered_at",
        "expires_at",
        "answer",
        "answered_at",
        "answered_by",
        "decline_reason",
        "decline_note",
    ]
    readonly_fields = fields
    ordering = ["offered_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner", "rule", "answered_by")


class LeadReassignForm(forms.Form):
    partner = forms.ModelChoiceField(
        queryset=Partner.objects.none(),
        help_text="One of your partners; it answers within the program's window, and if it "
        "declines or lets the time pass the lead comes back to the queue.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = partners_writable_by(user).order_by("name")


@admin.register(RoutingRule)
class RoutingRuleAdmin(BadInputIs400Mixin, HistoryAdmin):
    """Lead routing rules (RULEBOOK §11), tried in priority order, lowest first."""

    list_display = [
        "name",
        "priority",
        "is_active",
        "program",
        "region",
        "countries",
        "specialty",
        "language",
        "match_location",
        "match_specialty",
        "match_language",
    ]
    list_editable = ["priority", "is_active"]
    list_filter = ["is_active", "program", "region"]
    search_fields = ["name"]
    filter_horizontal = ["tiers"]
    fieldsets = [
        (None, {"fields": ["program", "name", ("priority", "is_active")]}),
        ("Leads it routes", {"fields": ["countries", "region", "specialty", "language"]}),
        (
            "Partners it chooses from",
            {"fields": ["tiers", ("match_location", "match_specialty", "match_language")]},
        ),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "countries":
            return CodeListField(
                upper=True,
                required=False,
                label="Countries",
                help_text="ISO codes separated by commas (DE, FR); empty: any.",
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Lead)
class LeadAdmin(BadInputIs400Mixin, LongListAdmin, PartnerChoicesMixin, admin.ModelAdmin):
    """Every manager reads every CRM lead; a lead passed to a partner is changed or deleted
    only by that partner's manager or a chief (``partners.queries.leads_writable_by``)."""

    change_list_template = "admin/partners/lead/change_list.html"

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="partners_lead_import",
            )
        ] + super().get_urls()

    def import_view(self, request):
        """Upload CRM leads so that "no double-dipping" works on the real pipeline."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = LeadImportForm(request.POST or None, request.FILES or None)
        problems = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                count = services.leads_import_csv(file=upload)
            except ValidationError as exc:
                problems = exc.messages
            else:
                self.message_user(request, f"Imported {count} lead(s).", messages.SUCCESS)
                return redirect(reverse("admin:partners_lead_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import CRM leads",
            "form": form,
            "problems": problems,
            "opts": self.model._meta,
        }
        return render(
            request,
            "admin/partners/lead/import.html",
            context,
            status=400 if problems or form.errors else 200,
        )

    list_display = [
        "company_name",
        "domain",
        "source",
        "created_at",
        "status",
        "partner",
        "offer_expires_at",
        "region",
        "country",
    ]
    list_filter = [
        LeadQueueFilter,
        "status",
        "source",
        "region",
        ("partner", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["account", "partner"]
    search_fields = ["company_name", "domain", "name_key", "domain_key"]
    date_hierarchy = "created_at"
    fields = [
        "company_name",
        "domain",
        "source",
        "created_at",
        ("country", "region"),
        ("specialty", "language"),
        "partner",
        "account",
        "status",
        "offer_expires_at",
        "accepted_at",
        "returned_at",
        ("converted_deal", "converted_at"),
        ("close_reason", "closed_at", "closed_by"),
        "close_note",
    ]
    readonly_fields = [
        "account",
        "status",
        "offer_expires_at",
        "accepted_at",
        "returned_at",
        "converted_deal",
        "converted_at",
        "close_reason",
        "closed_at",
        "closed_by",
        "close_note",
    ]
    inlines = [LeadOfferInline]
    actions = ["route_selected", "reassign_selected"]

    @admin.action(description="Route selected leads by the routing rules", permissions=["change"])
    def route_selected(self, request, queryset):
        done, refused = 0, []
        writable = set(
            leads_writable_by(request.user).filter(pk__in=queryset).values_list("pk", flat=True)
        )
        for lead in queryset:
            if lead.pk not in writable:
                refused.append(f"{lead}: not one of your partners' leads")
                continue
            try:
                routed = lead_services.lead_route(lead=lead)
            except ValidationError as exc:
                refused.append(f"{lead}: {' '.join(exc.messages)}")
                continue
            if routed.status == LeadStatus.OFFERED:
                done += 1
            else:
                refused.append(f"{lead}: no partner matched with room; it stays in the queue")
        if done:
            self.message_user(request, f"Offered {done} lead(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Offer selected leads to a partner…", permissions=["change"])
    def reassign_selected(self, request, queryset):
        form = LeadReassignForm(
            request.POST if "partner" in request.POST else None, user=request.user
        )
        if form.is_valid():
            partner = form.cleaned_data["partner"]
            done, refused = 0, []
            writable = set(
                leads_writable_by(request.user).filter(pk__in=queryset).values_list("pk", flat=True)
            )
            for lead in queryset:
                if lead.pk not in writable:
                    refused.append(f"{lead}: not one of your partners' leads")
                    continue
                try:
                    lead_services.lead_reassign(lead=lead, partner=partner, by=request.user)
                    done += 1
                except ValidationError as exc:
                    refused.append(f"{lead}: {' '.join(exc.messages)}")
            if done:
                self.message_user(
                    request, f"Offered {done} lead(s) to {partner}.", messages.SUCCESS
                )
            for line in refused:
                self.message_user(request, line, messages.WARNING)
            return None
        return render(
            request,
            "admin/partners/lead/reassign.html",
            {
                **self.admin_site.each_context(request),
                "title": "Offer leads to a partner",
                "leads": queryset,
                "form": form,
                "action": "reassign_selected",
                "opts": self.model._meta,
            },
            status=400 if form.errors else 200,
        )

    def _writable(self, request, obj) -> bool:
        return obj is None or leads_writable_by(request.user).filter(pk=obj.pk).exists()

    def has_change_permission(self, request, obj=None):
        return self._writable(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._writable(request, obj) and super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        # The bulk delete action checks only the model permission: every selected lead must
        # be the user's to delete, or none is deleted.
        if queryset.exclude(pk__in=leads_writable_by(request.user).values("pk")).exists():
            raise PermissionDenied
        super().delete_queryset(request, queryset)

    def save_model(self, request, obj, form, change):
        if change:
            try:
                services.lead_update(
                    lead=obj,
                    **{
                        field: form.cleaned_data[field]
                        for field in form.changed_data
                        if field in services.LEAD_EDITABLE
                    },
                )
            except ValidationError as exc:
                raise PermissionDenied(" ".join(exc.messages)) from exc
            return
        saved = services.lead_create(
            company_name=obj.company_name,
            domain=obj.domain,
            source=obj.source,
            created_at=obj.created_at,
            partner=obj.partner,
            country=obj.country,
            region=obj.region,
            specialty=obj.specialty,
            language=obj.language,
        )
        obj.pk = saved.pk


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "changed_at",
        "partner",
        "from_tier",
        "to_tier",
        "cause",
        "quarter",
        "why",
        "changed_by",
    ]
    list_filter = ["cause", "quarter", "to_tier__slug"]
    list_select_related = ["partner", "from_tier", "to_tier", "changed_by"]
    search_fields = ["partner__name", "reason"]
    date_hierarchy = "changed_at"
    fields = [
        "partner",
        "from_tier",
        "to_tier",
        "cause",
        "quarter",
        "why",
        "changed_by",
        "changed_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("Reason"))
    def why(self, obj):
        """In the reader's language when the close or a service wrote it; as typed otherwise."""
        return obj.shown_reason or "—"


class TokenEndingPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "change password" form: the new password ends the user's API tokens."""

    def save(self, commit=True):
        user = super().save(commit=commit)
        services.user_tokens_revoke(user=user, reason="password changed in the admin")
        return user


@admin.register(User)
class UserAdmin(LongListAdmin, BaseUserAdmin):
    list_display = [
        "username",
        "email",
        "first_name",
        "last_name",
        "role",
        "is_active",
        "last_login",
    ]
    list_filter = ["role", "is_active", "is_staff"]
    fieldsets = BaseUserAdmin.fieldsets + (("PRM role", {"fields": ["role"]}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (("PRM role", {"fields": ["role"]}),)

    change_password_form = TokenEndingPasswordChangeForm

    def save_model(self, request, obj, form, change):
        # Vendor staff need the admin; partner people never get it.
        obj.is_staff = obj.role in VENDOR_ROLES
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            services.user_tokens_revoke(user=obj, reason="deactivated in the admin")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens: a staff member sees their own, administrators everyone's. Tokens are
    asked for through the API (shown once); here they are only listed and revoked."""

    list_display = ["prefix", "user", "client", "created", "expiry", "last_used_at"]
    list_filter = ["created", "expiry"]
    search_fields = ["user__username", "client"]
    actions = ["revoke"]
    fields = ["prefix", "user", "client", "created", "expiry", "last_used_at"]
    readonly_fields = fields

    @admin.display(description="token")
    def prefix(self, obj: ApiToken) -> str:
        return f"{obj.token_key[:8]}…"

    def get_queryset(self, request):
        return api_tokens_visible_to(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Revoking is the "revoke" action, through the service, not the delete pages.
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("partners.revoke_apitoken"):
            actions.pop("revoke", None)
        return actions

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        count = services.api_tokens_revoke(tokens=queryset, by=request.user)
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)


# knox registers its own token model, which partners.ApiToken replaces (KNOX_TOKEN_MODEL).
try:
    from knox.models import AuthToken as KnoxAuthToken

    admin.site.unregister(KnoxAuthToken)
except admin.sites.NotRegistered:
    pass


class ExchangeRateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ["currency", "base", "day", "rate", "source"]

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                # On a rate's own page its currency, base and day are read-only.
                currencies.exchange_rate_check(
                    currency=data.get("currency", self.instance.currency),
                    base=data.get("base", self.instance.base),
                    day=data.get("day", self.instance.day),
                    rate=data.get("rate"),
                )
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from exc
        return data


class RateImportForm(forms.Form):
    file = forms.FileField(
        allow_empty_file=True,
        label=_("File"),
        help_text=_("CSV with a header line: currency, base, day, rate (and optionally source)."),
    )


@admin.register(ExchangeRate)
class ExchangeRateAdmin(HistoryAdmin):
    """Finance's rate table (RULEBOOK §12): typed one by one or imported as CSV; every
    change goes through ``partners.services.currencies`` and keeps its history."""

    form = ExchangeRateForm
    change_list_template = "admin/partners/exchangerate/change_list.html"
    list_display = ["day", "currency", "base", "rate", "source", "entered_by", "entered_at"]
    list_filter = ["currency", "base"]
    date_hierarchy = "day"
    search_fields = ["currency", "source"]
    readonly_fields = ["entered_by", "entered_at"]

    def get_readonly_fields(self, request, obj=None):
        # A rate is corrected on its page; another currency or day is another rate.
        keys = ["currency", "base", "day"] if obj is not None else []
        return keys + self.readonly_fields

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="partners_exchangerate_import",
            )
        ] + super().get_urls()

    def save_model(self, request, obj, form, change):
        saved = currencies.exchange_rate_set(
            currency=obj.currency,
            base=obj.base,
            day=obj.day,
            rate=obj.rate,
            source=obj.source,
            by=request.user,
        )
        obj.pk = saved.pk

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RateImportForm(request.POST or None, request.FILES or None)
        problems = []
        if request.method == "POST" and form.is_valid():
            try:
                count = currencies.exchange_rates_import_csv(
                    file=form.cleaned_data["file"], by=request.user
                )
            except ValidationError as exc:
                problems = exc.messages
            else:
                self.message_user(
                    request,
                    ngettext("Imported %(count)d rate.", "Imported %(count)d rates.", count)
                    % {"count": count},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:partners_exchangerate_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import exchange rates"),
            "form": form,
            "problems": problems,
            "opts": self.model._meta,
        }
        return render(
            request,
            "admin/partners/exchangerate/import.html",
            context,
            status=400 if problems or form.errors else 200,
        )

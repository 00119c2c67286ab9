"""The integrations in the admin.

Outbound webhooks: every subscription in the user's scope (the vendor's own for chiefs
and administrators), written through the services; the delivery log, read-only, with
redelivery.

The CRM sync: connections (sync now, full push), field mappings, every synced object, and
the sync-error queue with its retry and skip actions. Synced objects are scoped like every
partner's data (``partners.admin.ScopedAdminMixin``): a channel manager sees and acts on
the rows of their own partners only; the rows about customer accounts and leads, which
belong to no partner, are for the roles that see every partner. Actions call
``integrations.crm.services``.
"""

import re

from allauth.socialaccount.models import SocialApp, SocialToken
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from partners.admin import ReadOnlyAdminMixin, ScopedAdminMixin
from partners.models import Partner, PartnerRole
from prm.admin_history import HistoryAdmin
from prm.roles import Role

from . import services
from .crm import connector_class
from .crm.base import NotConfigured
from .crm.mapping import LOCAL_FIELDS
from .crm.services import (
    crm_full_push,
    crm_sync_enqueue,
    sync_records_retry,
    sync_records_skip,
)
from .models import (
    STAFF_SSO_ROLES,
    CrmConnection,
    EventKind,
    FieldMapping,
    SsoProtocol,
    SsoSetup,
    SyncError,
    SyncRecord,
    SyncState,
    WebhookDelivery,
    WebhookSubscription,
)
from .permissions import can_manage_webhook


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    event_kinds = forms.MultipleChoiceField(
        choices=EventKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Events",
        help_text="None ticked: every kind.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["partner", "url", "description", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["event_kinds"].initial = self.instance.event_kinds


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ScopedAdminMixin, HistoryAdmin):
    form = WebhookSubscriptionForm
    list_display = ["url", "partner", "is_active", "consecutive_failures", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["partner"]
    search_fields = ["url", "description", "partner__name"]
    readonly_fields = ["disabled_reason", "consecutive_failures", "created_by", "created_at"]

    def get_fields(self, request, obj=None):
        fields = ["partner", "url", "description", "event_kinds", "is_active"]
        if obj is not None:
            fields += list(self.readonly_fields)
            if can_manage_webhook(request.user, obj.partner):
                fields.append("signing_secret")
        return fields

    def get_form(self, request, obj=None, **kwargs):
        # ``event_kinds`` is the form's own field (the model's is a JSON list, not editable
        # in model forms): the form factory is given the model's fields only.
        fields = flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = [field for field in fields if field != "event_kinds"]
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # The partner is chosen once: a subscription moves to no other partner.
        return ["partner", *self.readonly_fields, "signing_secret"]

    @admin.display(description="signing secret")
    def signing_secret(self, obj: WebhookSubscription) -> str:
        return obj.secret

    def _may_manage(self, request, obj) -> bool:
        return obj is None or can_manage_webhook(request.user, obj.partner)

    def has_change_permission(self, request, obj=None):
        return self._may_manage(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_manage(request, obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                saved = services.webhook_subscription_update(
                    subscription=obj,
                    by=request.user,
                    url=data["url"],
                    event_kinds=data["event_kinds"],
                    description=data["description"],
                    is_active=data["is_active"],
                )
            else:
                partner = data.get("partner")
                if not can_manage_webhook(request.user, partner):
                    raise PermissionDenied(
                        "Name the partner: only a channel chief or an administrator "
                        "subscribes to every partner's events."
                    )
                saved = services.webhook_subscription_create(
                    partner=partner,
                    url=data["url"],
                    event_kinds=data["event_kinds"],
                    description=data["description"],
                    by=request.user,
                )
                if not data["is_active"]:
                    saved = services.webhook_subscription_update(
                        subscription=saved, by=request.user, is_active=False
                    )
        except ValidationError as exc:
            raise PermissionDenied(" ".join(exc.messages)) from exc
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.webhook_subscription_delete(subscription=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for subscription in queryset:
            if can_manage_webhook(request.user, subscription.partner):
                services.webhook_subscription_delete(subscription=subscription, by=request.user)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    partner_field = "subscription__partner"
    list_display = [
        "created_at",
        "event_kind",
        "subscription",
        "status",
        "attempts",
        "response_status",
        "last_attempt_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "event__kind"]
    list_select_related = ["event", "subscription"]
    search_fields = ["subscription__url", "event__public_id"]
    date_hierarchy = "created_at"
    actions = ["redeliver"]
    fields = [
        "subscription",
        "webhook_id",
        "event_kind",
        "status",
        "attempts",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "response_status",
        "duration_ms",
        "error",
        "response_excerpt",
    ]
    readonly_fields = fields

    @admin.display(description="event", ordering="event__kind")
    def event_kind(self, obj: WebhookDelivery) -> str:
        return obj.event.kind

    @admin.display(description="webhook-id")
    def webhook_id(self, obj: WebhookDelivery) -> str:
        return str(obj.event.public_id)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("integrations.redeliver_webhookdelivery"):
            actions.pop("redeliver", None)
        return actions

    @admin.action(description="Redeliver the selected deliveries (same webhook-id)")
    def redeliver(self, request, queryset):
        sent, refused = 0, []
        for delivery in queryset.select_related("subscription__partner"):
            if not can_manage_webhook(request.user, delivery.subscription.partner):
                refused.append(f"#{delivery.pk}: not yours to redeliver")
                continue
            try:
                services.webhook_redeliver(delivery=delivery, by=request.user)
            except ValidationError as exc:
                refused.append(f"#{delivery.pk}: {' '.join(exc.messages)}")
            else:
                sent += 1
        if sent:
            self.message_user(request, f"{sent} delivery(ies) sent again.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not sent: " + "; ".join(refused), messages.WARNING)


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


# The identity providers are edited through their set-up (below), never on their own; no
# provider's tokens are kept (SOCIALACCOUNT_STORE_TOKENS is off).
for model in (SocialApp, SocialToken):
    if admin.site.is_registered(model):
        admin.site.unregister(model)

ROLE_CHOICES = [
    (_("A partner's people"), [(r.value, r.label) for r in PartnerRole]),
    (_("The vendor's staff"), [(r.value, r.label) for r in Role if r.value in STAFF_SSO_ROLES]),
]


class SsoSetupForm(forms.ModelForm):
    """Every field of a set-up and its identity provider on one page; saved by
    ``services.sso_setup_save`` once the form is otherwise valid, so that what the service
    refuses (a domain routed elsewhere, metadata that cannot be read) shows on its field."""

    partner = forms.ModelChoiceField(
        queryset=Partner.objects.order_by("name"),
        required=False,
        empty_label=_("— the vendor's own staff —"),
        help_text=_("The organisation whose people sign in through this identity provider."),
    )
    protocol = forms.ChoiceField(choices=SsoProtocol.choices)
    name = forms.CharField(
        label=_("Identity provider's name"),
        required=False,
        max_length=40,
        help_text=_("As people know it, e.g. Okta or Microsoft Entra ID."),
    )
    domains = forms.CharField(
        label=_("E-mail domains"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "One per line: people who type an address in these domains on the sign-in "
            "page are sent to this identity provider, and new logins are made only for them."
        ),
    )
    server_url = forms.CharField(
        label=_("Issuer URL"),
        required=False,
        help_text=_(
            "OpenID Connect: the issuer, e.g. https://example.okta.com, "
            "https://login.microsoftonline.com/<tenant id>/v2.0 or https://accounts.google.com."
        ),
    )
    client_id = forms.CharField(label=_("Client ID"), required=False)
    client_secret = forms.CharField(
        label=_("Client secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_(
            "Left empty, the stored secret is kept. Write env:NAME to read it from the "
            "server's environment variable NAME instead of storing it here."
        ),
    )
    metadata_url = forms.CharField(
        label=_("IdP metadata URL"),
        required=False,
        help_text=_(
            "SAML: the address of the identity provider's metadata (read now, and "
            "again every few hours, so renewed certificates are picked up)."
        ),
    )
    metadata_xml = forms.CharField(
        label=_("IdP metadata XML"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("SAML, when the IdP gives a file rather than an address: paste it here."),
    )
    default_role = forms.ChoiceField(
        choices=ROLE_CHOICES,
        help_text=_(
            "The role of a login made at its first sign-in when the mapping below "
            "gives none. Partner roles for a partner; staff roles for the vendor."
        ),
    )
    role_claim = forms.CharField(
        label=_("Role claim or attribute"),
        required=False,
        help_text=_(
            "The claim (OpenID Connect) or attribute (SAML) whose values name a role, e.g. groups."
        ),
    )
    role_map = forms.JSONField(
        label=_("Role mapping"),
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Each value of the claim with the role it gives, e.g. "
            '{"PRM Admins": "admin", "PRM Sales": "rep"}. Several matches: the '
            "highest role."
        ),
    )

    class Meta:
        model = SsoSetup
        fields = ["is_active", "password_sign_in", "idp_enforces_mfa"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        setup = self.instance
        if setup.pk:
            app = setup.app
            self.initial.update(
                {
                    "partner": setup.partner_id,
                    "protocol": setup.protocol,
                    "name": app.name,
                    "domains": "\n".join(setup.domains.values_list("domain", flat=True)),
                    "server_url": app.settings.get("server_url", ""),
                    "client_id": app.client_id if setup.protocol == SsoProtocol.OIDC else "",
                    "metadata_url": app.settings.get("idp", {}).get("metadata_url", ""),
                    "default_role": setup.default_role,
                    "role_claim": setup.role_claim,
                    "role_map": setup.role_map,
                }
            )
        self.saved: SsoSetup | None = None

    def _post_clean(self) -> None:
        # The set-up is checked (and saved) by the service in clean(); the model's own
        # checks would only see the row just saved as a clash with itself.
        pass

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        domains = [d for d in cleaned["domains"].replace(",", "\n").split() if d.strip()]
        try:
            self.saved = services.sso_setup_save(
                setup=self.instance if self.instance.pk else None,
                partner=cleaned.get("partner"),
                protocol=cleaned["protocol"],
                name=cleaned.get("name") or "",
                domains=domains,
                default_role=cleaned["default_role"],
                role_claim=cleaned.get("role_claim") or "",
                role_map=cleaned.get("role_map") or {},
                password_sign_in=cleaned.get("password_sign_in", True),
                idp_enforces_mfa=cleaned.get("idp_enforces_mfa", False),
                is_active=cleaned.get("is_active", True),
                server_url=cleaned.get("server_url") or "",
                client_id=cleaned.get("client_id") or "",
                client_secret=cleaned.get("client_secret") or "",
                metadata_url=cleaned.get("metadata_url") or "",
                metadata_xml=cleaned.get("metadata_xml") or "",
                saved_by=getattr(self, "user", None),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


@admin.register(SsoSetup)
class SsoSetupAdmin(admin.ModelAdmin):
    form = SsoSetupForm
    list_display = [
        "organisation",
        "protocol",
        "domain_list",
        "is_active",
        "password_sign_in",
        "idp_enforces_mfa",
    ]
    list_filter = ["protocol", "is_active", "password_sign_in"]
    search_fields = ["partner__name", "domains__domain"]
    fieldsets = [
        (None, {"fields": ["partner", "protocol", "name", "domains", "is_active"]}),
        (_("OpenID Connect"), {"fields": ["server_url", "client_id", "client_secret"]}),
        (_("SAML 2.0"), {"fields": ["metadata_url", "metadata_xml"]}),
        (
            _("Who signs in, and how"),
            {
                "fields": [
                    "default_role",
                    "role_claim",
                    "role_map",
                    "password_sign_in",
                    "idp_enforces_mfa",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner").prefetch_related("domains")

    @admin.display(description=_("organisation"), ordering="partner__name")
    def organisation(self, obj: SsoSetup) -> str:
        return obj.organisation_name

    @admin.display(description=_("e-mail domains"))
    def domain_list(self, obj: SsoSetup) -> str:
        return ", ".join(d.domain for d in obj.domains.all())

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user
        return form

    def save_form(self, request, form, change):
        return form.saved

    def save_model(self, request, obj, form, change) -> None:
        pass  # saved by the service while the form was validated

    def save_related(self, request, form, formsets, change) -> None:
        pass

    def delete_model(self, request, obj) -> None:
        services.sso_setup_delete(setup=obj)

    def delete_queryset(self, request, queryset) -> None:
        for setup in queryset:
            services.sso_setup_delete(setup=setup)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        setup = self.get_object(request, object_id)
        if setup is not None:
            extra_context["sso_addresses"] = sso_addresses(request, setup)
        return super().change_view(request, object_id, form_url, extra_context)


def sso_addresses(request, setup: SsoSetup) -> list[tuple[str, str]]:
    """What to enter at the identity provider for this set-up (docs/sso.md)."""
    app = setup.app
    url = request.build_absolute_uri
    if setup.protocol == SsoProtocol.OIDC:
        return [
            (
                _("Sign-in redirect URI (callback)"),
                url(reverse("openid_connect_callback", kwargs={"provider_id": app.provider_id})),
            ),
            (_("Sign-out redirect URI"), url(reverse("account_login"))),
            (_("Scopes"), "openid profile email"),
        ]
    slug = app.client_id
    metadata = url(reverse("saml_metadata", kwargs={"organization_slug": slug}))
    return [
        (_("ACS URL (reply URL)"), url(reverse("saml_acs", kwargs={"organization_slug": slug}))),
        (_("SP entity ID (audience)"), metadata),
        (_("SP metadata"), metadata),
        (_("Name ID format"), "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
    ]

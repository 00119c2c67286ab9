"""Admin for the integrations: the single sign-on set-ups (administrators only)."""

from allauth.socialaccount.models import SocialApp, SocialToken
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from partners.models import Partner, PartnerRole
from prm.roles import Role

from . import services
from .models import STAFF_SSO_ROLES, SsoProtocol, SsoSetup

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

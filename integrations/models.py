"""What happened, as plain facts, for the integrations to deliver (ARCHITECTURE.md:
higher apps publish events here in their transaction; webhooks and the CRM's outbound
sync deliver them)."""

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import Partner, PartnerRole
from prm.roles import VENDOR_ROLES, Role


class EventKind(models.TextChoices):
    DEAL_REGISTERED = "deal.registered", _("Deal registered")
    DEAL_APPROVED = "deal.approved", _("Deal approved")
    DEAL_REJECTED = "deal.rejected", _("Deal rejected")
    DEAL_WON = "deal.won", _("Deal won")
    DEAL_EXPIRED = "deal.expired", _("Deal expired")
    CLAIM_APPROVED = "claim.approved", _("Claim approved")
    LEDGER_PAID = "ledger.paid", _("Ledger entry paid")
    TIER_CHANGED = "tier.changed", _("Tier changed")
    RED_FLAG_OPENED = "red_flag.opened", _("Red flag opened")
    LEAD_ASSIGNED = "lead.assigned", _("Lead assigned")


class Event(models.Model):
    """One thing that happened to one partner, with the facts a receiver needs. Written
    in the transaction of the change it reports, so it exists exactly when the change
    does; delivered after the commit."""

    id = models.BigAutoField(primary_key=True)
    # The id receivers see (the Standard Webhooks ``webhook-id``): stable across retries,
    # so a receiver can drop a delivery it already has.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(default=timezone.now)
    # When the deliverers took it (webhook deliveries and CRM pushes are logged there);
    # empty: still to hand over (the sweep re-sends those the broker lost).
    handed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "occurred_at"], name="event_partner_time_idx"),
            models.Index(fields=["occurred_at"], name="event_time_idx"),
            models.Index(
                fields=["occurred_at"],
                condition=models.Q(handed_at__isnull=True),
                name="event_not_handed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


# ---------------------------------------------------------------- single sign-on


class SsoProtocol(models.TextChoices):
    OIDC = "oidc", _("OpenID Connect")
    SAML = "saml", _("SAML 2.0")


# The allauth provider that speaks each protocol (``SocialApp.provider``).
SSO_PROVIDERS = {SsoProtocol.OIDC: "openid_connect", SsoProtocol.SAML: "saml"}
# The roles a set-up may give: a partner's people are its admins or reps; the vendor's
# staff take the staff roles.
PARTNER_SSO_ROLES = tuple(PartnerRole.values)
STAFF_SSO_ROLES = tuple(role.value for role in Role if role in VENDOR_ROLES)


class SsoSetup(models.Model):
    """Single sign-on for one organisation: a partner's people, or (no partner) the vendor's
    own staff. The identity provider's address and credentials are allauth's ``SocialApp``
    (``app``); this row says whom it may sign in and as what (docs/sso.md)."""

    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: the vendor's own staff."),
    )
    protocol = models.CharField(max_length=10, choices=SsoProtocol.choices)
    app = models.OneToOneField(
        "socialaccount.SocialApp", on_delete=models.PROTECT, related_name="sso_setup"
    )
    is_active = models.BooleanField(_("on"), default=True)
    # The role of a login made at its first sign-in when the role claim maps to nothing.
    default_role = models.CharField(max_length=20)
    # The claim (OpenID Connect) or attribute (SAML) whose values name a role, and which
    # value gives which role: {"PRM Admins": "admin", …}. Several matches: the highest role.
    role_claim = models.CharField(max_length=200, blank=True)
    role_map = models.JSONField(default=dict, blank=True)
    password_sign_in = models.BooleanField(
        _("password sign-in allowed"),
        default=True,
        help_text=_("Off: this organisation's people sign in only through the identity provider."),
    )
    # The vendor's staff sign in with a second factor (prm.mfa): on, the identity provider
    # is trusted to have asked for it; off, the authenticator app's code is asked here too.
    idp_enforces_mfa = models.BooleanField(
        _("identity provider enforces two-factor sign-in"), default=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("SSO set-up")
        verbose_name_plural = _("SSO set-ups")
        ordering = ["partner__name", "id"]
        constraints = [
            # One set-up per organisation; the vendor's (no partner) counts as partner 0.
            models.UniqueConstraint(
                models.functions.Coalesce("partner", models.Value(0)),
                name="sso_one_setup_per_organisation",
            ),
            models.CheckConstraint(
                condition=models.Q(protocol__in=SsoProtocol.values), name="sso_protocol_known"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(partner__isnull=False, default_role__in=PARTNER_SSO_ROLES)
                    | models.Q(partner__isnull=True, default_role__in=STAFF_SSO_ROLES)
                ),
                name="sso_default_role_fits_organisation",
            ),
            # Only the vendor's set-up may vouch for a second factor: a partner's IdP never
            # signs in staff.
            models.CheckConstraint(
                condition=models.Q(partner__isnull=True) | models.Q(idp_enforces_mfa=False),
                name="sso_idp_mfa_only_for_staff",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_name} ({self.get_protocol_display()})"

    @property
    def for_staff(self) -> bool:
        return self.partner_id is None

    @property
    def organisation_name(self) -> str:
        return self.partner.name if self.partner_id else str(_("the vendor's staff"))


class SsoDomain(models.Model):
    """An e-mail domain whose people the sign-in page sends to the set-up's identity
    provider. A domain belongs to at most one organisation."""

    setup = models.ForeignKey(SsoSetup, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253)

    class Meta:
        verbose_name = _("SSO e-mail domain")
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["domain"], name="sso_domain_unique"),
            models.CheckConstraint(
                condition=models.Q(domain=models.functions.Lower("domain")),
                name="sso_domain_lower_case",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

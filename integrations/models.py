"""What happened, as plain facts, for the integrations to deliver (ARCHITECTURE.md:
higher apps publish events here in their transaction; webhooks and the CRM's outbound
sync deliver them)."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

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


# ---------------------------------------------------------------- outbound webhooks


class WebhookSubscription(models.Model):
    """An address that receives events, signed per Standard Webhooks with ``secret``. A
    partner's subscription receives its own partner's events; the vendor's (no partner)
    receives every partner's."""

    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: the vendor's own subscription, which receives every partner's events.",
    )
    url = models.URLField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # The kinds wanted (EventKind values); empty: every kind. Set through the services,
    # which check each kind (not editable in model forms: a JSON list).
    event_kinds = models.JSONField(default=list, blank=True, editable=False)
    # The Standard Webhooks secret (``whsec_`` and base64), generated here; the previous
    # one still signs beside it until ``previous_secret_until`` after a rotation, so that
    # a receiver can switch without dropping anything.
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField("active", default=True)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)
    # Deliveries that failed for good since the last one that succeeded (the disabling
    # rule, integrations.webhooks.DISABLE_AFTER_FAILED_DELIVERIES).
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords(
        excluded_fields=[
            "secret",
            "previous_secret",
            "previous_secret_until",
            "consecutive_failures",
        ]
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook subscription"
        indexes = [
            models.Index(
                fields=["partner"],
                condition=models.Q(is_active=True),
                name="webhook_sub_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.url

    def wants(self, kind: str) -> bool:
        return not self.event_kinds or kind in self.event_kinds


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one subscription: its attempts so far and how the last one went. A
    redelivery is another attempt of the same row (the same ``webhook-id``)."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    # False for a redelivery asked for by a person: one attempt, no automatic retries.
    auto_retry = models.BooleanField(default=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the next attempt is due (pending), empty once it has ended.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="webhook_delivery_once"),
        ]
        indexes = [
            models.Index(fields=["subscription", "created_at"], name="webhook_delivery_log_idx"),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="webhook_delivery_due_idx",
            ),
            models.Index(
                fields=["created_at"],
                condition=models.Q(status__in=["succeeded", "failed"]),
                name="webhook_delivery_ended_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event.kind} → {self.subscription.url}"


# ---------------------------------------------------------------- the CRM sync


class CrmProvider(models.TextChoices):
    SALESFORCE = "salesforce", _("Salesforce")
    HUBSPOT = "hubspot", _("HubSpot")


class SyncObject(models.TextChoices):
    """What is synced, and which way: customer accounts and leads come in from the CRM;
    partners and their registrations go out to it."""

    ACCOUNT = "account", _("Customer account (in)")
    LEAD = "lead", _("Lead (in)")
    PARTNER = "partner", _("Partner account (out)")
    DEAL = "deal", _("Registration as opportunity (out)")


INBOUND_OBJECTS = (SyncObject.ACCOUNT, SyncObject.LEAD)
OUTBOUND_OBJECTS = (SyncObject.PARTNER, SyncObject.DEAL)


class CrmConnection(models.Model):
    """One CRM the program syncs with. Its credentials come from the environment (see
    docs/crm.md), never from this row; the row holds what a person switches."""

    provider = models.CharField(max_length=20, choices=CrmProvider.choices, unique=True)
    enabled = models.BooleanField(
        default=False, help_text=_("Synced on the schedule and by “Sync now”.")
    )
    inbound = models.BooleanField(default=True, help_text=_("Pull accounts and leads."))
    outbound = models.BooleanField(default=True, help_text=_("Push partners and registrations."))
    # Claimed by a run (a conditional update), so that two never overlap.
    running_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_run_summary = models.CharField(max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ["provider"]
        verbose_name = _("CRM connection")

    def __str__(self) -> str:
        return self.get_provider_display()


class SyncWatermark(models.Model):
    """How far the inbound sync has read one object type of one CRM: the last-modified
    time of the newest record applied (the next pull asks for records modified since)."""

    connection = models.ForeignKey(CrmConnection, on_delete=models.CASCADE, related_name="marks")
    object_type = models.CharField(max_length=20, choices=SyncObject.choices)
    modified_since = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "object_type"], name="sync_watermark_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.object_type} since {self.modified_since:%Y-%m-%d %H:%M}"


class FieldMapping(models.Model):
    """One CRM field and the local fact it holds, per CRM and object type. Defaults are
    installed by migration ``0003_crm``; a person adds, changes or switches them off."""

    provider = models.CharField(max_length=20, choices=CrmProvider.choices)
    object_type = models.CharField(max_length=20, choices=SyncObject.choices)
    local_field = models.CharField(max_length=60)
    crm_field = models.CharField(max_length=120)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["provider", "object_type", "local_field"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "object_type", "crm_field"], name="field_mapping_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.local_field} ↔ {self.crm_field}"


class SyncState(models.TextChoices):
    PENDING = "pending", _("To sync")
    SYNCED = "synced", _("Synced")
    ERROR = "error", _("Error")
    SKIPPED = "skipped", _("Skipped")


class SyncRecord(models.Model):
    """One object as the CRM sync knows it: the local id and the CRM's, what was last
    pushed (its hash) or pulled (its last-modified time), and its state. A failed object
    stays ``error``, with the CRM's message, until it syncs or a person skips it: nothing
    is dropped silently."""

    connection = models.ForeignKey(CrmConnection, on_delete=models.CASCADE, related_name="+")
    object_type = models.CharField(max_length=20, choices=SyncObject.choices)
    local_id = models.BigIntegerField(null=True, blank=True)
    # Who the object is about, for scoping the admin: a partner and its registrations;
    # empty for customer accounts and leads (the vendor's own records).
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    external_id = models.CharField(max_length=64, blank=True)
    label = models.CharField(max_length=200, blank=True)
    # Out: the latest local facts to push (each event's data merged in). In: the fields
    # as last pulled, so that a retry applies them again without asking the CRM.
    facts = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    pushed_hash = models.CharField(max_length=64, blank=True)
    pulled_modified_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=SyncState.choices, default=SyncState.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)
    skipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("synced object")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "object_type", "local_id"],
                condition=models.Q(local_id__isnull=False),
                name="sync_record_local_unique",
            ),
            models.UniqueConstraint(
                fields=["connection", "object_type", "external_id"],
                condition=~models.Q(external_id=""),
                name="sync_record_external_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(local_id__isnull=False) | ~models.Q(external_id=""),
                name="sync_record_has_an_id",
            ),
        ]
        indexes = [
            models.Index(
                fields=["connection", "object_type", "next_attempt_at"],
                condition=models.Q(state__in=["pending", "error"]),
                name="sync_record_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.label or f"{self.object_type} {self.local_id or self.external_id}"


class SyncError(SyncRecord):
    """The sync-error queue: the synced objects whose last attempt failed."""

    class Meta:
        proxy = True
        verbose_name = _("sync error")


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

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

from partners.models import Partner


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

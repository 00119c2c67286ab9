"""What happened, as plain facts, for the integrations to deliver (ARCHITECTURE.md:
higher apps publish events here in their transaction; webhooks and the CRM's outbound
sync deliver them)."""

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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

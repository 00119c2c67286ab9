"""What ``partners`` announces (it sits below this app and cannot call it) becomes events:
tier moves, red flags opened, leads passed to a partner."""

from django.dispatch import receiver

from partners import signals
from partners.models import Tier

from .models import EventKind
from .services import events_publish


@receiver(signals.tier_changed)
def _tier_changed(sender, changes, **kwargs) -> None:
    ids = {c.from_tier_id for c in changes} | {c.to_tier_id for c in changes}
    slugs = dict(Tier.objects.filter(pk__in=ids - {None}).values_list("pk", "slug"))
    events_publish(
        (
            change.partner_id,
            EventKind.TIER_CHANGED,
            {
                "partner_id": change.partner_id,
                "from_tier": slugs.get(change.from_tier_id),
                "to_tier": slugs[change.to_tier_id],
                "cause": change.cause,
                "reason": change.reason,
                "quarter": change.quarter,
                "changed_at": change.changed_at,
            },
        )
        for change in changes
    )


@receiver(signals.red_flags_opened)
def _red_flags_opened(sender, flags, **kwargs) -> None:
    events_publish(
        (
            flag.partner_id,
            EventKind.RED_FLAG_OPENED,
            {
                "partner_id": flag.partner_id,
                "red_flag_id": flag.pk,
                "kind": flag.kind,
                "opened_at": flag.opened_at,
                "details": flag.details,
            },
        )
        for flag in flags
    )


@receiver(signals.lead_assigned)
def _lead_assigned(sender, leads, **kwargs) -> None:
    events_publish(
        (
            lead.partner_id,
            EventKind.LEAD_ASSIGNED,
            {
                "partner_id": lead.partner_id,
                "lead_id": lead.pk,
                "company_name": lead.company_name,
                "domain": lead.domain,
                "source": lead.source,
                "created_at": lead.created_at,
            },
        )
        for lead in leads
    )

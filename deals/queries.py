"""Reads over deals shared by pages, API, admin and jobs."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from partners.queries import scope_to_user

from .models import Deal, DealStatus

OPEN_STATUSES = (DealStatus.PENDING, DealStatus.APPROVED)


def deals_visible_to(user) -> QuerySet[Deal]:
    return scope_to_user(Deal.objects.select_related("partner", "account"), user)


def revenue_by_partner(partner_ids: Iterable[int], start: date, end: date) -> dict[int, Decimal]:
    """Partner credit of won deals closed in [start, end], per partner (RULEBOOK §1)."""
    rows = (
        Deal.objects.filter(
            partner_id__in=list(partner_ids),
            status=DealStatus.WON,
            closed_on__range=(start, end),
        )
        .values("partner_id")
        .annotate(revenue=Sum("partner_credit"))
    )
    return {row["partner_id"]: row["revenue"] or Decimal("0") for row in rows}


def pipeline_by_partner(partner_ids: Iterable[int], as_of: date) -> dict[int, dict]:
    """Open registrations (pending or approved, unexpired) per partner: count and amount."""
    rows = (
        Deal.objects.filter(partner_id__in=list(partner_ids), status__in=OPEN_STATUSES)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=as_of))
        .values("partner_id")
        .annotate(count=Count("id"), amount=Sum("amount"))
    )
    return {
        row["partner_id"]: {"count": row["count"], "amount": row["amount"] or Decimal("0")}
        for row in rows
    }

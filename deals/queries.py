"""Reads over deals shared by pages, API, admin and jobs."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404

from partners.queries import scope_to_user

from .models import ConflictCase, Deal, DealStatus

OPEN_STATUSES = (DealStatus.PENDING, DealStatus.APPROVED)


def deals_visible_to(user) -> QuerySet[Deal]:
    return scope_to_user(
        Deal.objects.select_related("partner__program", "account", "submitted_by").prefetch_related(
            "products"
        ),
        user,
    )


def deal_for_user(user, deal_id, *, for_update: bool = False) -> Deal:
    """The deal if the user may see it; 404 otherwise."""
    queryset = deals_visible_to(user)
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        return queryset.get(pk=int(deal_id))
    except (Deal.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such registration.") from exc


def conflicts_visible_to(user) -> QuerySet[ConflictCase]:
    return scope_to_user(
        ConflictCase.objects.select_related(
            "partner", "other_partner", "account", "deal", "other_deal", "resolved_by"
        ),
        user,
    )


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

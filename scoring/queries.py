"""Reads that combine partners, deals and enablement: tier standing and the home pages."""

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Count, Q, QuerySet, Sum

from deals.models import Deal, DealStatus, DealType
from deals.queries import pipeline_by_partner, revenue_by_partner, strategic_wins_by_partner
from enablement.queries import certified_rep_counts
from partners.models import Partner, PartnerStatus, Program, TierChange
from prm.quarters import Quarter, trailing_twelve_months

from .rules import PartnerFacts, TierProgress, TierRequirement, tier_progress


def tier_requirements(program: Program, tiers: Iterable | None = None) -> list[TierRequirement]:
    """The program's tiers as plain values; uses ``program.tiers`` (prefetch it) unless the
    caller passes them."""
    return [
        TierRequirement(
            slug=tier.slug,
            name=tier.name,
            rank=tier.rank,
            revenue_floor=tier.revenue_floor,
            certified_reps_required=tier.certified_reps_required,
            open_registrations_required=tier.open_registrations_required,
            new_logos_required=tier.new_logos_required,
            strategic_wins_required=tier.strategic_wins_required,
        )
        for tier in (program.tiers.all() if tiers is None else tiers)
    ]


class PartnerRow(NamedTuple):
    """What the quarter close and the red flags need of a partner, as plain values."""

    pk: int
    name: str
    program_id: int
    tier_id: int
    annual_quota: Decimal | None
    started_on: date
    channel_manager_id: int | None
    manager_email: str | None


def active_partners() -> list[PartnerRow]:
    """Every active partner, by id: one query, no model instances (the close reads them all)."""
    rows = (
        Partner.objects.filter(status=PartnerStatus.ACTIVE)
        .order_by("pk")
        .values_list(
            "pk",
            "name",
            "program_id",
            "tier_id",
            "annual_quota",
            "started_on",
            "channel_manager_id",
            "channel_manager__email",
        )
    )
    return [PartnerRow._make(row) for row in rows]


def active_partner_ids() -> QuerySet:
    """The ids of the active partners, as a subquery for grouped reads."""
    return Partner.objects.filter(status=PartnerStatus.ACTIVE).values("pk")


def scorecard_history(
    partner_ids: QuerySet, labels: list[str]
) -> dict[int, tuple[tuple[int, ...], tuple[bool, ...]]]:
    """Per partner, from its scorecards of ``labels`` (most recent first): the rank of the
    tier it qualified for, and whether it met the lowest tier's requirements."""
    from .models import Scorecard

    rows = (
        Scorecard.objects.filter(partner_id__in=partner_ids, quarter__in=labels)
        .order_by("partner_id", "-quarter")
        .values_list("partner_id", "qualified_tier__rank", "meets_lowest")
    )
    ranks: dict[int, list[int]] = {}
    meets: dict[int, list[bool]] = {}
    for partner_id, rank, meets_lowest in rows:
        if partner_id not in ranks:
            ranks[partner_id], meets[partner_id] = [], []
        ranks[partner_id].append(rank)
        meets[partner_id].append(meets_lowest)
    return {pid: (tuple(ranks[pid]), tuple(meets[pid])) for pid in ranks}


def tiers_before_close(label: str) -> dict[int, int]:
    """The tier each partner held before the close of ``label``, from the scorecards a
    previous run of that close wrote (empty at the first run)."""
    from .models import Scorecard

    return dict(Scorecard.objects.filter(quarter=label).values_list("partner_id", "tier_before_id"))


def partner_facts(
    partner_ids: Iterable[int], as_of: date, *, certified_reps: dict[int, int] | None = None
) -> dict[int, PartnerFacts]:
    """Every partner's tier facts on ``as_of`` with a fixed number of grouped queries.

    ``certified_reps``: the counts on ``as_of`` when the caller already has them.
    """
    ids = list(partner_ids)
    start, end = trailing_twelve_months(as_of)
    revenue = revenue_by_partner(ids, start, end)
    reps = certified_rep_counts(ids, as_of) if certified_reps is None else certified_reps
    pipeline = pipeline_by_partner(ids, as_of)
    wins = (
        Deal.objects.filter(
            partner_id__in=ids, status=DealStatus.WON, closed_on__range=(start, end)
        )
        .values("partner_id")
        .annotate(new_logos=Count("id", filter=Q(deal_type=DealType.NEW_LOGO)))
        .order_by()
    )
    win_counts = {row["partner_id"]: row for row in wins}
    strategic = strategic_wins_by_partner(ids, start, end)
    return {
        pid: PartnerFacts(
            revenue=revenue.get(pid, Decimal("0")),
            certified_reps=reps.get(pid, 0),
            open_registrations=pipeline.get(pid, {}).get("count", 0),
            new_logos=win_counts.get(pid, {}).get("new_logos", 0),
            strategic_wins=strategic.get(pid, 0),
        )
        for pid in ids
    }


def partner_standing(partner: Partner, as_of: date) -> tuple[PartnerFacts, TierProgress]:
    """The partner's facts and its progress against its tier and the next one."""
    facts = partner_facts([partner.pk], as_of)[partner.pk]
    tiers = tier_requirements(Program.objects.prefetch_related("tiers").get(pk=partner.program_id))
    return facts, tier_progress(tiers, partner.tier.slug, facts)


def standings(partners: QuerySet[Partner], as_of: date) -> list[dict]:
    """Rows for a list of partners: facts and progress, in a fixed number of queries."""
    rows = list(partners.select_related("tier", "program"))
    facts = partner_facts([p.pk for p in rows], as_of)
    programs = {
        program.pk: tier_requirements(program)
        for program in Program.objects.filter(pk__in={p.program_id for p in rows}).prefetch_related(
            "tiers"
        )
    }
    return [
        {
            "partner": partner,
            "facts": facts[partner.pk],
            "progress": tier_progress(
                programs[partner.program_id], partner.tier.slug, facts[partner.pk]
            ),
        }
        for partner in rows
    ]


def program_overview(partners: QuerySet[Partner], as_of: date) -> dict:
    """The executive home: the partner pyramid, movement and revenue by quarter."""
    quarter = Quarter.containing(as_of)
    quarters = quarter.trailing(6)
    by_status = dict(partners.values_list("status").annotate(n=Count("id")).order_by())
    pyramid = list(
        partners.filter(status=PartnerStatus.ACTIVE)
        .values("tier__name", "tier__rank")
        .annotate(count=Count("id"))
        .order_by("-tier__rank")
    )
    won = Deal.objects.filter(
        partner__in=partners, status=DealStatus.WON, closed_on__gte=quarters[0].start
    )
    revenue_rows = won.values("closed_on__year", "closed_on__quarter").annotate(
        revenue=Sum("partner_credit"), deals=Count("id")
    )
    by_quarter = {(r["closed_on__year"], r["closed_on__quarter"]): r for r in revenue_rows}
    revenue_series = [
        {
            "quarter": q.label,
            "revenue": by_quarter.get((q.year, q.number), {}).get("revenue") or Decimal("0"),
            "deals": by_quarter.get((q.year, q.number), {}).get("deals") or 0,
        }
        for q in quarters
    ]
    start, end = trailing_twelve_months(as_of)
    top = list(
        partners.filter(deals__status=DealStatus.WON, deals__closed_on__range=(start, end))
        .annotate(revenue=Sum("deals__partner_credit"))
        .select_related("tier")
        .order_by("-revenue")[:10]
    )
    recent_changes = list(
        TierChange.objects.filter(
            partner__in=partners, changed_at__date__gte=as_of - timedelta(days=120)
        )
        .exclude(cause="initial")
        .select_related("partner", "from_tier", "to_tier", "changed_by")[:10]
    )
    return {
        "quarter": quarter,
        "by_status": by_status,
        "active": by_status.get(PartnerStatus.ACTIVE, 0),
        "pyramid": pyramid,
        "revenue_series": revenue_series,
        "revenue_t12m": sum((row["revenue"] for row in revenue_series[-4:]), Decimal("0")),
        "top_partners": top,
        "recent_changes": recent_changes,
        "started_this_quarter": partners.filter(
            started_on__range=(quarter.start, quarter.end)
        ).count(),
    }


def scorecards_visible_to(user) -> QuerySet:
    from partners.queries import scope_to_user

    from .models import Scorecard

    return scope_to_user(
        Scorecard.objects.select_related("partner", "tier_before", "tier_after", "qualified_tier"),
        user,
    )


def red_flags_visible_to(user) -> QuerySet:
    from partners.models import RedFlag
    from partners.queries import scope_to_user

    return scope_to_user(RedFlag.objects.select_related("partner"), user)

"""Reads that combine partners, deals and enablement: tier standing and the home pages."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from deals.models import Deal, DealStatus, DealType
from deals.queries import pipeline_by_partner, revenue_by_partner, strategic_wins_by_partner
from enablement.queries import certified_rep_counts
from partners.models import Partner, Program
from prm.quarters import trailing_twelve_months

from .rules import PartnerFacts, TierProgress, TierRequirement, tier_progress


def tier_requirements(program: Program) -> list[TierRequirement]:
    """The program's tiers as plain values; uses ``program.tiers`` (prefetch it)."""
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
        for tier in program.tiers.all()
    ]


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


def work_queue(partner_ids) -> dict[int, dict]:
    """Per partner: registrations awaiting approval (and the oldest), incentive claims and
    MDF requests awaiting a decision (and the earliest verification due), open red flags.
    Four grouped queries, whatever the number of partners."""
    from django.db.models import Min

    from incentives.models import IncentiveClaim, MdfRequest
    from partners.models import RedFlag

    queue: dict[int, dict] = {}

    def put(rows, **keys):
        for row in rows:
            entry = queue.setdefault(
                row["partner_id"],
                {
                    "pending": 0,
                    "oldest_pending": None,
                    "claims": 0,
                    "claims_due": None,
                    "mdf": 0,
                    "flags": 0,
                },
            )
            for key, column in keys.items():
                entry[key] = row[column]

    put(
        Deal.objects.filter(partner_id__in=partner_ids, status=DealStatus.PENDING)
        .values("partner_id")
        .annotate(n=Count("pk"), oldest=Min("submitted_at"))
        .order_by(),
        pending="n",
        oldest_pending="oldest",
    )
    put(
        IncentiveClaim.objects.filter(partner_id__in=partner_ids, status__in=["submitted"])
        .values("partner_id")
        .annotate(n=Count("pk"), due=Min("verify_by"))
        .order_by(),
        claims="n",
        claims_due="due",
    )
    put(
        MdfRequest.objects.filter(partner_id__in=partner_ids, status="submitted")
        .values("partner_id")
        .annotate(n=Count("pk"))
        .order_by(),
        mdf="n",
    )
    put(
        RedFlag.objects.filter(partner_id__in=partner_ids, status=RedFlag.Status.OPEN)
        .values("partner_id")
        .annotate(n=Count("pk"))
        .order_by(),
        flags="n",
    )
    return queue

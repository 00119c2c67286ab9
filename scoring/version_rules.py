"""A program version's rules, and one partner's close decided under them (RULEBOOK §2,
§3, §6, §12), as pure functions on plain values: no ORM, no clock, no I/O.

The quarter close, the replay of a stored decision and the what-if of a draft all decide
through ``decide_partner`` and ``quarter_money``, so a decision replayed from its stored
inputs and version gives what the close gave.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from incentives import rules as incentive_rules

from . import rules
from .rules import PartnerFacts, TierRequirement

_ZERO = Decimal("0")


@dataclass(frozen=True)
class ProgramRules:
    """What a version's ``rules`` snapshot says, as the rules read it."""

    weights: rules.ScoringWeights
    tier_rules: rules.TierRules
    tiers: dict[int, TierRequirement]  # by tier id
    quotas: dict[int, Decimal]  # each tier's default annual quota, by tier id
    brackets: tuple[tuple[Decimal, Decimal, bool], ...]
    awards: incentive_rules.AwardTable
    requirements: list[TierRequirement] = field(init=False)
    by_rank: dict[int, int] = field(init=False)  # rank → tier id
    lowest: TierRequirement = field(init=False)

    def __post_init__(self):
        ordered = sorted(self.tiers.values(), key=lambda tier: tier.rank)
        object.__setattr__(self, "requirements", ordered)
        object.__setattr__(self, "by_rank", {tier.rank: pk for pk, tier in self.tiers.items()})
        object.__setattr__(self, "lowest", ordered[0])

    def reps_required(self, tier_id: int) -> int:
        return self.tiers[tier_id].certified_reps_required


def program_rules(snapshot: dict) -> ProgramRules:
    """The ``ProgramRules`` of a version's ``rules`` snapshot
    (``partners.version_rules.rules_snapshot``)."""
    scoring, movement = snapshot["scoring"], snapshot["tier_rules"]
    tiers = {
        int(pk): TierRequirement(
            slug=tier["slug"],
            name=tier["name"],
            rank=tier["rank"],
            revenue_floor=Decimal(tier["revenue_floor"]),
            certified_reps_required=tier["certified_reps_required"],
            open_registrations_required=tier["open_registrations_required"],
            new_logos_required=tier["new_logos_required"],
            strategic_wins_required=tier["strategic_wins_required"],
        )
        for pk, tier in snapshot["tiers"].items()
    }
    return ProgramRules(
        weights=rules.ScoringWeights(
            **{
                name: value if isinstance(value, int) else Decimal(value)
                for name, value in scoring.items()
            }
        ),
        tier_rules=rules.TierRules(
            **{
                name: value if isinstance(value, int) else Decimal(value)
                for name, value in movement.items()
            }
        ),
        tiers=tiers,
        quotas={
            int(pk): Decimal(tier["default_annual_quota"]) for pk, tier in snapshot["tiers"].items()
        },
        brackets=tuple(
            (Decimal(start), Decimal(rate), bool(fast))
            for start, rate, fast in snapshot["rebate_brackets"]
        ),
        awards=incentive_rules.AwardTable(
            **{name: Decimal(value) for name, value in snapshot["awards"].items()}
        ),
    )


@dataclass(frozen=True)
class CloseInputs:
    """One partner's quarter as the close gathered it: what its scorecard, tier decision
    and money are decided from, whatever the rules."""

    quarter_revenue: Decimal
    annual_quota: Decimal | None  # the partner's own; None: its tier's default
    approved_registrations: int
    certified_reps: int
    csat_responses: int
    csat_total: int
    login_days: int
    trainings: int
    events: int
    facts: PartnerFacts
    previous_qualified_ranks: tuple[int, ...] = ()  # earlier closes, most recent first
    previous_meets_lowest: tuple[bool, ...] = ()
    previous_revenue: Decimal = _ZERO  # the quarter before's (awards: growth)
    quarter_new_logos: int = 0
    certifications: int = 0  # current certifications held
    contributions: int = 0  # approved community contributions in the quarter
    accepted_leads: int = 0  # accepted leads that count as pipeline (RULEBOOK §11)


@dataclass(frozen=True)
class PartnerDecision:
    inputs: rules.ScoreInputs
    card: rules.ScoreCard
    qualified: TierRequirement
    qualified_tier_id: int
    meets_lowest: bool
    decision: rules.TierDecision
    tier_after_id: int


def decide_partner(
    rules_: ProgramRules, tier_before_id: int, given: CloseInputs
) -> PartnerDecision:
    """Score one partner and decide its tier under ``rules_`` (RULEBOOK §2, §3)."""
    tier = rules_.tiers[tier_before_id]
    quota = given.annual_quota
    if quota is None:
        quota = rules_.quotas[tier_before_id]
    inputs = rules.ScoreInputs(
        quarter_revenue=given.quarter_revenue,
        quarterly_quota=quota / 4,
        approved_registrations=given.approved_registrations,
        accepted_leads=given.accepted_leads,
        certified_reps=given.certified_reps,
        reps_required=tier.certified_reps_required,
        csat_responses=given.csat_responses,
        csat_total=given.csat_total,
        login_days=given.login_days,
        trainings=given.trainings,
        events=given.events,
    )
    card = rules.score(inputs, rules_.weights)
    qualified = rules.qualified_tier(rules_.requirements, given.facts)
    meets_lowest = rules.qualifies(rules_.lowest, given.facts)
    decision = rules.decide_tier(
        rules.CloseFacts(
            current_rank=tier.rank,
            qualified_rank=qualified.rank,
            meets_lowest=meets_lowest,
            total=card.total,
            quarter_revenue=given.quarter_revenue,
            previous_qualified_ranks=given.previous_qualified_ranks,
            previous_meets_lowest=given.previous_meets_lowest,
        ),
        ranks=list(rules_.by_rank),
        rules=rules_.tier_rules,
    )
    return PartnerDecision(
        inputs=inputs,
        card=card,
        qualified=qualified,
        qualified_tier_id=rules_.by_rank[qualified.rank],
        meets_lowest=meets_lowest,
        decision=decision,
        tier_after_id=rules_.by_rank[decision.to_rank],
    )


def stored_inputs(decided: PartnerDecision, given: CloseInputs, *, pipeline_target: int) -> dict:
    """What a scorecard keeps of the figures it was decided from: shown with it, and enough
    to decide it again (``close_inputs``)."""
    inputs, facts = decided.inputs, given.facts
    responses = inputs.csat_responses
    return {
        "quarter_revenue": str(inputs.quarter_revenue),
        "quarterly_quota": str(inputs.quarterly_quota),
        "annual_quota": None if given.annual_quota is None else str(given.annual_quota),
        "approved_registrations": inputs.approved_registrations,
        "accepted_leads": inputs.accepted_leads,
        "pipeline_target": pipeline_target,
        "certified_reps": inputs.certified_reps,
        "reps_required": inputs.reps_required,
        "csat_responses": responses,
        "csat_total": inputs.csat_total,
        "csat_average": str(round(Decimal(inputs.csat_total) / responses, 2))
        if responses
        else None,
        "login_days": inputs.login_days,
        "trainings": inputs.trainings,
        "events": inputs.events,
        "trailing_revenue": str(facts.revenue),
        "open_registrations": facts.open_registrations,
        "new_logos": facts.new_logos,
        "strategic_wins": facts.strategic_wins,
        "previous_qualified_ranks": list(given.previous_qualified_ranks),
        "previous_meets_lowest": list(given.previous_meets_lowest),
        "previous_revenue": str(given.previous_revenue),
        "quarter_new_logos": given.quarter_new_logos,
        "certifications": given.certifications,
        "contributions": given.contributions,
    }


def close_inputs(stored: dict) -> CloseInputs:
    """The ``CloseInputs`` a scorecard stored (``stored_inputs``). A scorecard stored before
    the quota's source was kept counts its quota as the partner's own."""
    quota = stored.get("annual_quota", _MISSING)
    if quota is _MISSING:
        annual = Decimal(stored["quarterly_quota"]) * 4
    else:
        annual = None if quota is None else Decimal(quota)
    responses = stored.get("csat_responses") or 0
    total = stored.get("csat_total")
    if total is None:  # stored before the sum was kept: from the average, exact to cents
        average = stored.get("csat_average")
        total = int((Decimal(average) * responses).to_integral_value()) if average else 0
    return CloseInputs(
        quarter_revenue=Decimal(stored["quarter_revenue"]),
        annual_quota=annual,
        approved_registrations=stored["approved_registrations"],
        accepted_leads=stored.get("accepted_leads", 0),
        certified_reps=stored["certified_reps"],
        csat_responses=responses,
        csat_total=total,
        login_days=stored["login_days"],
        trainings=stored["trainings"],
        events=stored["events"],
        facts=PartnerFacts(
            revenue=Decimal(stored["trailing_revenue"]),
            certified_reps=stored["certified_reps"],
            open_registrations=stored.get("open_registrations", 0),
            new_logos=stored.get("new_logos", 0),
            strategic_wins=stored.get("strategic_wins", 0),
        ),
        previous_qualified_ranks=tuple(stored.get("previous_qualified_ranks", ())),
        previous_meets_lowest=tuple(stored.get("previous_meets_lowest", ())),
        previous_revenue=Decimal(stored.get("previous_revenue", "0")),
        quarter_new_logos=stored.get("quarter_new_logos", 0),
        certifications=stored.get("certifications", 0),
        contributions=stored.get("contributions", 0),
    )


_MISSING = object()


def quarter_stats(
    partner_id: int, given: CloseInputs, *, score: Decimal, reps_required: int
) -> incentive_rules.QuarterStats:
    """What the awards and the rebate read of one partner that stays after the close."""
    return incentive_rules.QuarterStats(
        partner_id=partner_id,
        score=score,
        revenue=given.quarter_revenue,
        prior_revenue=given.previous_revenue,
        new_logo_wins=given.quarter_new_logos,
        current_certifications=given.certifications,
        certifications_required=reps_required,
        approved_contributions=given.contributions,
    )


@dataclass(frozen=True)
class QuarterMoney:
    rebates: dict[int, Decimal]  # by partner id (those owed one)
    awards: list[incentive_rules.AwardProposal]


def quarter_money(stats: list[incentive_rules.QuarterStats], rules_: ProgramRules) -> QuarterMoney:
    """A program's volume rebates and award proposals for a quarter (RULEBOOK §6)."""
    rebates = {}
    for item in stats:
        rebate = incentive_rules.volume_rebate(item.revenue, list(rules_.brackets))
        if rebate.amount > 0:
            rebates[item.partner_id] = rebate.amount
    return QuarterMoney(rebates, incentive_rules.propose_awards(stats, rules_.awards))

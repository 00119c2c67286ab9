"""The rulebook's tier arithmetic as pure functions on plain values (RULEBOOK §1, §3)."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class TierRequirement:
    slug: str
    name: str
    rank: int
    revenue_floor: Decimal
    certified_reps_required: int
    open_registrations_required: int = 0
    new_logos_required: int = 0
    strategic_wins_required: int = 0


@dataclass(frozen=True)
class PartnerFacts:
    """What a partner has, as of one day."""

    revenue: Decimal  # trailing-12-month partner credit
    certified_reps: int
    open_registrations: int = 0
    new_logos: int = 0  # new-logo wins in the last 12 months
    strategic_wins: int = 0  # wins with a strategic product in the last 12 months


@dataclass(frozen=True)
class Gap:
    """One requirement of a tier: what the partner has against what it needs."""

    key: str
    label: str
    have: Decimal | int
    need: Decimal | int
    is_money: bool = False

    @property
    def met(self) -> bool:
        return self.have >= self.need

    @property
    def missing(self) -> Decimal | int:
        return max(self.need - self.have, 0)

    @property
    def percent(self) -> int:
        """Progress towards ``need`` as a whole percent, 0–100."""
        if not self.need:
            return 100
        ratio = Decimal(self.have) * 100 / Decimal(self.need)
        return int(max(Decimal(0), min(Decimal(100), ratio)))


@dataclass(frozen=True)
class TierProgress:
    current: TierRequirement
    qualified: TierRequirement
    next: TierRequirement | None
    current_requirements: list[Gap]
    next_requirements: list[Gap]

    @property
    def meets_current(self) -> bool:
        return all(gap.met for gap in self.current_requirements)

    @property
    def ready_for_next(self) -> bool:
        return self.next is not None and all(gap.met for gap in self.next_requirements)


def requirements(tier: TierRequirement, facts: PartnerFacts) -> list[Gap]:
    """The requirements of ``tier`` that apply (a requirement of 0 is not shown)."""
    gaps = [
        Gap("revenue", "Trailing-12-month revenue", facts.revenue, tier.revenue_floor, True),
        Gap("certified_reps", "Certified reps", facts.certified_reps, tier.certified_reps_required),
        Gap(
            "open_registrations",
            "Open approved registrations",
            facts.open_registrations,
            tier.open_registrations_required,
        ),
        Gap("new_logos", "New logos won in 12 months", facts.new_logos, tier.new_logos_required),
        Gap(
            "strategic_wins",
            "Strategic account wins in 12 months",
            facts.strategic_wins,
            tier.strategic_wins_required,
        ),
    ]
    # Revenue and certified reps are always shown; the preset-002 extras only when required.
    return [gap for gap in gaps if gap.key in ("revenue", "certified_reps") or gap.need]


def qualifies(tier: TierRequirement, facts: PartnerFacts) -> bool:
    return all(gap.met for gap in requirements(tier, facts))


def qualified_tier(tiers: list[TierRequirement], facts: PartnerFacts) -> TierRequirement:
    """The highest tier whose every requirement is met; the lowest tier if none is."""
    ordered = sorted(tiers, key=lambda tier: tier.rank)
    best = ordered[0]
    for tier in ordered:
        if qualifies(tier, facts):
            best = tier
    return best


def tier_progress(
    tiers: list[TierRequirement], current_slug: str, facts: PartnerFacts
) -> TierProgress:
    ordered = sorted(tiers, key=lambda tier: tier.rank)
    current = next(tier for tier in ordered if tier.slug == current_slug)
    higher = [tier for tier in ordered if tier.rank > current.rank]
    following = higher[0] if higher else None
    return TierProgress(
        current=current,
        qualified=qualified_tier(ordered, facts),
        next=following,
        current_requirements=requirements(current, facts),
        next_requirements=requirements(following, facts) if following else [],
    )

"""The rulebook's tier arithmetic as pure functions on plain values (RULEBOOK §1, §3)."""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from django.utils.translation import gettext, gettext_noop, ngettext, ngettext_lazy, pgettext


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
        Gap(
            "revenue",
            gettext_noop("Trailing-12-month revenue"),
            facts.revenue,
            tier.revenue_floor,
            True,
        ),
        Gap(
            "certified_reps",
            gettext_noop("Certified reps"),
            facts.certified_reps,
            tier.certified_reps_required,
        ),
        Gap(
            "open_registrations",
            gettext_noop("Open approved registrations"),
            facts.open_registrations,
            tier.open_registrations_required,
        ),
        Gap(
            "new_logos",
            gettext_noop("New logos won in 12 months"),
            facts.new_logos,
            tier.new_logos_required,
        ),
        Gap(
            "strategic_wins",
            gettext_noop("Strategic account wins in 12 months"),
            facts.strategic_wins,
            tier.strategic_wins_required,
        ),
    ]
    # Revenue and certified reps are always shown; the preset-002 extras only when required.
    return [gap for gap in gaps if gap.key in ("revenue", "certified_reps") or gap.need]


def qualifies(tier: TierRequirement, facts: PartnerFacts) -> bool:
    """Every requirement of ``tier`` met: ``all(gap.met for gap in requirements(...))``,
    compared directly (the close asks it for every partner and tier)."""
    return (
        facts.revenue >= tier.revenue_floor
        and facts.certified_reps >= tier.certified_reps_required
        and (
            not tier.open_registrations_required
            or facts.open_registrations >= tier.open_registrations_required
        )
        and (not tier.new_logos_required or facts.new_logos >= tier.new_logos_required)
        and (
            not tier.strategic_wins_required or facts.strategic_wins >= tier.strategic_wins_required
        )
    )


def qualified_tier(tiers: list[TierRequirement], facts: PartnerFacts) -> TierRequirement:
    """The highest tier whose every requirement is met; the lowest tier if none is."""
    ordered = sorted(tiers, key=lambda tier: tier.rank)
    for tier in reversed(ordered):
        if qualifies(tier, facts):
            return tier
    return ordered[0]


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


# ---------------------------------------------------------------- quarterly scorecard (§2)

CENT = Decimal("0.01")
_ZERO = Decimal("0")
_ONE = Decimal("1")
_FIVE = Decimal(5)


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _share(have, target) -> Decimal:
    """min(1, have / target) as a Decimal; a target of 0 counts as met."""
    if not target:
        return _ONE
    return min(_ONE, Decimal(have) / Decimal(target))


@dataclass(frozen=True)
class ScoringWeights:
    """The program's points and targets (defaults: RULEBOOK §2)."""

    revenue_points: Decimal = Decimal("30")
    pipeline_points: Decimal = Decimal("20")
    pipeline_target: int = 5
    certification_points: Decimal = Decimal("15")
    satisfaction_points: Decimal = Decimal("20")
    login_days_points: Decimal = Decimal("5")
    login_days_target: int = 12
    training_points: Decimal = Decimal("5")
    training_target: int = 3
    events_points: Decimal = Decimal("5")
    events_target: int = 1
    band_maintain_from: Decimal = Decimal("40")
    band_grow_from: Decimal = Decimal("60")
    band_invest_from: Decimal = Decimal("80")


@dataclass(frozen=True)
class ScoreInputs:
    """One partner's quarter, as the scorecard needs it."""

    quarter_revenue: Decimal
    quarterly_quota: Decimal
    approved_registrations: int  # submitted in the quarter and approved (whatever now)
    certified_reps: int  # on the quarter's last day
    reps_required: int  # by the tier held on the quarter's last day
    csat_responses: int
    csat_total: int  # sum of the 1–5 answers
    login_days: int
    trainings: int
    events: int
    # Leads accepted in the quarter that count as pipeline too (RULEBOOK §11): not those
    # whose registration is among ``approved_registrations``.
    accepted_leads: int = 0

    @property
    def pipeline(self) -> int:
        """n of RULEBOOK §2's pipeline dimension."""
        return self.approved_registrations + self.accepted_leads


class Band:
    PROBATION = "probation"
    MAINTAIN = "maintain"
    GROW = "grow"
    INVEST = "invest"


@dataclass(frozen=True)
class ScoreCard:
    revenue: Decimal
    pipeline: Decimal
    certification: Decimal
    satisfaction: Decimal
    engagement: Decimal
    total: Decimal
    band: str
    csat_no_data: bool


def band_for(total: Decimal, weights: ScoringWeights) -> str:
    if total >= weights.band_invest_from:
        return Band.INVEST
    if total >= weights.band_grow_from:
        return Band.GROW
    if total >= weights.band_maintain_from:
        return Band.MAINTAIN
    return Band.PROBATION


def score(inputs: ScoreInputs, weights: ScoringWeights = ScoringWeights()) -> ScoreCard:
    """RULEBOOK §2: five dimensions, each rounded to cents; the total is their sum."""
    if inputs.quarterly_quota > 0:
        revenue = weights.revenue_points * _share(inputs.quarter_revenue, inputs.quarterly_quota)
    else:
        revenue = _ZERO  # quota 0 → 0 points
    revenue = _round(max(revenue, _ZERO))
    pipeline = _points(weights.pipeline_points, inputs.pipeline, weights.pipeline_target)
    certification = _points(
        weights.certification_points, inputs.certified_reps, inputs.reps_required
    )
    no_data = inputs.csat_responses == 0
    satisfaction = _satisfaction(
        weights.satisfaction_points, inputs.csat_total, inputs.csat_responses
    )
    engagement = _engagement(
        weights.login_days_points,
        weights.login_days_target,
        weights.training_points,
        weights.training_target,
        weights.events_points,
        weights.events_target,
        inputs.login_days,
        inputs.trainings,
        inputs.events,
    )
    total = sum((revenue, pipeline, certification, satisfaction, engagement), _ZERO)
    return ScoreCard(
        revenue,
        pipeline,
        certification,
        satisfaction,
        engagement,
        total=total,
        band=band_for(total, weights),
        csat_no_data=no_data,
    )


# The dimensions that depend on counts only: a close scores thousands of partners whose
# counts repeat, so their rounded points are computed once per distinct count.


@lru_cache(maxsize=4096)
def _points(points: Decimal, have: int, target: int) -> Decimal:
    return _round(points * _share(have, target))


@lru_cache(maxsize=4096)
def _satisfaction(points: Decimal, total: int, responses: int) -> Decimal:
    if responses == 0:
        return _round(_ZERO)
    return _round(points * Decimal(total) / Decimal(responses) / _FIVE)


@lru_cache(maxsize=4096)
def _engagement(
    login_points: Decimal,
    login_target: int,
    training_points: Decimal,
    training_target: int,
    events_points: Decimal,
    events_target: int,
    login_days: int,
    trainings: int,
    events: int,
) -> Decimal:
    return _round(
        login_points * _share(login_days, login_target)
        + training_points * _share(trainings, training_target)
        + events_points * _share(events, events_target)
    )


class CloseRefusal:
    """Why a quarter may not be closed (RULEBOOK §2); the API answers these codes."""

    NOT_ENDED = "quarter_not_ended"
    BEFORE_FIRST_PARTNER = "before_first_partner"


def close_refusal(
    *, quarter_end: date, today: date, first_partner_started: date | None
) -> str | None:
    """Why the quarter ending on ``quarter_end`` cannot be closed on ``today``, or None.

    A quarter can be closed once it has ended, and not if it ends before the program's
    first partner started: no partner could be scored for it. With no partner started
    yet there is no one to score either way, and nothing to refuse.
    """
    if quarter_end >= today:
        return CloseRefusal.NOT_ENDED
    if first_partner_started is not None and quarter_end < first_partner_started:
        return CloseRefusal.BEFORE_FIRST_PARTNER
    return None


# ---------------------------------------------------------------- tier decision (§3)


class Action:
    STAY = "stay"
    ADVANCE = "advance"
    FAST_TRACK = "fast_track"
    DEMOTE = "demote"
    EXIT = "exit"


@dataclass(frozen=True)
class TierRules:
    """The program's tier-movement numbers (defaults: RULEBOOK §3)."""

    advance_after_closes: int = 2
    demote_after_closes: int = 2
    exit_after_closes: int = 4
    fast_track_score: Decimal = Decimal("80")
    fast_track_quarter_revenue: Decimal = Decimal("2500000")


@dataclass(frozen=True)
class CloseFacts:
    """One partner at one close, with what the earlier closes found (most recent first)."""

    current_rank: int
    qualified_rank: int
    meets_lowest: bool  # meets the lowest tier's own requirements
    total: Decimal
    quarter_revenue: Decimal
    previous_qualified_ranks: tuple[int, ...] = ()
    previous_meets_lowest: tuple[bool, ...] = ()


@dataclass(frozen=True)
class TierDecision:
    action: str
    to_rank: int


def decide_tier(
    facts: CloseFacts, *, ranks: list[int], rules: TierRules = TierRules()
) -> TierDecision:
    """Advance, fast-track, demote, exit or stay (RULEBOOK §3), from this and earlier closes.

    - revenue in the quarter ≥ the fast-track amount → the top tier at once;
    - score ≥ the fast-track score and qualified above → up to the qualified tier now;
    - qualified above at this close and the previous ones (2 in all) → up to the lowest
      of those qualified tiers;
    - qualified below at this close and the previous ones → down to the highest of them;
    - at the lowest tier and below its requirements at 4 consecutive closes → exit.
    """
    top, lowest = max(ranks), min(ranks)
    current = facts.current_rank
    if facts.quarter_revenue >= rules.fast_track_quarter_revenue and current < top:
        return TierDecision(Action.FAST_TRACK, top)
    recent = (facts.qualified_rank, *facts.previous_qualified_ranks)
    if facts.qualified_rank > current:
        if facts.total >= rules.fast_track_score:
            return TierDecision(Action.FAST_TRACK, facts.qualified_rank)
        window = recent[: rules.advance_after_closes]
        if len(window) == rules.advance_after_closes and all(r > current for r in window):
            return TierDecision(Action.ADVANCE, min(window))
    if facts.qualified_rank < current:
        window = recent[: rules.demote_after_closes]
        if len(window) == rules.demote_after_closes and all(r < current for r in window):
            return TierDecision(Action.DEMOTE, max(window))
    if current == lowest and not facts.meets_lowest:
        streak = (facts.meets_lowest, *facts.previous_meets_lowest)[: rules.exit_after_closes]
        if len(streak) == rules.exit_after_closes and not any(streak):
            return TierDecision(Action.EXIT, current)
    return TierDecision(Action.STAY, current)


# ---------------------------------------------------------------- red flags (§8)


class Flag:
    NO_RECENT_DEAL = "no_recent_deal"
    CERT_LAPSED = "cert_lapsed"
    LOW_CSAT = "low_csat"
    DIRECT_COMPETITION = "direct_competition"


@dataclass(frozen=True)
class FlagThresholds:
    no_deal_days: int = 90
    low_csat_min_responses: int = 3
    low_csat_below: Decimal = Decimal("3.5")
    direct_competition_min_registrations: int = 5
    direct_competition_share: Decimal = Decimal("0.20")


@dataclass(frozen=True)
class FlagFacts:
    """One partner as of one day."""

    active_days: int  # days since the partnership started
    registrations_recent: int  # submitted in the last ``no_deal_days`` days
    certified_reps: int
    reps_required: int
    has_lapsed_certification: bool  # someone's certification expired with none current
    csat_responses_year: int  # in the last 365 days
    csat_total_year: int
    registrations_year: int  # submitted in the last 365 days
    direct_conflicts_year: int


def red_flags(facts: FlagFacts, limits: FlagThresholds = FlagThresholds()) -> set[str]:
    """The flags whose condition holds (RULEBOOK §8)."""
    flags = set()
    if facts.active_days >= limits.no_deal_days and facts.registrations_recent == 0:
        flags.add(Flag.NO_RECENT_DEAL)
    if facts.certified_reps < facts.reps_required and facts.has_lapsed_certification:
        flags.add(Flag.CERT_LAPSED)
    if facts.csat_responses_year >= limits.low_csat_min_responses and (
        Decimal(facts.csat_total_year) / Decimal(facts.csat_responses_year) < limits.low_csat_below
    ):
        flags.add(Flag.LOW_CSAT)
    if facts.registrations_year >= limits.direct_competition_min_registrations and (
        Decimal(facts.direct_conflicts_year) / Decimal(facts.registrations_year)
        > limits.direct_competition_share
    ):
        flags.add(Flag.DIRECT_COMPETITION)
    return flags


def how_to_raise(inputs: dict, weights: ScoringWeights = ScoringWeights()) -> dict[str, str]:
    """For each dimension short of its maximum, what the partner could do next quarter."""
    tips = {}
    revenue, quota = Decimal(inputs["quarter_revenue"]), Decimal(inputs["quarterly_quota"])
    if quota > 0 and revenue < quota:
        tips["revenue"] = gettext(
            "Close %(amount)s more in won deals to reach the quarterly quota."
        ) % {"amount": f"${quota - revenue:,.0f}"}
    elif quota == 0:
        tips["revenue"] = gettext(
            "Agree a quota with your channel manager: without one, revenue scores 0."
        )
    approved = inputs["approved_registrations"] + inputs.get("accepted_leads", 0)
    if approved < weights.pipeline_target:
        more = weights.pipeline_target - approved
        tips["pipeline"] = ngettext(
            "Register %(n)s more deal that gets approved, or accept a lead.",
            "Register %(n)s more deals that get approved, or accept leads.",
            more,
        ) % {"n": more}
    certified, required = inputs["certified_reps"], inputs["reps_required"]
    if required and certified < required:
        more = required - certified
        tips["certification"] = ngettext(
            "Certify %(n)s more rep.", "Certify %(n)s more reps.", more
        ) % {"n": more}
    if not inputs.get("csat_responses"):
        tips["satisfaction"] = gettext(
            "Ask customers of won deals for a satisfaction survey: none were recorded."
        )
    elif Decimal(inputs["csat_average"]) < 5:
        tips["satisfaction"] = gettext(
            "Average CSAT was %(average)s of 5; follow up with unhappy customers."
        ) % {"average": inputs["csat_average"]}
    engagement = []
    if inputs["login_days"] < weights.login_days_target:
        engagement.append(
            gettext("sign in on %(n)s more days")
            % {"n": weights.login_days_target - inputs["login_days"]}
        )
    if inputs["trainings"] < weights.training_target:
        engagement.append(
            gettext("complete %(n)s more training(s)")
            % {"n": weights.training_target - inputs["trainings"]}
        )
    if inputs["events"] < weights.events_target:
        engagement.append(
            gettext("attend %(n)s event(s)") % {"n": weights.events_target - inputs["events"]}
        )
    if engagement:
        tips["engagement"] = gettext("Next quarter, %(steps)s.") % {
            "steps": pgettext("list separator", ", ").join(engagement)
        }
    return tips


# ---------------------------------------------------------------- the scorecard explained (§2)


@dataclass(frozen=True)
class Phrase:
    """A sentence to be shown in the reader's language: an untranslated source and its
    values, already written as text. The source is marked with ``gettext_noop``, or is a
    plural made with ``ngettext_lazy(singular, plural, "n")``, whose form is chosen by the
    value ``n`` when it is rendered."""

    source: object
    params: dict

    def render(self) -> str:
        if isinstance(self.source, str):
            return gettext(self.source) % self.params
        return self.source % self.params


@dataclass(frozen=True)
class DimensionExplained:
    """One dimension of a scorecard: its points, its maximum and how they came about."""

    key: str
    points: Decimal
    max_points: Decimal
    lines: tuple[Phrase, ...]


DIMENSIONS = ("revenue", "pipeline", "certification", "satisfaction", "engagement")


def _number(value: Decimal | int) -> str:
    """A share or a count written for people: whole numbers bare, shares to 4 places."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return str(int(value))
    return str(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP).normalize())


def _points_text(value: Decimal) -> str:
    return str(_round(Decimal(value)))


def explain_scorecard(
    inputs: dict,
    points: dict,
    weights: ScoringWeights = ScoringWeights(),
    *,
    money=lambda amount: f"{Decimal(amount):,.2f}",
) -> list[DimensionExplained]:
    """RULEBOOK §2 in plain words, per dimension: the inputs a scorecard stored and the
    arithmetic that turned them into its points (``points``: each dimension's stored
    points, which the lines arrive at). ``money`` writes an amount (the caller knows the
    currency). Pure: the lines are phrases rendered later in the reader's language."""
    return [
        _revenue_explained(inputs, points["revenue"], weights, money),
        _pipeline_explained(inputs, points["pipeline"], weights),
        _certification_explained(inputs, points["certification"], weights),
        _satisfaction_explained(inputs, points["satisfaction"], weights),
        _engagement_explained(inputs, points["engagement"], weights),
    ]


def _revenue_explained(inputs, result, weights, money) -> DimensionExplained:
    maximum = weights.revenue_points
    revenue = Decimal(inputs.get("quarter_revenue") or 0)
    quota = Decimal(inputs.get("quarterly_quota") or 0)
    if quota <= 0:
        line = Phrase(
            gettext_noop(
                "%(revenue)s of revenue in the quarter, but no quarterly quota: revenue "
                "scores 0 of %(max)s."
            ),
            {"revenue": money(revenue), "max": _number(maximum)},
        )
    else:
        line = Phrase(
            gettext_noop(
                "%(revenue)s of a %(quota)s quarterly quota → %(max)s × %(share)s = "
                "%(points)s of %(max)s"
            ),
            {
                "revenue": money(revenue),
                "quota": money(quota),
                "max": _number(maximum),
                "share": _number(_share(max(revenue, _ZERO), quota)),
                "points": _points_text(result),
            },
        )
    lines = [line]
    if quota > 0 and revenue > quota:
        lines.append(Phrase(gettext_noop("Revenue above the quota counts as the quota."), {}))
    return DimensionExplained("revenue", Decimal(result), maximum, tuple(lines))


def _pipeline_explained(inputs, result, weights) -> DimensionExplained:
    maximum = weights.pipeline_points
    approved = int(inputs.get("approved_registrations") or 0)
    leads = int(inputs.get("accepted_leads") or 0)
    target = int(inputs.get("pipeline_target") or weights.pipeline_target)
    if leads:
        line = Phrase(
            gettext_noop(
                "Approved registrations %(approved)s + accepted leads %(leads)s = %(n)s of "
                "%(target)s → %(max)s × %(share)s = %(points)s of %(max)s"
            ),
            {
                "approved": approved,
                "leads": leads,
                "n": approved + leads,
                "target": target,
                "max": _number(maximum),
                "share": _number(_share(approved + leads, target)),
                "points": _points_text(result),
            },
        )
        return DimensionExplained("pipeline", Decimal(result), maximum, (line,))
    line = Phrase(
        ngettext_lazy(
            "%(n)s approved registration of %(target)s → %(max)s × %(share)s = "
            "%(points)s of %(max)s",
            "%(n)s approved registrations of %(target)s → %(max)s × %(share)s = "
            "%(points)s of %(max)s",
            "n",
        ),
        {
            "n": approved,
            "target": target,
            "max": _number(maximum),
            "share": _number(_share(approved, target)),
            "points": _points_text(result),
        },
    )
    return DimensionExplained("pipeline", Decimal(result), maximum, (line,))


def _certification_explained(inputs, result, weights) -> DimensionExplained:
    maximum = weights.certification_points
    certified = int(inputs.get("certified_reps") or 0)
    required = int(inputs.get("reps_required") or 0)
    if not required:
        line = Phrase(
            ngettext_lazy(
                "%(n)s certified rep; the tier requires none → %(points)s of %(max)s",
                "%(n)s certified reps; the tier requires none → %(points)s of %(max)s",
                "n",
            ),
            {"n": certified, "points": _points_text(result), "max": _number(maximum)},
        )
    else:
        line = Phrase(
            ngettext_lazy(
                "%(n)s certified rep of %(required)s required → %(max)s × %(share)s = "
                "%(points)s of %(max)s",
                "%(n)s certified reps of %(required)s required → %(max)s × %(share)s = "
                "%(points)s of %(max)s",
                "n",
            ),
            {
                "n": certified,
                "required": required,
                "max": _number(maximum),
                "share": _number(_share(certified, required)),
                "points": _points_text(result),
            },
        )
    return DimensionExplained("certification", Decimal(result), maximum, (line,))


def _satisfaction_explained(inputs, result, weights) -> DimensionExplained:
    maximum = weights.satisfaction_points
    responses = int(inputs.get("csat_responses") or 0)
    if not responses:
        line = Phrase(
            gettext_noop("No data: no survey response in the quarter → %(points)s of %(max)s"),
            {"points": _points_text(result), "max": _number(maximum)},
        )
    else:
        average = inputs.get("csat_average") or "0"
        line = Phrase(
            ngettext_lazy(
                "Average CSAT %(average)s of 5 over %(n)s response → %(max)s × "
                "%(average)s / 5 = %(points)s of %(max)s",
                "Average CSAT %(average)s of 5 over %(n)s responses → %(max)s × "
                "%(average)s / 5 = %(points)s of %(max)s",
                "n",
            ),
            {
                "average": average,
                "n": responses,
                "max": _number(maximum),
                "points": _points_text(result),
            },
        )
    return DimensionExplained("satisfaction", Decimal(result), maximum, (line,))


def _engagement_explained(inputs, result, weights) -> DimensionExplained:
    maximum = weights.login_days_points + weights.training_points + weights.events_points
    parts = (
        (
            gettext_noop("Portal login days: %(n)s of %(target)s → %(max)s × %(share)s = %(part)s"),
            int(inputs.get("login_days") or 0),
            weights.login_days_target,
            weights.login_days_points,
        ),
        (
            gettext_noop(
                "Trainings completed: %(n)s of %(target)s → %(max)s × %(share)s = %(part)s"
            ),
            int(inputs.get("trainings") or 0),
            weights.training_target,
            weights.training_points,
        ),
        (
            gettext_noop("Events attended: %(n)s of %(target)s → %(max)s × %(share)s = %(part)s"),
            int(inputs.get("events") or 0),
            weights.events_target,
            weights.events_points,
        ),
    )
    lines = [
        Phrase(
            source,
            {
                "n": have,
                "target": target,
                "max": _number(part_max),
                "share": _number(_share(have, target)),
                "part": _points_text(part_max * _share(have, target)),
            },
        )
        for source, have, target, part_max in parts
    ]
    lines.append(
        Phrase(
            gettext_noop("Together: %(points)s of %(max)s"),
            {"points": _points_text(result), "max": _number(maximum)},
        )
    )
    return DimensionExplained("engagement", Decimal(result), maximum, tuple(lines))


DIMENSION_LABELS = {
    "revenue": gettext_noop("Revenue"),
    "pipeline": gettext_noop("Pipeline"),
    "certification": gettext_noop("Certification"),
    "satisfaction": gettext_noop("Satisfaction"),
    "engagement": gettext_noop("Engagement"),
}


def explanation_shown(explained: list[DimensionExplained]) -> list[dict]:
    """The explanation in the active language, as the page and the API show it."""
    return [
        {
            "dimension": part.key,
            "label": gettext(DIMENSION_LABELS[part.key]),
            "points": str(_round(part.points)),
            "max_points": _number(part.max_points),
            "lines": [line.render() for line in part.lines],
        }
        for part in explained
    ]

"""RULEBOOK §5–§7 money rules as pure functions: plain values in, plain values out.

Amounts are ``Decimal``; each amount owed is rounded half-up to cents once, here, the
way it is stored. Percentage incentives apply to the deal's partner credit (RULEBOOK
§1); thresholds compare the deal's amount.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.utils.translation import gettext_noop

from prm.money import round_money

ZERO = Decimal("0")
ONE = Decimal("1")


@dataclass(frozen=True)
class Accrual:
    """``description`` in English; ``message`` and ``params``, its untranslated source
    and values, for the reader's language (``prm.deferred_text``)."""

    kind: str  # spiff / bonus / commission / rebate / award / mdf
    code: str
    amount: Decimal
    description: str
    message: str = ""
    params: dict = field(default_factory=dict)


def described(source: str, **values) -> dict:
    """A description as its English text, its source (marked with ``gettext_noop``) and
    its values, each value already written the same way in every language."""
    values = {name: str(value) for name, value in values.items()}
    return {"description": source % values, "message": source, "params": values}


# ---------------------------------------------------------------- per won deal (§5, §6)


@dataclass(frozen=True)
class DealIncentiveTable:
    spiff_new_logo: Decimal = Decimal("500")
    spiff_new_logo_days: int = 60
    spiff_strategic: Decimal = Decimal("750")
    spiff_first_deal: Decimal = Decimal("1000")
    spiff_large_deal_over: Decimal = Decimal("100000")
    spiff_large_deal_rate: Decimal = Decimal("0.02")
    bonus_cross_sell_rate: Decimal = Decimal("0.03")
    bonus_upsell_rate: Decimal = Decimal("0.02")
    bonus_multi_year_rate: Decimal = Decimal("0.01")


@dataclass(frozen=True)
class WonDeal:
    amount: Decimal  # the won amount
    partner_credit: Decimal  # what counts for the partner (§1)
    deal_type: str  # new_logo / upsell / cross_sell / renewal
    days_to_win: int  # from registration to the close date
    strategic: bool  # carries a strategic product line
    first_win: bool  # the partner's first ever won deal
    contract_years: int = 1
    commission: Decimal = ZERO  # referral commission from §5, already computed


def deal_incentives(deal: WonDeal, table: DealIncentiveTable) -> list[Accrual]:
    """Every SPIFF, strategic bonus and commission one won deal earns; they stack."""
    out: list[Accrual] = []
    if deal.deal_type == "new_logo" and 0 <= deal.days_to_win <= table.spiff_new_logo_days:
        out.append(
            Accrual(
                "spiff",
                "spiff_new_logo",
                round_money(table.spiff_new_logo),
                **described(
                    gettext_noop("New logo won within %(days)s days of registration"),
                    days=table.spiff_new_logo_days,
                ),
            )
        )
    if deal.strategic:
        out.append(
            Accrual(
                "spiff",
                "spiff_strategic",
                round_money(table.spiff_strategic),
                **described(gettext_noop("Strategic product line")),
            )
        )
    if deal.first_win:
        out.append(
            Accrual(
                "spiff",
                "spiff_first_deal",
                round_money(table.spiff_first_deal),
                **described(gettext_noop("The partner's first won deal")),
            )
        )
    if deal.amount > table.spiff_large_deal_over:
        out.append(
            Accrual(
                "spiff",
                "spiff_large_deal",
                round_money(deal.partner_credit * table.spiff_large_deal_rate),
                **described(
                    gettext_noop("Deal over %(threshold)s: %(rate)s of the amount"),
                    threshold=f"{table.spiff_large_deal_over:,.0f}",
                    rate=f"{table.spiff_large_deal_rate:.1%}",
                ),
            )
        )
    if deal.deal_type == "cross_sell":
        out.append(
            Accrual(
                "bonus",
                "bonus_cross_sell",
                round_money(deal.partner_credit * table.bonus_cross_sell_rate),
                **described(
                    gettext_noop("Cross-sell: %(rate)s of the amount"),
                    rate=f"{table.bonus_cross_sell_rate:.1%}",
                ),
            )
        )
    if deal.deal_type == "upsell":
        out.append(
            Accrual(
                "bonus",
                "bonus_upsell",
                round_money(deal.partner_credit * table.bonus_upsell_rate),
                **described(
                    gettext_noop("Upsell: %(rate)s of the amount"),
                    rate=f"{table.bonus_upsell_rate:.1%}",
                ),
            )
        )
    extra_years = max(deal.contract_years - 1, 0)
    if extra_years:
        out.append(
            Accrual(
                "bonus",
                "bonus_multi_year",
                round_money(deal.partner_credit * table.bonus_multi_year_rate * extra_years),
                **described(
                    gettext_noop("Multi-year: %(rate)s a year beyond the first × %(years)s"),
                    rate=f"{table.bonus_multi_year_rate:.1%}",
                    years=extra_years,
                ),
            )
        )
    if deal.commission > 0:
        out.append(
            Accrual(
                "commission",
                "commission",
                round_money(deal.commission),
                **described(gettext_noop("Referral commission")),
            )
        )
    return [accrual for accrual in out if accrual.amount > 0]


# ---------------------------------------------------------------- volume rebate (§6)


@dataclass(frozen=True)
class Rebate:
    rate: Decimal
    amount: Decimal
    fast_track: bool


def volume_rebate(revenue: Decimal, brackets: list[tuple[Decimal, Decimal, bool]]) -> Rebate:
    """The bracket reached by the quarter revenue pays its rate on the whole revenue.

    ``brackets`` are ``(revenue_from, rate, fast_track)``; below the lowest, nothing.
    """
    reached = None
    for revenue_from, rate, fast_track in sorted(brackets):
        if revenue >= revenue_from:
            reached = (rate, fast_track)
    if reached is None:
        return Rebate(ZERO, ZERO, False)
    rate, fast_track = reached
    return Rebate(rate, round_money(revenue * rate), fast_track)


def rebate_due_on(quarter_end: date, due_days: int) -> date:
    return quarter_end + timedelta(days=due_days)


# ---------------------------------------------------------------- awards (§6)


@dataclass(frozen=True)
class AwardTable:
    partner_of_quarter: Decimal = Decimal("5000")
    top_new_logo: Decimal = Decimal("3000")
    highest_growth: Decimal = Decimal("4000")
    growth_min_prior: Decimal = Decimal("10000")
    training_champion_per_cert: Decimal = Decimal("1000")
    community_mvp: Decimal = Decimal("500")


@dataclass(frozen=True)
class QuarterStats:
    partner_id: int
    score: Decimal | None
    revenue: Decimal
    prior_revenue: Decimal
    new_logo_wins: int
    current_certifications: int
    certifications_required: int
    approved_contributions: int


@dataclass(frozen=True)
class AwardProposal:
    """``why`` in English; ``message`` and ``params``, its source and values."""

    code: str
    partner_id: int
    amount: Decimal
    why: str
    message: str = ""
    params: dict = field(default_factory=dict)


def _why(source: str, **values) -> dict:
    described_ = described(source, **values)
    return {"why": described_["description"], "message": source, "params": described_["params"]}


AWARD_NAMES = {
    "award_partner_of_quarter": gettext_noop("Partner of the Quarter"),
    "award_top_new_logo": gettext_noop("Top New Logo Generator"),
    "award_highest_growth": gettext_noop("Highest Growth Partner"),
    "award_training_champion": gettext_noop("Training Champion"),
    "award_community_mvp": gettext_noop("Community MVP"),
}


def _best(candidates, measure):
    """The candidate with the highest measure; ties go to the higher quarter revenue, then
    to the partner that joined first (lower id), so a rerun always names the same one."""
    best = None
    for stats in candidates:
        key = (measure(stats), stats.revenue, -stats.partner_id)
        if best is None or key > best[0]:
            best = (key, stats)
    return best[1] if best else None


def propose_awards(stats: list[QuarterStats], table: AwardTable) -> list[AwardProposal]:
    """At most one proposal per award; a manager confirms each before it is owed."""
    proposals: list[AwardProposal] = []
    scored = [s for s in stats if s.score is not None]
    top = _best(scored, lambda s: s.score)
    if top is not None:
        proposals.append(
            AwardProposal(
                "award_partner_of_quarter",
                top.partner_id,
                round_money(table.partner_of_quarter),
                **_why(gettext_noop("Top score of the quarter: %(score)s"), score=top.score),
            )
        )
    logos = _best([s for s in stats if s.new_logo_wins > 0], lambda s: s.new_logo_wins)
    if logos is not None:
        proposals.append(
            AwardProposal(
                "award_top_new_logo",
                logos.partner_id,
                round_money(table.top_new_logo),
                **_why(gettext_noop("%(count)s new logos won"), count=logos.new_logo_wins),
            )
        )
    growing = [
        s
        for s in stats
        if s.prior_revenue >= table.growth_min_prior and s.revenue > s.prior_revenue
    ]
    growth = _best(growing, lambda s: (s.revenue - s.prior_revenue) / s.prior_revenue)
    if growth is not None:
        rate = (growth.revenue - growth.prior_revenue) / growth.prior_revenue
        proposals.append(
            AwardProposal(
                "award_highest_growth",
                growth.partner_id,
                round_money(table.highest_growth),
                **_why(
                    gettext_noop("Revenue up %(rate)s on the prior quarter"), rate=f"{rate:.1%}"
                ),
            )
        )
    beyond = [s for s in stats if s.current_certifications > s.certifications_required]
    champion = _best(beyond, lambda s: s.current_certifications)
    if champion is not None:
        extra = champion.current_certifications - champion.certifications_required
        proposals.append(
            AwardProposal(
                "award_training_champion",
                champion.partner_id,
                round_money(table.training_champion_per_cert * extra),
                **_why(
                    gettext_noop(
                        "%(count)s current certifications, %(extra)s beyond the tier's requirement"
                    ),
                    count=champion.current_certifications,
                    extra=extra,
                ),
            )
        )
    mvp = _best(
        [s for s in stats if s.approved_contributions > 0], lambda s: s.approved_contributions
    )
    if mvp is not None:
        proposals.append(
            AwardProposal(
                "award_community_mvp",
                mvp.partner_id,
                round_money(table.community_mvp),
                **_why(
                    gettext_noop("%(count)s approved community contributions"),
                    count=mvp.approved_contributions,
                ),
            )
        )
    return proposals


# ---------------------------------------------------------------- claims (§6)


def claim_deadline(event_on: date, window_days: int) -> date:
    """The last day a claim for an event of ``event_on`` may be submitted."""
    return event_on + timedelta(days=window_days)


def claim_is_late(today: date, claim_by: date | None) -> bool:
    return claim_by is not None and today > claim_by


# ---------------------------------------------------------------- MDF (§7)


def mdf_fund_size(
    *, rate: Decimal | None, fixed: Decimal | None, prior_revenue: Decimal
) -> Decimal:
    """The annual fund: a fixed amount, or the tier's share of the prior 4 quarters' revenue."""
    if fixed is not None:
        return round_money(fixed)
    if rate is not None:
        return round_money(max(prior_revenue, ZERO) * rate)
    return ZERO


def vendor_share(match_ratio: Decimal | None) -> Decimal:
    """Share of the cost the vendor pays: all of it, or r/(r+1) under an r:1 match."""
    if match_ratio is None:
        return ONE
    return match_ratio / (match_ratio + ONE)


def mdf_reservation(planned_cost: Decimal, share: Decimal) -> Decimal:
    """What approval of a request reserves: the vendor's share of the planned cost."""
    return round_money(planned_cost * share)


def mdf_reimbursement(
    *, reserved: Decimal, actual_cost: Decimal, share: Decimal, remaining: Decimal
) -> Decimal:
    """min(reserved amount, actual cost × vendor share, remaining fund), never below zero.

    ``remaining`` is what the fund still holds for this request: its amount minus what is
    reimbursed and what other requests hold.
    """
    return max(min(reserved, round_money(actual_cost * share), remaining), ZERO)


def mdf_claim_due_on(ends_on: date, window_days: int) -> date:
    return ends_on + timedelta(days=window_days)


def mdf_roi(*, pipeline: Decimal, revenue: Decimal, reimbursed: Decimal) -> Decimal | None:
    """The older single figure, (pipeline + revenue of deals sourced by MDF activities) ÷
    reimbursed; None if nothing was reimbursed yet. Kept only for the dashboard API's
    ``mdf_roi`` key: pages show ``mdf_return``'s two figures instead."""
    if reimbursed <= 0:
        return None
    return ((pipeline + revenue) / reimbursed).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class MdfReturn:
    """RULEBOOK §7: MDF return is two figures, each shown with its label."""

    pipeline: Decimal | None  # pipeline sourced ÷ MDF used (the seed's "MDF ROI")
    revenue: Decimal | None  # revenue won ÷ MDF used


def mdf_return(*, pipeline: Decimal, revenue: Decimal, used: Decimal) -> MdfReturn:
    """Pipeline sourced ÷ MDF used and revenue won ÷ MDF used, to one place; neither when no
    MDF is used yet. MDF used = reimbursed plus still reserved by approved activities: a
    deal may name its activity as soon as it is approved, so the activity's money counts
    from then too."""
    if used <= 0:
        return MdfReturn(pipeline=None, revenue=None)
    return MdfReturn(
        pipeline=(pipeline / used).quantize(Decimal("0.1")),
        revenue=(revenue / used).quantize(Decimal("0.1")),
    )

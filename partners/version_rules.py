"""A program version's rules as a plain snapshot (RULEBOOK §12): the numbers the quarter
close decides with, and the incentive amounts a won deal or a contribution earns, read
from a program, its tiers and its rebate brackets, written as JSON (decimals as
strings). Pure: objects with the fields in, a dict out; the data migration that makes
every program's first version uses it on its historical models.
"""

from decimal import Decimal

# The program's scorecard weights and targets (§2), and tier movement numbers (§3).
SCORING_FIELDS = (
    "revenue_points",
    "pipeline_points",
    "pipeline_target",
    "certification_points",
    "satisfaction_points",
    "login_days_points",
    "login_days_target",
    "training_points",
    "training_target",
    "events_points",
    "events_target",
    "band_maintain_from",
    "band_grow_from",
    "band_invest_from",
)
TIER_RULE_FIELDS = (
    "advance_after_closes",
    "demote_after_closes",
    "exit_after_closes",
    "fast_track_score",
    "fast_track_quarter_revenue",
)
# Each tier's requirements (§1, §3) and default annual quota.
TIER_FIELDS = (
    "revenue_floor",
    "certified_reps_required",
    "open_registrations_required",
    "new_logos_required",
    "strategic_wins_required",
    "default_annual_quota",
)
# The award amounts (§6), keyed as ``incentives.rules.AwardTable`` names them.
AWARD_FIELDS = {
    "partner_of_quarter": "award_partner_of_quarter",
    "top_new_logo": "award_top_new_logo",
    "highest_growth": "award_highest_growth",
    "growth_min_prior": "award_growth_min_prior",
    "training_champion_per_cert": "award_training_champion_per_cert",
    "community_mvp": "award_community_mvp",
}
# The amounts and rates a won deal earns (§6), and the contribution bonuses, named as on
# the program (and as ``incentives.rules.DealIncentiveTable`` names the deal ones).
INCENTIVE_FIELDS = (
    "spiff_new_logo",
    "spiff_new_logo_days",
    "spiff_strategic",
    "spiff_first_deal",
    "spiff_large_deal_over",
    "spiff_large_deal_rate",
    "bonus_cross_sell_rate",
    "bonus_upsell_rate",
    "bonus_multi_year_rate",
    "bonus_reference",
    "bonus_community",
)
# Those that are shares (at most 1).
INCENTIVE_RATES = tuple(name for name in INCENTIVE_FIELDS if name.endswith("_rate"))
# Which of those are whole numbers (the rest are decimals).
WHOLE = {
    "pipeline_target",
    "login_days_target",
    "training_target",
    "events_target",
    "advance_after_closes",
    "demote_after_closes",
    "exit_after_closes",
    "certified_reps_required",
    "open_registrations_required",
    "new_logos_required",
    "strategic_wins_required",
    "spiff_new_logo_days",
}


def _plain(name: str, value):
    return int(value) if name in WHOLE else str(Decimal(value))


def rules_snapshot(program, tiers, brackets) -> dict:
    """The rules of ``program`` with its ``tiers`` and rebate ``brackets`` (model rows or
    anything with their fields), as JSON values. Tiers are keyed by their id (as text)."""
    return {
        "scoring": {name: _plain(name, getattr(program, name)) for name in SCORING_FIELDS},
        "tier_rules": {name: _plain(name, getattr(program, name)) for name in TIER_RULE_FIELDS},
        "tiers": {
            str(tier.pk): {
                "slug": tier.slug,
                "name": tier.name,
                "rank": tier.rank,
                **{name: _plain(name, getattr(tier, name)) for name in TIER_FIELDS},
            }
            for tier in sorted(tiers, key=lambda tier: tier.rank)
        },
        "rebate_brackets": [
            [str(Decimal(b.revenue_from)), str(Decimal(b.rate)), bool(b.fast_track)]
            for b in sorted(brackets, key=lambda b: b.revenue_from)
        ],
        "awards": {key: _plain(key, getattr(program, name)) for key, name in AWARD_FIELDS.items()},
        "incentives": {name: _plain(name, getattr(program, name)) for name in INCENTIVE_FIELDS},
    }


def _normal(value):
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(item) for item in value]
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


def rules_equal(one: dict, other: dict) -> bool:
    """Whether two snapshots say the same (``"50000"`` and ``"50000.00"`` do)."""
    return _normal(one) == _normal(other)

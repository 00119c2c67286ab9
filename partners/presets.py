"""The program presets of RULEBOOK §1 as plain data.

``seed001`` is the default program; ``seed002`` is the second framework of the source
documents, loadable with ``manage.py load_program seed002``. Keys are field names of
``Program`` and ``Tier``; anything not named keeps the model default (the rulebook value).
"""

from decimal import Decimal as D

from django.utils.translation import gettext_noop


def _lines(*lines: str) -> str:
    """A tier's benefits, one a line; each line is marked for translation, and shown in
    the reader's language (``Tier.benefit_lines``)."""
    return "\n".join(lines)


# RULEBOOK §6: quarter revenue from which a bracket's rate applies to the whole revenue.
REBATE_BRACKETS = [
    {"revenue_from": D("100000"), "rate": D("0.02")},
    {"revenue_from": D("250000"), "rate": D("0.035")},
    {"revenue_from": D("500000"), "rate": D("0.05")},
    {"revenue_from": D("1000000"), "rate": D("0.065")},
    {"revenue_from": D("2500000"), "rate": D("0.08"), "fast_track": True},
]

PRESETS: dict[str, dict] = {
    "seed001": {
        "program": {
            "name": "Partner Program",
            "slug": "default",
            "description": "Four tiers by trailing-12-month revenue and certified reps; MDF as "
            "a share of prior-year revenue.",
        },
        "rebate_brackets": REBATE_BRACKETS,
        "tiers": [
            {
                "slug": "registered",
                "name": "Registered",
                "rank": 0,
                "lead_capacity": 5,
                "revenue_floor": D("0"),
                "certified_reps_required": 0,
                "margin": D("0.15"),
                "referral_commission_rate": D("0.10"),
                "default_annual_quota": D("50000"),
                "support_level": gettext_noop("Portal only"),
                "review_cadence": "none",
                "benefits": _lines(
                    gettext_noop("Deal registration with 90-day protection"),
                    # xgettext:no-python-format
                    gettext_noop("15% reseller margin"),
                    # xgettext:no-python-format
                    gettext_noop("10% referral commission"),
                    gettext_noop("Portal, training and sales collateral"),
                ),
            },
            {
                "slug": "silver",
                "name": "Silver",
                "rank": 1,
                "lead_capacity": 10,
                "revenue_floor": D("50000"),
                "certified_reps_required": 1,
                "margin": D("0.20"),
                "referral_commission_rate": D("0.125"),
                "mdf_rate": D("0.02"),
                "default_annual_quota": D("200000"),
                "support_level": gettext_noop("Dedicated customer success manager"),
                "review_cadence": "quarterly",
                "benefits": _lines(
                    # xgettext:no-python-format
                    gettext_noop("20% reseller margin"),
                    # xgettext:no-python-format
                    gettext_noop("12.5% referral commission"),
                    # xgettext:no-python-format
                    gettext_noop("MDF: 2% of prior-year revenue"),
                    gettext_noop("Dedicated customer success manager"),
                    gettext_noop("Quarterly business review"),
                ),
            },
            {
                "slug": "gold",
                "name": "Gold",
                "rank": 2,
                "lead_capacity": 20,
                "revenue_floor": D("200000"),
                "certified_reps_required": 2,
                "margin": D("0.25"),
                "referral_commission_rate": D("0.15"),
                "mdf_rate": D("0.04"),
                "default_annual_quota": D("500000"),
                "support_level": gettext_noop("Priority support queue"),
                "review_cadence": "quarterly",
                "benefits": _lines(
                    # xgettext:no-python-format
                    gettext_noop("25% reseller margin"),
                    # xgettext:no-python-format
                    gettext_noop("15% referral commission"),
                    # xgettext:no-python-format
                    gettext_noop("MDF: 4% of prior-year revenue"),
                    gettext_noop("Priority support queue"),
                    gettext_noop("Quarterly business review"),
                ),
            },
            {
                "slug": "platinum",
                "name": "Platinum",
                "rank": 3,
                "lead_capacity": 40,
                "revenue_floor": D("500000"),
                "certified_reps_required": 3,
                "margin": D("0.30"),
                "referral_commission_rate": D("0.20"),
                "mdf_rate": D("0.06"),
                "default_annual_quota": D("1000000"),
                "support_level": gettext_noop("Named executive sponsor"),
                "review_cadence": "quarterly",
                "benefits": _lines(
                    # xgettext:no-python-format
                    gettext_noop("30% reseller margin"),
                    # xgettext:no-python-format
                    gettext_noop("20% referral commission"),
                    # xgettext:no-python-format
                    gettext_noop("MDF: 6% of prior-year revenue"),
                    gettext_noop("Named executive sponsor"),
                    gettext_noop("Quarterly business review and joint business plan"),
                ),
            },
        ],
    },
    "seed002": {
        "program": {
            "name": "Partner Program 002",
            "slug": "seed002",
            "description": "Fixed MDF funds with a vendor match; extra requirements per tier; "
            "90 days at Registered to advance or exit.",
            "entry_tier_max_days": 90,
        },
        "rebate_brackets": REBATE_BRACKETS,
        "tiers": [
            {
                "slug": "registered",
                "name": "Registered",
                "rank": 0,
                "lead_capacity": 5,
                "revenue_floor": D("0"),
                "certified_reps_required": 0,
                "margin": D("0.15"),
                "referral_commission_rate": D("0.10"),
                "default_annual_quota": D("0"),
                "support_level": gettext_noop("Self-service portal, community forums"),
                "review_cadence": "none",
                "benefits": _lines(
                    gettext_noop("Deal registration"),
                    gettext_noop("Basic marketing collateral"),
                    gettext_noop(
                        "Signed agreement and basic training required; 90 days to advance"
                    ),
                ),
            },
            {
                "slug": "silver",
                "name": "Silver",
                "rank": 1,
                "lead_capacity": 10,
                "revenue_floor": D("100000"),
                "certified_reps_required": 2,
                "open_registrations_required": 1,
                "margin": D("0.20"),
                "referral_commission_rate": D("0.125"),
                "mdf_fund": D("5000"),
                "mdf_match_ratio": D("1"),
                "default_annual_quota": D("250000"),
                "support_level": gettext_noop("Dedicated partner manager"),
                "review_cadence": "quarterly",
                "benefits": _lines(
                    gettext_noop("Standard margin"),
                    gettext_noop("MDF: $5,000 a year, matched 1:1"),
                    gettext_noop("Sales training"),
                ),
            },
            {
                "slug": "gold",
                "name": "Gold",
                "rank": 2,
                "lead_capacity": 20,
                "revenue_floor": D("500000"),
                "certified_reps_required": 5,
                "new_logos_required": 3,
                "margin": D("0.25"),
                "referral_commission_rate": D("0.15"),
                "mdf_fund": D("20000"),
                "mdf_match_ratio": D("1"),
                "default_annual_quota": D("1000000"),
                "support_level": gettext_noop("Named partner manager, co-sell support"),
                "review_cadence": "monthly",
                "benefits": _lines(
                    # xgettext:no-python-format
                    gettext_noop("Enhanced margin (+5%)"),
                    gettext_noop("MDF: $20,000 a year, matched 1:1"),
                    gettext_noop("Co-marketing"),
                    gettext_noop("Preview access"),
                ),
            },
            {
                "slug": "platinum",
                "name": "Platinum",
                "rank": 3,
                "lead_capacity": 40,
                "revenue_floor": D("2000000"),
                "certified_reps_required": 10,
                "strategic_wins_required": 1,
                "margin": D("0.28"),
                "referral_commission_rate": D("0.20"),
                "mdf_fund": D("50000"),
                "mdf_match_ratio": D("2"),
                "default_annual_quota": D("5000000"),
                "support_level": gettext_noop("Executive relationship, dedicated TAM"),
                "review_cadence": "weekly",
                "benefits": _lines(
                    # xgettext:no-python-format
                    gettext_noop("Maximum margin (+8%)"),
                    gettext_noop("MDF: $50,000 a year, matched 2:1"),
                    gettext_noop("Dedicated TAM and executive sponsor"),
                    gettext_noop("Joint business planning, co-sell embed"),
                ),
            },
        ],
    },
}

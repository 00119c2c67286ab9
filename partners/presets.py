"""The program presets of RULEBOOK §1 as plain data.

``seed001`` is the default program; ``seed002`` is the second framework of the source
documents, loadable with ``manage.py load_program seed002``. Keys are field names of
``Program`` and ``Tier``; anything not named keeps the model default (the rulebook value).
"""

from decimal import Decimal as D

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
                "support_level": "Portal only",
                "review_cadence": "none",
                "benefits": "Deal registration with 90-day protection\n15% reseller margin\n"
                "10% referral commission\nPortal, training and sales collateral",
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
                "support_level": "Dedicated customer success manager",
                "review_cadence": "quarterly",
                "benefits": "20% reseller margin\n12.5% referral commission\n"
                "MDF: 2% of prior-year revenue\nDedicated customer success manager\n"
                "Quarterly business review",
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
                "support_level": "Priority support queue",
                "review_cadence": "quarterly",
                "benefits": "25% reseller margin\n15% referral commission\n"
                "MDF: 4% of prior-year revenue\nPriority support queue\n"
                "Quarterly business review",
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
                "support_level": "Named executive sponsor",
                "review_cadence": "quarterly",
                "benefits": "30% reseller margin\n20% referral commission\n"
                "MDF: 6% of prior-year revenue\nNamed executive sponsor\n"
                "Quarterly business review and joint business plan",
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
                "support_level": "Self-service portal, community forums",
                "review_cadence": "none",
                "benefits": "Deal registration\nBasic marketing collateral\n"
                "Signed agreement and basic training required; 90 days to advance",
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
                "support_level": "Dedicated partner manager",
                "review_cadence": "quarterly",
                "benefits": "Standard margin\nMDF: $5,000 a year, matched 1:1\nSales training",
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
                "support_level": "Named partner manager, co-sell support",
                "review_cadence": "monthly",
                "benefits": "Enhanced margin (+5%)\nMDF: $20,000 a year, matched 1:1\n"
                "Co-marketing\nPreview access",
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
                "support_level": "Executive relationship, dedicated TAM",
                "review_cadence": "weekly",
                "benefits": "Maximum margin (+8%)\nMDF: $50,000 a year, matched 2:1\n"
                "Dedicated TAM and executive sponsor\nJoint business planning, co-sell embed",
            },
        ],
    },
}

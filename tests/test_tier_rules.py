"""Tier qualification arithmetic (RULEBOOK §1, §3), as specs of scoring.rules.

A tier qualifies when trailing-12-month revenue >= its floor and certified reps >= its
requirement, plus, in the "seed 002" preset, open registrations, new logos and strategic
wins. The qualified tier is the highest tier whose every requirement is met. Pure
functions on plain values: no database.
"""

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.rules import (
    Gap,
    PartnerFacts,
    TierRequirement,
    qualified_tier,
    qualifies,
    requirements,
    tier_progress,
)

PROPERTY = settings(max_examples=200, database=None, deadline=None)
CENT = Decimal("0.01")

# RULEBOOK §1, default program ("seed 001").
REGISTERED = TierRequirement("registered", "Registered", 0, Decimal("0"), 0)
SILVER = TierRequirement("silver", "Silver", 1, Decimal("50000"), 1)
GOLD = TierRequirement("gold", "Gold", 2, Decimal("200000"), 2)
PLATINUM = TierRequirement("platinum", "Platinum", 3, Decimal("500000"), 3)
DEFAULT_TIERS = [REGISTERED, SILVER, GOLD, PLATINUM]

# RULEBOOK §1, preset "seed 002": extra requirements per tier.
REGISTERED_002 = TierRequirement("registered", "Registered", 0, Decimal("0"), 0)
SILVER_002 = TierRequirement(
    "silver", "Silver", 1, Decimal("100000"), 2, open_registrations_required=1
)
GOLD_002 = TierRequirement("gold", "Gold", 2, Decimal("500000"), 5, new_logos_required=3)
PLATINUM_002 = TierRequirement(
    "platinum", "Platinum", 3, Decimal("2000000"), 10, strategic_wins_required=1
)
SEED_002_TIERS = [REGISTERED_002, SILVER_002, GOLD_002, PLATINUM_002]


def facts(revenue="0", reps=0, **extra) -> PartnerFacts:
    return PartnerFacts(revenue=Decimal(revenue), certified_reps=reps, **extra)


def keys(gaps: list[Gap]) -> list[str]:
    return [gap.key for gap in gaps]


# ------------------------------------------------------------------ requirements


def test_revenue_and_certified_reps_are_always_listed_even_when_zero():
    gaps = requirements(REGISTERED, facts())
    assert keys(gaps) == ["revenue", "certified_reps"]
    assert [(gap.have, gap.need) for gap in gaps] == [(Decimal("0"), Decimal("0")), (0, 0)]


def test_default_tiers_list_no_preset_002_extras():
    for tier in DEFAULT_TIERS:
        gaps = requirements(tier, facts("1000000", 9, open_registrations=4, new_logos=4))
        assert keys(gaps) == ["revenue", "certified_reps"]


@pytest.mark.parametrize(
    ("tier", "expected_keys"),
    [
        (REGISTERED_002, ["revenue", "certified_reps"]),
        (SILVER_002, ["revenue", "certified_reps", "open_registrations"]),
        (GOLD_002, ["revenue", "certified_reps", "new_logos"]),
        (PLATINUM_002, ["revenue", "certified_reps", "strategic_wins"]),
    ],
)
def test_preset_002_extras_are_listed_only_where_required(tier, expected_keys):
    assert keys(requirements(tier, facts())) == expected_keys


def test_requirements_pair_what_the_partner_has_with_what_the_tier_needs():
    partner = facts("75000.50", 1, open_registrations=3, new_logos=2, strategic_wins=1)
    gaps = {gap.key: gap for gap in requirements(PLATINUM_002, partner)}
    assert (gaps["revenue"].have, gaps["revenue"].need) == (
        Decimal("75000.50"),
        Decimal("2000000"),
    )
    assert (gaps["certified_reps"].have, gaps["certified_reps"].need) == (1, 10)
    assert (gaps["strategic_wins"].have, gaps["strategic_wins"].need) == (1, 1)


def test_only_revenue_is_money():
    gaps = requirements(SILVER_002, facts("1", 1, open_registrations=1))
    assert [(gap.key, gap.is_money) for gap in gaps] == [
        ("revenue", True),
        ("certified_reps", False),
        ("open_registrations", False),
    ]


def test_every_requirement_has_a_label_a_partner_can_read():
    tier = TierRequirement(
        "all",
        "All",
        9,
        Decimal("1"),
        1,
        open_registrations_required=1,
        new_logos_required=1,
        strategic_wins_required=1,
    )
    gaps = requirements(tier, facts())
    assert keys(gaps) == [
        "revenue",
        "certified_reps",
        "open_registrations",
        "new_logos",
        "strategic_wins",
    ]
    assert all(gap.label and gap.label[0].isupper() for gap in gaps)


# ------------------------------------------------------------------ qualifies


def test_registered_tier_qualifies_with_nothing():
    assert qualifies(REGISTERED, facts())
    assert qualifies(REGISTERED_002, facts())


@pytest.mark.parametrize("tier", [SILVER, GOLD, PLATINUM], ids=lambda tier: tier.slug)
def test_revenue_exactly_at_the_floor_with_required_reps_qualifies(tier):
    assert qualifies(tier, facts(tier.revenue_floor, tier.certified_reps_required))


@pytest.mark.parametrize("tier", [SILVER, GOLD, PLATINUM], ids=lambda tier: tier.slug)
def test_revenue_one_cent_below_the_floor_does_not_qualify(tier):
    partner = facts(tier.revenue_floor - CENT, tier.certified_reps_required + 10)
    assert not qualifies(tier, partner)


@pytest.mark.parametrize("tier", [SILVER, GOLD, PLATINUM], ids=lambda tier: tier.slug)
def test_one_certified_rep_short_does_not_qualify(tier):
    partner = facts(tier.revenue_floor * 10, tier.certified_reps_required - 1)
    assert not qualifies(tier, partner)


@pytest.mark.parametrize(
    ("tier", "revenue", "reps", "expected"),
    [
        (SILVER, "50000.00", 1, True),
        (SILVER, "49999.99", 1, False),
        (SILVER, "50000", 0, False),
        (SILVER, "1000000", 1, True),
        (GOLD, "200000", 2, True),
        (GOLD, "199999.99", 2, False),
        (GOLD, "200000", 1, False),
        (PLATINUM, "500000", 3, True),
        (PLATINUM, "499999.99", 3, False),
        (PLATINUM, "500000", 2, False),
        (PLATINUM, "500000.01", 4, True),
    ],
)
def test_qualifies_needs_both_revenue_floor_and_certified_reps(tier, revenue, reps, expected):
    assert qualifies(tier, facts(revenue, reps)) is expected


@pytest.mark.parametrize(
    ("tier", "extra", "met_at"),
    [
        (SILVER_002, "open_registrations", 1),
        (GOLD_002, "new_logos", 3),
        (PLATINUM_002, "strategic_wins", 1),
    ],
    ids=["silver-open-registrations", "gold-new-logos", "platinum-strategic-wins"],
)
def test_preset_002_extra_requirement_must_be_met_too(tier, extra, met_at):
    base = {"revenue": tier.revenue_floor, "reps": tier.certified_reps_required}
    assert qualifies(tier, facts(**base, **{extra: met_at}))
    assert not qualifies(tier, facts(**base, **{extra: met_at - 1}))


def test_preset_002_extras_do_not_replace_revenue_and_reps():
    assert not qualifies(SILVER_002, facts("99999.99", 2, open_registrations=5))
    assert not qualifies(SILVER_002, facts("100000", 1, open_registrations=5))
    assert not qualifies(GOLD_002, facts("500000", 4, new_logos=10))
    assert not qualifies(PLATINUM_002, facts("1999999.99", 10, strategic_wins=3))


def test_extras_the_tier_does_not_require_are_ignored():
    assert qualifies(GOLD_002, facts("500000", 5, new_logos=3, open_registrations=0))


# ------------------------------------------------------------------ qualified_tier


@pytest.mark.parametrize(
    ("revenue", "reps", "slug"),
    [
        ("0", 0, "registered"),
        ("49999.99", 5, "registered"),
        ("50000", 0, "registered"),
        ("50000", 1, "silver"),
        ("199999.99", 9, "silver"),
        ("200000", 1, "silver"),
        ("200000", 2, "gold"),
        ("499999.99", 3, "gold"),
        ("500000", 2, "gold"),
        ("500000", 3, "platinum"),
        ("10000000", 1, "silver"),
        ("10000000", 50, "platinum"),
    ],
)
def test_qualified_tier_is_the_highest_tier_fully_met(revenue, reps, slug):
    assert qualified_tier(DEFAULT_TIERS, facts(revenue, reps)).slug == slug


@pytest.mark.parametrize(
    ("partner", "slug"),
    [
        (facts("100000", 2), "registered"),
        (facts("100000", 2, open_registrations=1), "silver"),
        (facts("500000", 5, open_registrations=1, new_logos=2), "silver"),
        (facts("500000", 5, open_registrations=1, new_logos=3), "gold"),
        (facts("2000000", 10, open_registrations=1, new_logos=3), "gold"),
        (facts("2000000", 10, open_registrations=1, new_logos=3, strategic_wins=1), "platinum"),
    ],
)
def test_qualified_tier_in_preset_002(partner, slug):
    assert qualified_tier(SEED_002_TIERS, partner).slug == slug


def test_a_higher_tier_counts_even_if_a_lower_tier_extra_is_missing():
    # Gold of preset 002 does not ask for open registrations; silver does. The rule is
    # "the highest tier whose every requirement is met", not the first gap from below.
    partner = facts("600000", 6, open_registrations=0, new_logos=3)
    assert not qualifies(SILVER_002, partner)
    assert qualified_tier(SEED_002_TIERS, partner).slug == "gold"


def test_lowest_tier_by_rank_is_returned_when_no_tier_qualifies():
    partner = facts("10", 0)
    assert qualified_tier([GOLD, SILVER, PLATINUM], partner) == SILVER


@pytest.mark.parametrize(
    "order",
    [
        [PLATINUM, GOLD, SILVER, REGISTERED],
        [GOLD, REGISTERED, PLATINUM, SILVER],
        [SILVER, PLATINUM, REGISTERED, GOLD],
    ],
    ids=["reversed", "mixed-1", "mixed-2"],
)
@pytest.mark.parametrize(
    ("revenue", "reps", "slug"),
    [("0", 0, "registered"), ("60000", 1, "silver"), ("250000", 2, "gold"), ("9e6", 9, "platinum")],
)
def test_qualified_tier_ignores_the_input_order_of_ranks(order, revenue, reps, slug):
    assert qualified_tier(order, facts(revenue, reps)).slug == slug


def test_qualified_tier_does_not_reorder_the_callers_list():
    order = [PLATINUM, REGISTERED, GOLD, SILVER]
    qualified_tier(order, facts("250000", 2))
    assert order == [PLATINUM, REGISTERED, GOLD, SILVER]


def test_ranks_need_not_be_consecutive():
    tiers = [
        TierRequirement("entry", "Entry", 10, Decimal("0"), 0),
        TierRequirement("elite", "Elite", 100, Decimal("1000"), 0),
        TierRequirement("mid", "Mid", 50, Decimal("100"), 0),
    ]
    assert qualified_tier(tiers, facts("500")).slug == "mid"
    assert qualified_tier(tiers, facts("1000")).slug == "elite"


MONEY = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False)
COUNT = st.integers(min_value=0, max_value=20)
FACTS = st.builds(
    PartnerFacts,
    revenue=MONEY,
    certified_reps=COUNT,
    open_registrations=COUNT,
    new_logos=COUNT,
    strategic_wins=COUNT,
)


TIERS = st.builds(
    TierRequirement,
    slug=st.just("tier"),
    name=st.just("Tier"),
    rank=st.integers(min_value=0, max_value=5),
    revenue_floor=MONEY,
    certified_reps_required=COUNT,
    open_registrations_required=COUNT,
    new_logos_required=COUNT,
    strategic_wins_required=COUNT,
)


@PROPERTY
@given(TIERS, FACTS)
def test_qualifies_exactly_when_every_listed_requirement_is_met(tier, partner):
    assert qualifies(tier, partner) is all(gap.met for gap in requirements(tier, partner))


@PROPERTY
@given(st.permutations(SEED_002_TIERS), FACTS)
def test_qualified_tier_is_the_same_for_any_order_of_tiers(order, partner):
    assert qualified_tier(order, partner) == qualified_tier(SEED_002_TIERS, partner)


@PROPERTY
@given(FACTS)
def test_qualified_tier_qualifies_and_no_higher_tier_does(partner):
    for tiers in (DEFAULT_TIERS, SEED_002_TIERS):
        best = qualified_tier(tiers, partner)
        assert qualifies(best, partner)  # both lowest tiers ask for nothing
        assert not any(qualifies(t, partner) for t in tiers if t.rank > best.rank)


@PROPERTY
@given(FACTS, FACTS)
def test_more_revenue_and_reps_never_lower_the_default_tier(a, b):
    more = PartnerFacts(max(a.revenue, b.revenue), max(a.certified_reps, b.certified_reps))
    assert qualified_tier(DEFAULT_TIERS, more).rank >= qualified_tier(DEFAULT_TIERS, a).rank


# ------------------------------------------------------------------ tier_progress


def test_progress_shows_the_current_tier_and_the_next_one():
    partner = facts("120000", 1)
    progress = tier_progress(DEFAULT_TIERS, "silver", partner)
    assert progress.current == SILVER
    assert progress.next == GOLD
    assert progress.qualified == SILVER
    assert progress.current_requirements == requirements(SILVER, partner)
    assert progress.next_requirements == requirements(GOLD, partner)
    assert progress.meets_current
    assert not progress.ready_for_next


def test_progress_is_ready_for_next_when_every_next_requirement_is_met():
    progress = tier_progress(DEFAULT_TIERS, "silver", facts("200000", 2))
    assert progress.ready_for_next
    assert progress.qualified == GOLD


def test_progress_reports_a_partner_below_its_current_tier():
    progress = tier_progress(DEFAULT_TIERS, "gold", facts("150000", 3))
    assert not progress.meets_current
    assert progress.qualified == SILVER
    assert progress.next == PLATINUM


def test_top_tier_has_no_next_tier():
    progress = tier_progress(DEFAULT_TIERS, "platinum", facts("99000000", 99))
    assert progress.next is None
    assert progress.next_requirements == []
    assert not progress.ready_for_next
    assert progress.meets_current
    assert progress.qualified == PLATINUM


def test_progress_from_the_lowest_tier_points_at_the_first_real_tier():
    progress = tier_progress(DEFAULT_TIERS, "registered", facts())
    assert progress.current == REGISTERED
    assert progress.next == SILVER
    assert progress.meets_current
    assert [gap.met for gap in progress.next_requirements] == [False, False]


@pytest.mark.parametrize("seed", range(5))
def test_progress_finds_the_next_tier_by_rank_whatever_the_input_order(seed):
    order = DEFAULT_TIERS[:]
    random.Random(seed).shuffle(order)
    assert tier_progress(order, "registered", facts()).next == SILVER
    assert tier_progress(order, "silver", facts()).next == GOLD
    assert tier_progress(order, "gold", facts()).next == PLATINUM
    assert tier_progress(order, "platinum", facts()).next is None


def test_progress_with_preset_002_lists_the_next_tiers_extra_requirement():
    partner = facts("520000", 5, open_registrations=1, new_logos=2)
    progress = tier_progress(SEED_002_TIERS, "silver", partner)
    assert progress.next == GOLD_002
    gaps = {gap.key: gap for gap in progress.next_requirements}
    assert set(gaps) == {"revenue", "certified_reps", "new_logos"}
    assert gaps["new_logos"].missing == 1
    assert not progress.ready_for_next
    assert progress.qualified == SILVER_002


# ------------------------------------------------------------------ Gap


def money_gap(have, need) -> Gap:
    return Gap("revenue", "Trailing-12-month revenue", Decimal(have), Decimal(need), True)


def count_gap(have, need) -> Gap:
    return Gap("certified_reps", "Certified reps", have, need)


@pytest.mark.parametrize(
    ("gap", "percent"),
    [
        (money_gap("0", "50000"), 0),
        (money_gap("25000", "50000"), 50),
        (money_gap("49999.99", "50000"), 99),
        (money_gap("50000", "50000"), 100),
        (money_gap("75000", "50000"), 100),
        (money_gap("0.01", "50000"), 0),
        (count_gap(1, 3), 33),
        (count_gap(2, 3), 66),
        (count_gap(3, 3), 100),
        (count_gap(10, 3), 100),
    ],
)
def test_percent_is_whole_progress_truncated_and_capped_at_100(gap, percent):
    assert gap.percent == percent


@pytest.mark.parametrize(
    "gap",
    [money_gap("0", "0"), money_gap("1234.56", "0.00"), count_gap(0, 0), count_gap(4, 0)],
)
def test_zero_required_is_always_met_and_100_percent(gap):
    assert gap.met
    assert gap.missing == 0
    assert gap.percent == 100


def test_percent_is_not_rounded_up_to_100_before_the_requirement_is_met():
    gap = money_gap("499999.99", "500000")
    assert not gap.met
    assert gap.percent == 99


@pytest.mark.parametrize(
    ("gap", "missing"),
    [
        (money_gap("0", "50000"), Decimal("50000")),
        (money_gap("49999.99", "50000"), Decimal("0.01")),
        (money_gap("50000", "50000"), 0),
        (money_gap("80000", "50000"), 0),
        (count_gap(0, 3), 3),
        (count_gap(2, 3), 1),
        (count_gap(5, 3), 0),
    ],
)
def test_missing_is_what_is_left_to_reach_the_requirement_never_negative(gap, missing):
    assert gap.missing == missing


@pytest.mark.parametrize(
    ("gap", "met"),
    [
        (money_gap("50000", "50000"), True),
        (money_gap("49999.99", "50000"), False),
        (money_gap("50000.01", "50000"), True),
        (count_gap(2, 2), True),
        (count_gap(1, 2), False),
        (count_gap(3, 2), True),
    ],
)
def test_met_means_have_is_at_least_need(gap, met):
    assert gap.met is met


@PROPERTY
@given(MONEY, MONEY)
def test_money_gap_percent_missing_and_met_agree(have, need):
    gap = Gap("revenue", "Revenue", have, need, True)
    assert 0 <= gap.percent <= 100
    assert gap.missing >= 0
    assert gap.met == (gap.missing == 0)
    assert gap.met == (gap.percent == 100)
    if not gap.met:
        assert have + gap.missing == need


@PROPERTY
@given(COUNT, COUNT)
def test_count_gap_percent_missing_and_met_agree(have, need):
    gap = Gap("certified_reps", "Certified reps", have, need)
    assert 0 <= gap.percent <= 100
    assert gap.missing == max(need - have, 0)
    assert gap.met == (gap.missing == 0) == (gap.percent == 100)

"""Quarterly scorecard and tier decision (RULEBOOK §2, §3), as specs of scoring.rules.

Scorecard: revenue 30 × min(1, quarter revenue / quota), quota 0 → 0; pipeline
20 × min(1, n/5); certification 15 × min(1, certified/required), 0 required → 15;
satisfaction 20 × (average CSAT / 5), no responses → 0 and "no data"; engagement
5 × min(1, login days/12) + 5 × min(1, trainings/3) + 5 × min(1, events/1). Each dimension
is rounded to 2 places half-up; the total is the sum of the rounded dimensions. Bands:
< 40 probation, 40–59.99 maintain, 60–79.99 grow, ≥ 80 invest.

Tier decision: advance after 2 closes qualified above (to the lower of the two); fast-track
on score ≥ 80 and qualified above, or quarter revenue ≥ 2,500,000 (to the top at once);
demote after 2 closes qualified below (to the higher of the two); exit at the lowest tier
after 4 consecutive closes below its requirements. Pure functions: no database.
"""

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.rules import (
    Action,
    Band,
    CloseFacts,
    ScoreInputs,
    ScoringWeights,
    TierDecision,
    TierRules,
    band_for,
    decide_tier,
    how_to_raise,
    score,
)

PROPERTY = settings(max_examples=200, database=None, deadline=None)
D = Decimal
WEIGHTS = ScoringWeights()

# Nothing scored: every dimension 0 (quota 0, no CSAT, and a rep requirement not met).
ZERO = ScoreInputs(
    quarter_revenue=D("0"),
    quarterly_quota=D("0"),
    approved_registrations=0,
    certified_reps=0,
    reps_required=1,
    csat_responses=0,
    csat_total=0,
    login_days=0,
    trainings=0,
    events=0,
)


def inputs(**changes) -> ScoreInputs:
    return replace(ZERO, **changes)


# ---------------------------------------------------------------- revenue (max 30)


@pytest.mark.parametrize(
    ("revenue", "quota", "points"),
    [
        ("0", "100000", "0.00"),
        ("50000", "100000", "15.00"),
        ("100000", "100000", "30.00"),
        ("250000", "100000", "30.00"),  # capped at the maximum
        ("1", "3", "10.00"),
        ("2", "3", "20.00"),
        ("1", "7", "4.29"),  # 4.2857…
        ("15", "10000", "0.05"),  # 0.045 exactly: half-up (half-even would give 0.04)
        ("9997", "10000", "29.99"),  # 29.991
        ("99999.99", "100000", "30.00"),  # 29.999997
    ],
)
def test_revenue_points_are_30_times_the_capped_share_of_quota(revenue, quota, points):
    card = score(inputs(quarter_revenue=D(revenue), quarterly_quota=D(quota)))
    assert card.revenue == D(points)


@pytest.mark.parametrize("revenue", ["0", "1", "1000000"])
def test_quota_zero_gives_zero_revenue_points_even_with_revenue(revenue):
    card = score(inputs(quarter_revenue=D(revenue), quarterly_quota=D("0")))
    assert card.revenue == D("0.00")


# ---------------------------------------------------------------- pipeline (max 20)


@pytest.mark.parametrize(
    ("registrations", "points"),
    [
        (0, "0.00"),
        (1, "4.00"),
        (2, "8.00"),
        (4, "16.00"),
        (5, "20.00"),
        (6, "20.00"),
        (50, "20.00"),
    ],
)
def test_pipeline_points_are_20_times_the_capped_share_of_5_registrations(registrations, points):
    assert score(inputs(approved_registrations=registrations)).pipeline == D(points)


@pytest.mark.parametrize(
    ("registrations", "leads", "points"),
    [(0, 1, "4.00"), (2, 2, "16.00"), (3, 2, "20.00"), (0, 9, "20.00")],
)
def test_accepted_leads_add_to_the_pipeline_registrations(registrations, leads, points):
    card = score(inputs(approved_registrations=registrations, accepted_leads=leads))
    assert card.pipeline == D(points)


TIP_REST = {
    "certified_reps": 1,
    "reps_required": 1,
    "csat_responses": 2,
    "csat_average": "5.00",
    "login_days": 12,
    "trainings": 3,
    "events": 1,
}


def test_the_pipeline_tip_counts_accepted_leads():
    counted = {**FULL_REVENUE, "approved_registrations": 2, "accepted_leads": 3}
    assert "pipeline" not in how_to_raise({**counted, **TIP_REST})
    short = {**FULL_REVENUE, "approved_registrations": 2, "accepted_leads": 1}
    assert "2 more deals" in how_to_raise({**short, **TIP_REST})["pipeline"]


# ---------------------------------------------------------------- certification (max 15)


@pytest.mark.parametrize(
    ("certified", "required", "points"),
    [
        (0, 2, "0.00"),
        (1, 2, "7.50"),
        (2, 2, "15.00"),
        (5, 2, "15.00"),  # capped
        (1, 3, "5.00"),
        (2, 3, "10.00"),
        (3, 8, "5.63"),  # 5.625 exactly: half-up (half-even would give 5.62)
        (1, 8, "1.88"),  # 1.875
        (1, 7, "2.14"),  # 2.142857…
    ],
)
def test_certification_points_are_15_times_the_capped_share_of_required_reps(
    certified, required, points
):
    card = score(inputs(certified_reps=certified, reps_required=required))
    assert card.certification == D(points)


@pytest.mark.parametrize("certified", [0, 1, 4])
def test_zero_reps_required_gives_full_certification_points(certified):
    card = score(inputs(certified_reps=certified, reps_required=0))
    assert card.certification == D("15.00")


# ---------------------------------------------------------------- satisfaction (max 20)


@pytest.mark.parametrize(
    ("responses", "total", "points"),
    [
        (1, 5, "20.00"),
        (4, 20, "20.00"),
        (1, 1, "4.00"),
        (2, 7, "14.00"),  # average 3.5
        (3, 10, "13.33"),  # average 3.333…
        (3, 11, "14.67"),  # average 3.666… → 14.666…
        (3, 4, "5.33"),  # average 1.333…
        (32, 105, "13.13"),  # average 3.28125 → 13.125 exactly: half-up
    ],
)
def test_satisfaction_points_are_20_times_average_csat_over_5(responses, total, points):
    card = score(inputs(csat_responses=responses, csat_total=total))
    assert card.satisfaction == D(points)
    assert card.csat_no_data is False


def test_no_csat_responses_gives_zero_and_is_marked_no_data():
    card = score(inputs(csat_responses=0, csat_total=0))
    assert card.satisfaction == D("0.00")
    assert card.csat_no_data is True


def test_a_low_csat_is_still_data():
    card = score(inputs(csat_responses=1, csat_total=1))
    assert card.csat_no_data is False


# ---------------------------------------------------------------- engagement (max 15)


@pytest.mark.parametrize(
    ("login_days", "trainings", "events", "points"),
    [
        (0, 0, 0, "0.00"),
        (12, 0, 0, "5.00"),
        (30, 0, 0, "5.00"),  # capped
        (7, 0, 0, "2.92"),  # 2.9166…
        (6, 0, 0, "2.50"),
        (3, 0, 0, "1.25"),
        (1, 0, 0, "0.42"),  # 0.41666…
        (0, 1, 0, "1.67"),  # 1.666…
        (0, 2, 0, "3.33"),
        (0, 3, 0, "5.00"),
        (0, 9, 0, "5.00"),  # capped
        (0, 0, 1, "5.00"),
        (0, 0, 4, "5.00"),  # capped
        (12, 3, 1, "15.00"),
        (100, 100, 100, "15.00"),
        # The dimension is rounded once, not each part: 0.4166… + 1.666… = 2.0833… → 2.08
        # (rounding the parts first would give 0.42 + 1.67 = 2.09).
        (1, 1, 0, "2.08"),
        (5, 2, 0, "5.42"),  # 2.0833… + 3.333… = 5.4166…
        (7, 1, 1, "9.58"),  # 2.9166… + 1.666… + 5 = 9.5833…
    ],
)
def test_engagement_points(login_days, trainings, events, points):
    card = score(inputs(login_days=login_days, trainings=trainings, events=events))
    assert card.engagement == D(points)


# ---------------------------------------------------------------- total and band


def test_nothing_scored_is_zero_and_probation():
    card = score(ZERO)
    assert card.total == D("0.00")
    assert card.band == Band.PROBATION


def test_everything_at_the_maximum_is_100_and_invest():
    card = score(
        inputs(
            quarter_revenue=D("500000"),
            quarterly_quota=D("100000"),
            approved_registrations=9,
            certified_reps=3,
            reps_required=2,
            csat_responses=3,
            csat_total=15,
            login_days=40,
            trainings=5,
            events=2,
        )
    )
    assert (card.revenue, card.pipeline, card.certification) == (D("30"), D("20"), D("15"))
    assert (card.satisfaction, card.engagement) == (D("20"), D("15"))
    assert card.total == D("100.00")
    assert card.band == Band.INVEST


def test_total_is_the_sum_of_the_rounded_dimensions_not_the_rounded_sum():
    # revenue 1/7 of 30 = 4.2857… → 4.29; certification 1/7 of 15 = 2.1428… → 2.14;
    # satisfaction 4 × 3.333… → 13.33; engagement 1 login day = 0.4166… → 0.42.
    card = score(
        inputs(
            quarter_revenue=D("1"),
            quarterly_quota=D("7"),
            certified_reps=1,
            reps_required=7,
            csat_responses=3,
            csat_total=10,
            login_days=1,
        )
    )
    assert (card.revenue, card.certification, card.satisfaction, card.engagement) == (
        D("4.29"),
        D("2.14"),
        D("13.33"),
        D("0.42"),
    )
    assert card.total == D("20.18")


def test_total_can_differ_from_rounding_the_unrounded_sum():
    # revenue 0.045 → 0.05, engagement 1 training 1.666… → 1.67: total 0.05 + 1.67 = 1.72,
    # while rounding the unrounded sum 1.7116… would give 1.71.
    card = score(inputs(quarter_revenue=D("15"), quarterly_quota=D("10000"), trainings=1))
    assert card.revenue == D("0.05")
    assert card.engagement == D("1.67")
    assert card.total == D("1.72")


@pytest.mark.parametrize(
    ("total", "band"),
    [
        ("0", Band.PROBATION),
        ("0.00", Band.PROBATION),
        ("39.99", Band.PROBATION),
        ("40", Band.MAINTAIN),
        ("40.00", Band.MAINTAIN),
        ("59.99", Band.MAINTAIN),
        ("60.00", Band.GROW),
        ("79.99", Band.GROW),
        ("80.00", Band.INVEST),
        ("99.99", Band.INVEST),
        ("100.00", Band.INVEST),
    ],
)
def test_band_boundaries(total, band):
    assert band_for(D(total), WEIGHTS) == band


def test_band_uses_the_programs_thresholds():
    weights = ScoringWeights(
        band_maintain_from=D("30"), band_grow_from=D("50"), band_invest_from=D("70")
    )
    assert band_for(D("29.99"), weights) == Band.PROBATION
    assert band_for(D("30"), weights) == Band.MAINTAIN
    assert band_for(D("50"), weights) == Band.GROW
    assert band_for(D("70"), weights) == Band.INVEST


FULL_REVENUE = {"quarter_revenue": D("10000"), "quarterly_quota": D("10000")}
ALMOST_FULL_REVENUE = {"quarter_revenue": D("9997"), "quarterly_quota": D("10000")}  # 29.99


@pytest.mark.parametrize(
    ("changes", "total", "band"),
    [
        # 19.989 → 19.99 revenue + 20 pipeline
        (
            {
                "quarter_revenue": D("6663"),
                "quarterly_quota": D("10000"),
                "approved_registrations": 5,
            },
            "39.99",
            Band.PROBATION,
        ),
        # 20 revenue + 20 pipeline
        (
            {"quarter_revenue": D("2"), "quarterly_quota": D("3"), "approved_registrations": 5},
            "40.00",
            Band.MAINTAIN,
        ),
        # 29.99 + 20 + 5 (trainings) + 5 (events)
        (
            {**ALMOST_FULL_REVENUE, "approved_registrations": 5, "trainings": 3, "events": 1},
            "59.99",
            Band.MAINTAIN,
        ),
        # 30 + 20 + 5 + 5
        (
            {**FULL_REVENUE, "approved_registrations": 5, "trainings": 3, "events": 1},
            "60.00",
            Band.GROW,
        ),
        # 29.99 + 20 + 15 + 0 (no CSAT) + 15
        (
            {
                **ALMOST_FULL_REVENUE,
                "approved_registrations": 5,
                "reps_required": 0,
                "login_days": 12,
                "trainings": 3,
                "events": 1,
            },
            "79.99",
            Band.GROW,
        ),
        # 30 + 20 + 15 + 0 (no CSAT) + 15
        (
            {
                **FULL_REVENUE,
                "approved_registrations": 5,
                "reps_required": 0,
                "login_days": 12,
                "trainings": 3,
                "events": 1,
            },
            "80.00",
            Band.INVEST,
        ),
    ],
    ids=["39.99", "40.00", "59.99", "60.00", "79.99", "80.00"],
)
def test_full_scores_landing_on_band_boundaries(changes, total, band):
    card = score(inputs(**changes))
    assert card.total == D(total)
    assert card.band == band


def test_a_full_score_of_80_without_csat_is_invest_and_marked_no_data():
    card = score(
        inputs(
            **FULL_REVENUE,
            approved_registrations=5,
            reps_required=0,
            login_days=12,
            trainings=3,
            events=1,
        )
    )
    assert card.total == D("80.00")
    assert card.band == Band.INVEST
    assert card.csat_no_data is True


@st.composite
def valid_inputs(draw):
    responses = draw(st.integers(0, 60))
    csat_total = draw(st.integers(responses, 5 * responses))
    money = st.decimals(min_value=0, max_value=10_000_000, places=2)
    return ScoreInputs(
        quarter_revenue=draw(money),
        quarterly_quota=draw(st.one_of(st.just(D("0")), money)),
        approved_registrations=draw(st.integers(0, 40)),
        certified_reps=draw(st.integers(0, 30)),
        reps_required=draw(st.integers(0, 10)),
        csat_responses=responses,
        csat_total=csat_total,
        login_days=draw(st.integers(0, 92)),
        trainings=draw(st.integers(0, 20)),
        events=draw(st.integers(0, 10)),
    )


@PROPERTY
@given(valid_inputs())
def test_total_is_the_sum_of_five_rounded_dimensions_within_0_and_100(data):
    card = score(data)
    parts = (card.revenue, card.pipeline, card.certification, card.satisfaction, card.engagement)
    maxima = (D("30"), D("20"), D("15"), D("20"), D("15"))
    for part, maximum in zip(parts, maxima, strict=True):
        assert part == part.quantize(D("0.01"))
        assert D("0") <= part <= maximum
    assert card.total == sum(parts, D("0"))
    assert D("0") <= card.total <= D("100")
    assert card.band == band_for(card.total, WEIGHTS)
    assert card.csat_no_data is (data.csat_responses == 0)


def rulebook_score(data: ScoreInputs, weights: ScoringWeights) -> tuple:
    """RULEBOOK §2 written out plainly, without any of score()'s shortcuts."""

    def share(have, target):
        return D(1) if not target else min(D(1), D(have) / D(target))

    def cents(value):
        return value.quantize(D("0.01"), rounding="ROUND_HALF_UP")

    quota = data.quarterly_quota
    revenue = weights.revenue_points * share(data.quarter_revenue, quota) if quota > 0 else D(0)
    satisfaction = (
        weights.satisfaction_points * D(data.csat_total) / D(data.csat_responses) / D(5)
        if data.csat_responses
        else D(0)
    )
    engagement = (
        weights.login_days_points * share(data.login_days, weights.login_days_target)
        + weights.training_points * share(data.trainings, weights.training_target)
        + weights.events_points * share(data.events, weights.events_target)
    )
    return tuple(
        cents(value)
        for value in (
            max(revenue, D(0)),
            weights.pipeline_points * share(data.approved_registrations, weights.pipeline_target),
            weights.certification_points * share(data.certified_reps, data.reps_required),
            satisfaction,
            engagement,
        )
    )


OTHER_WEIGHTS = ScoringWeights(  # a program with other numbers
    revenue_points=D("25.00"),
    pipeline_points=D("25.00"),
    pipeline_target=3,
    login_days_points=D("4.00"),
    login_days_target=10,
    training_target=2,
)


@PROPERTY
@given(valid_inputs(), st.sampled_from([WEIGHTS, OTHER_WEIGHTS]))
def test_score_is_the_rulebook_formula_for_any_inputs_and_weights(data, weights):
    card = score(data, weights)
    parts = (card.revenue, card.pipeline, card.certification, card.satisfaction, card.engagement)
    assert parts == rulebook_score(data, weights)
    assert [str(part) for part in parts] == [str(part) for part in rulebook_score(data, weights)]


# ---------------------------------------------------------------- tier decision (§3)

# Default program ranks: registered 0, silver 1, gold 2, platinum 3.
RANKS = [0, 1, 2, 3]
LOW_SCORE = D("50")


def close(
    current,
    qualified,
    previous=(),
    *,
    total=LOW_SCORE,
    revenue="0",
    meets_lowest=True,
    previous_meets_lowest=(),
):
    return CloseFacts(
        current_rank=current,
        qualified_rank=qualified,
        meets_lowest=meets_lowest,
        total=D(total),
        quarter_revenue=D(revenue),
        previous_qualified_ranks=tuple(previous),
        previous_meets_lowest=tuple(previous_meets_lowest),
    )


def stay(rank):
    return TierDecision(Action.STAY, rank)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # Qualified above once, no history: needs 2 closes.
        (close(1, 2), stay(1)),
        (close(0, 3), stay(0)),
        # Qualified above now but not at the previous close.
        (close(1, 2, [1]), stay(1)),
        (close(1, 2, [0]), stay(1)),
        # Two closes above → the lower of the two qualified tiers.
        (close(1, 2, [2]), TierDecision(Action.ADVANCE, 2)),
        (close(1, 3, [2]), TierDecision(Action.ADVANCE, 2)),
        (close(1, 2, [3]), TierDecision(Action.ADVANCE, 2)),
        (close(0, 3, [3]), TierDecision(Action.ADVANCE, 3)),
        (close(0, 1, [3]), TierDecision(Action.ADVANCE, 1)),
        # Only this close and the previous one count; an older close is ignored.
        (close(1, 2, [2, 0]), TierDecision(Action.ADVANCE, 2)),
        (close(1, 2, [1, 3]), stay(1)),
    ],
)
def test_advance_after_two_closes_qualified_above(facts, expected):
    assert decide_tier(facts, ranks=RANKS) == expected


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (close(1, 2, total="80"), TierDecision(Action.FAST_TRACK, 2)),
        (close(1, 2, total="80.00"), TierDecision(Action.FAST_TRACK, 2)),
        (close(0, 3, total="95"), TierDecision(Action.FAST_TRACK, 3)),
        (close(1, 2, total="79.99"), stay(1)),
        # A high score without qualifying above moves nothing.
        (close(1, 1, total="100"), stay(1)),
        (close(3, 3, total="100"), stay(3)),
    ],
)
def test_fast_track_by_score_after_one_close(facts, expected):
    assert decide_tier(facts, ranks=RANKS) == expected


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (close(0, 0, revenue="2500000"), TierDecision(Action.FAST_TRACK, 3)),
        (close(1, 1, revenue="2500000.00"), TierDecision(Action.FAST_TRACK, 3)),
        (close(2, 2, revenue="9000000"), TierDecision(Action.FAST_TRACK, 3)),
        (close(1, 2, revenue="2500000"), TierDecision(Action.FAST_TRACK, 3)),
        (close(0, 0, revenue="2499999.99"), stay(0)),
        (close(1, 1, revenue="2499999.99"), stay(1)),
        # Already at the top: nothing to do.
        (close(3, 3, revenue="2500000"), stay(3)),
        (close(3, 3, revenue="50000000", total="100"), stay(3)),
    ],
)
def test_fast_track_to_the_top_by_quarter_revenue(facts, expected):
    assert decide_tier(facts, ranks=RANKS) == expected


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # One close below: stay.
        (close(2, 1), stay(2)),
        (close(3, 0), stay(3)),
        (close(2, 1, [2]), stay(2)),
        (close(2, 1, [3]), stay(2)),
        # Two closes below → the higher of the two qualified tiers.
        (close(2, 1, [1]), TierDecision(Action.DEMOTE, 1)),
        (close(3, 0, [1]), TierDecision(Action.DEMOTE, 1)),
        (close(3, 2, [0]), TierDecision(Action.DEMOTE, 2)),
        (close(3, 1, [1, 3]), TierDecision(Action.DEMOTE, 1)),
        (close(1, 0, [0], meets_lowest=False), TierDecision(Action.DEMOTE, 0)),
    ],
)
def test_demote_after_two_closes_qualified_below(facts, expected):
    assert decide_tier(facts, ranks=RANKS) == expected


@pytest.mark.parametrize(
    ("meets_now", "previous", "expected"),
    [
        (False, (), stay(0)),
        (False, (False,), stay(0)),
        (False, (False, False), stay(0)),  # 3 closes below
        (False, (False, False, False), TierDecision(Action.EXIT, 0)),  # 4 closes below
        (False, (False, False, False, False, False), TierDecision(Action.EXIT, 0)),
        (False, (False, False, True), stay(0)),  # not consecutive
        (False, (True, False, False, False), stay(0)),
        (True, (False, False, False), stay(0)),  # meets it now
        (True, (False, False, False, False), stay(0)),
    ],
)
def test_exit_at_the_lowest_tier_after_four_closes_below_its_requirements(
    meets_now, previous, expected
):
    facts = close(0, 0, [0] * len(previous), meets_lowest=meets_now, previous_meets_lowest=previous)
    assert decide_tier(facts, ranks=RANKS) == expected


@pytest.mark.parametrize("current", [1, 2, 3])
def test_never_exit_when_not_at_the_lowest_tier(current):
    facts = close(
        current,
        current,
        [current] * 5,
        meets_lowest=False,
        previous_meets_lowest=(False,) * 5,
    )
    assert decide_tier(facts, ranks=RANKS) == stay(current)


def test_below_the_lowest_tier_above_it_demotes_rather_than_exits():
    facts = close(1, 0, [0, 0, 0], meets_lowest=False, previous_meets_lowest=(False,) * 3)
    assert decide_tier(facts, ranks=RANKS) == TierDecision(Action.DEMOTE, 0)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (close(10, 30), stay(10)),
        (close(10, 30, [20]), TierDecision(Action.ADVANCE, 20)),
        (close(20, 20, revenue="2500000"), TierDecision(Action.FAST_TRACK, 40)),
        (
            close(10, 10, [10] * 3, meets_lowest=False, previous_meets_lowest=(False,) * 3),
            TierDecision(Action.EXIT, 10),
        ),
    ],
)
def test_lowest_and_top_come_from_the_ranks_given(facts, expected):
    assert decide_tier(facts, ranks=[40, 10, 30, 20]) == expected


# ---------------------------------------------------------------- custom TierRules


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (close(0, 2, [2]), stay(0)),
        (close(0, 2, [3, 2]), TierDecision(Action.ADVANCE, 2)),
        (close(0, 3, [2, 1]), TierDecision(Action.ADVANCE, 1)),
        (close(0, 3, [3, 0]), stay(0)),
    ],
)
def test_custom_advance_after_three_closes(facts, expected):
    rules = TierRules(advance_after_closes=3)
    assert decide_tier(facts, ranks=RANKS, rules=rules) == expected


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (close(2, 1), TierDecision(Action.DEMOTE, 1)),
        (close(2, 0, [1]), TierDecision(Action.DEMOTE, 0)),
        (close(2, 2), stay(2)),
    ],
)
def test_custom_demote_after_one_close(facts, expected):
    rules = TierRules(demote_after_closes=1)
    assert decide_tier(facts, ranks=RANKS, rules=rules) == expected


def test_custom_exit_after_two_closes():
    rules = TierRules(exit_after_closes=2)
    once = close(0, 0, meets_lowest=False)
    twice = close(0, 0, [0], meets_lowest=False, previous_meets_lowest=(False,))
    assert decide_tier(once, ranks=RANKS, rules=rules) == stay(0)
    assert decide_tier(twice, ranks=RANKS, rules=rules) == TierDecision(Action.EXIT, 0)


@pytest.mark.parametrize(
    ("total", "expected"),
    [("89.99", stay(1)), ("90", TierDecision(Action.FAST_TRACK, 2))],
)
def test_custom_fast_track_score(total, expected):
    rules = TierRules(fast_track_score=D("90"))
    assert decide_tier(close(1, 2, total=total), ranks=RANKS, rules=rules) == expected


@pytest.mark.parametrize(
    ("revenue", "expected"),
    [("999999.99", stay(1)), ("1000000", TierDecision(Action.FAST_TRACK, 3))],
)
def test_custom_fast_track_quarter_revenue(revenue, expected):
    rules = TierRules(fast_track_quarter_revenue=D("1000000"))
    assert decide_tier(close(1, 1, revenue=revenue), ranks=RANKS, rules=rules) == expected

"""RULEBOOK §5–§7 amounts as pure functions: every bracket edge and every stacking case."""

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incentives import rules
from partners.presets import REBATE_BRACKETS
from prm.business_days import BusinessCalendar

TABLE = rules.DealIncentiveTable()
BRACKETS = [(b["revenue_from"], b["rate"], b.get("fast_track", False)) for b in REBATE_BRACKETS]


def won(**overrides) -> rules.WonDeal:
    facts = {
        "amount": D("50000"),
        "partner_credit": D("50000"),
        "deal_type": "renewal",
        "days_to_win": 120,
        "strategic": False,
        "first_win": False,
        "contract_years": 1,
        "commission": D("0"),
    }
    facts.update(overrides)
    return rules.WonDeal(**facts)


def amounts(deal) -> dict[str, D]:
    return {a.code: a.amount for a in rules.deal_incentives(deal, TABLE)}


# ---------------------------------------------------------------- SPIFFs and bonuses


def test_the_rulebook_stacking_example():
    """A $150,000 new-logo first deal on a strategic product, won in 45 days."""
    deal = won(
        amount=D("150000"),
        partner_credit=D("150000"),
        deal_type="new_logo",
        days_to_win=45,
        strategic=True,
        first_win=True,
    )
    got = amounts(deal)
    assert got == {
        "spiff_new_logo": D("500.00"),
        "spiff_strategic": D("750.00"),
        "spiff_first_deal": D("1000.00"),
        "spiff_large_deal": D("3000.00"),
    }
    assert sum(got.values()) == D("5250.00")


@pytest.mark.parametrize(("days", "earns"), [(0, True), (59, True), (60, True), (61, False)])
def test_new_logo_spiff_within_60_days_of_registration(days, earns):
    assert ("spiff_new_logo" in amounts(won(deal_type="new_logo", days_to_win=days))) is earns


def test_a_new_logo_spiff_needs_a_new_logo_deal():
    assert "spiff_new_logo" not in amounts(won(deal_type="upsell", days_to_win=10))


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (D("99999.99"), None),
        (D("100000.00"), None),  # "amount > $100,000": the threshold itself earns nothing
        (D("100000.01"), D("2000.00")),
        (D("250000"), D("5000.00")),
    ],
)
def test_large_deal_spiff_above_100k(amount, expected):
    assert amounts(won(amount=amount, partner_credit=amount)).get("spiff_large_deal") == expected


def test_large_deal_spiff_is_two_percent_of_the_partner_credit():
    """Under a direct conflict the partner is credited 40%: the 2% applies to that."""
    got = amounts(won(amount=D("200000"), partner_credit=D("80000")))
    assert got["spiff_large_deal"] == D("1600.00")


def test_strategic_and_first_deal_spiffs():
    assert amounts(won(strategic=True))["spiff_strategic"] == D("750.00")
    assert amounts(won(first_win=True))["spiff_first_deal"] == D("1000.00")
    assert amounts(won()) == {}


@pytest.mark.parametrize(
    ("deal_type", "code", "expected"),
    [("cross_sell", "bonus_cross_sell", D("1500.00")), ("upsell", "bonus_upsell", D("1000.00"))],
)
def test_cross_sell_and_upsell_bonuses(deal_type, code, expected):
    assert amounts(won(deal_type=deal_type))[code] == expected


@pytest.mark.parametrize(
    ("years", "expected"), [(1, None), (2, D("500.00")), (3, D("1000.00")), (5, D("2000.00"))]
)
def test_multi_year_bonus_one_percent_per_year_beyond_the_first(years, expected):
    assert amounts(won(contract_years=years)).get("bonus_multi_year") == expected


def test_bonuses_stack_with_spiffs():
    got = amounts(
        won(
            amount=D("120000"),
            partner_credit=D("120000"),
            deal_type="cross_sell",
            contract_years=3,
            strategic=True,
        )
    )
    assert got == {
        "spiff_strategic": D("750.00"),
        "spiff_large_deal": D("2400.00"),
        "bonus_cross_sell": D("3600.00"),
        "bonus_multi_year": D("2400.00"),
    }


def test_referral_commission_is_accrued_as_commission():
    got = rules.deal_incentives(won(commission=D("6250.00")), TABLE)
    assert [(a.kind, a.amount) for a in got] == [("commission", D("6250.00"))]


def test_amounts_round_half_up_to_cents():
    got = amounts(won(amount=D("100000.25"), partner_credit=D("100000.25")))
    assert got["spiff_large_deal"] == D("2000.01")  # 2000.005 → 2000.01


def test_program_data_changes_the_amounts():
    table = rules.DealIncentiveTable(spiff_strategic=D("900"), spiff_new_logo_days=30)
    got = {a.code: a.amount for a in rules.deal_incentives(won(strategic=True), table)}
    assert got["spiff_strategic"] == D("900.00")
    late = won(deal_type="new_logo", days_to_win=31)
    assert "spiff_new_logo" not in {a.code for a in rules.deal_incentives(late, table)}


# ---------------------------------------------------------------- volume rebate


@pytest.mark.parametrize(
    ("revenue", "rate", "amount", "fast"),
    [
        (D("0"), D("0"), D("0"), False),
        (D("99999.99"), D("0"), D("0"), False),
        (D("100000"), D("0.02"), D("2000.00"), False),
        (D("249999.99"), D("0.02"), D("5000.00"), False),
        (D("250000"), D("0.035"), D("8750.00"), False),
        (D("499999.99"), D("0.035"), D("17500.00"), False),
        (D("500000"), D("0.05"), D("25000.00"), False),
        (D("999999.99"), D("0.05"), D("50000.00"), False),
        (D("1000000"), D("0.065"), D("65000.00"), False),
        (D("2499999.99"), D("0.065"), D("162500.00"), False),
        (D("2500000"), D("0.08"), D("200000.00"), True),
        (D("4000000"), D("0.08"), D("320000.00"), True),
    ],
)
def test_volume_rebate_at_every_bracket_edge(revenue, rate, amount, fast):
    rebate = rules.volume_rebate(revenue, BRACKETS)
    assert (rebate.rate, rebate.amount, rebate.fast_track) == (rate, amount, fast)


def test_rebate_whole_amount_at_the_reached_rate():
    """Not marginal: $300,000 earns 3.5% of all of it, not 2% of the first $250,000."""
    assert rules.volume_rebate(D("300000"), BRACKETS).amount == D("10500.00")


def test_rebate_due_30_days_after_the_quarter():
    assert rules.rebate_due_on(date(2026, 9, 30), 30) == date(2026, 10, 30)


# ---------------------------------------------------------------- awards


def stats(pid, **overrides) -> rules.QuarterStats:
    values = {
        "partner_id": pid,
        "score": D("50"),
        "revenue": D("0"),
        "prior_revenue": D("0"),
        "new_logo_wins": 0,
        "current_certifications": 0,
        "certifications_required": 1,
        "approved_contributions": 0,
    }
    values.update(overrides)
    return rules.QuarterStats(**values)


def proposals(items) -> dict[str, tuple[int, D]]:
    found = rules.propose_awards(items, rules.AwardTable())
    return {p.code: (p.partner_id, p.amount) for p in found}


def test_each_award_goes_to_its_leader():
    got = proposals(
        [
            stats(1, score=D("91.5"), revenue=D("50000"), prior_revenue=D("40000")),
            stats(2, score=D("70"), new_logo_wins=4, revenue=D("30000"), prior_revenue=D("10000")),
            stats(3, score=D("60"), current_certifications=5, certifications_required=2),
            stats(4, score=D("40"), approved_contributions=3),
        ]
    )
    assert got == {
        "award_partner_of_quarter": (1, D("5000.00")),
        "award_top_new_logo": (2, D("3000.00")),
        "award_highest_growth": (2, D("4000.00")),  # +200% against +25%
        "award_training_champion": (3, D("3000.00")),  # 3 beyond the requirement of 2
        "award_community_mvp": (4, D("500.00")),
    }


def test_highest_growth_needs_10k_prior_revenue():
    got = proposals(
        [
            stats(1, revenue=D("90000"), prior_revenue=D("9999.99")),  # +800%, too small
            stats(2, revenue=D("12000"), prior_revenue=D("10000")),  # +20%
        ]
    )
    assert got["award_highest_growth"][0] == 2
    assert "award_highest_growth" not in proposals([stats(1, revenue=D("5"), prior_revenue=D("0"))])


def test_no_growth_no_growth_award():
    assert "award_highest_growth" not in proposals(
        [stats(1, revenue=D("10000"), prior_revenue=D("20000"))]
    )


def test_training_champion_needs_certifications_beyond_the_requirement():
    assert "award_training_champion" not in proposals(
        [stats(1, current_certifications=3, certifications_required=3)]
    )


def test_ties_go_to_higher_revenue_then_the_earlier_partner():
    got = proposals(
        [
            stats(7, score=D("80"), revenue=D("100")),
            stats(5, score=D("80"), revenue=D("100")),
            stats(6, score=D("80"), revenue=D("50")),
        ]
    )
    assert got["award_partner_of_quarter"][0] == 5


def test_no_activity_no_awards_but_partner_of_the_quarter():
    assert set(proposals([stats(1), stats(2)])) == {"award_partner_of_quarter"}
    assert proposals([stats(1, score=None)]) == {}


# ---------------------------------------------------------------- claims


@pytest.mark.parametrize(
    ("today", "late"), [(date(2026, 10, 31), False), (date(2026, 11, 1), True)]
)
def test_claim_window_is_30_days_from_the_event(today, late):
    deadline = rules.claim_deadline(date(2026, 10, 1), 30)
    assert deadline == date(2026, 10, 31)
    assert rules.claim_is_late(today, deadline) is late


def test_business_days_skip_weekends_and_holidays():
    calendar = BusinessCalendar("US", [date(2026, 11, 27)])
    # Mon 23 Nov 2026 + 5: Tue, Wed, (Thu 26 Thanksgiving), (Fri 27 program), Mon, Tue, Wed.
    assert calendar.add(date(2026, 11, 23), 5) == date(2026, 12, 2)
    assert calendar.add(date(2026, 11, 20), 0) == date(2026, 11, 20)
    assert calendar.between(date(2026, 11, 23), date(2026, 12, 2)) == 5
    assert BusinessCalendar().add(date(2026, 11, 27), 1) == date(2026, 11, 30)


# ---------------------------------------------------------------- MDF


@pytest.mark.parametrize(
    ("rate", "fixed", "revenue", "expected"),
    [
        (D("0.02"), None, D("300000"), D("6000.00")),
        (D("0.04"), None, D("250000.55"), D("10000.02")),
        (D("0.06"), None, D("0"), D("0")),
        (None, D("20000"), D("999999"), D("20000.00")),
        (None, None, D("800000"), D("0")),
    ],
)
def test_mdf_fund_size(rate, fixed, revenue, expected):
    assert rules.mdf_fund_size(rate=rate, fixed=fixed, prior_revenue=revenue) == expected


@pytest.mark.parametrize(
    ("ratio", "share"), [(None, D("1")), (D("1"), D("0.5")), (D("2"), D("2") / D("3"))]
)
def test_vendor_share_of_a_match(ratio, share):
    assert rules.vendor_share(ratio) == share


def test_reimbursement_is_the_least_of_reserved_share_and_fund():
    half = rules.vendor_share(D("1"))
    assert rules.mdf_reimbursement(
        reserved=D("5000"), actual_cost=D("8000"), share=half, remaining=D("20000")
    ) == D("4000.00")
    assert rules.mdf_reimbursement(
        reserved=D("3000"), actual_cost=D("8000"), share=half, remaining=D("20000")
    ) == D("3000")
    assert rules.mdf_reimbursement(
        reserved=D("5000"), actual_cost=D("8000"), share=half, remaining=D("1200")
    ) == D("1200")
    two_to_one = rules.vendor_share(D("2"))
    assert rules.mdf_reservation(D("9000"), two_to_one) == D("6000.00")


money = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False)


@given(
    reserved=money,
    actual=money,
    remaining=st.decimals(min_value=-1000, max_value=10_000_000, places=2),
    ratio=st.one_of(st.none(), st.decimals(min_value=D("0.25"), max_value=5, places=2)),
)
def test_reimbursement_never_exceeds_reserved_share_or_fund(reserved, actual, remaining, ratio):
    share = rules.vendor_share(ratio)
    paid = rules.mdf_reimbursement(
        reserved=reserved, actual_cost=actual, share=share, remaining=remaining
    )
    assert paid >= 0
    assert paid <= reserved
    assert paid <= max(remaining, 0)
    assert paid <= rules.round_money(actual * share)


@given(revenue=money)
def test_rebate_never_exceeds_top_rate_and_grows_with_revenue(revenue):
    rebate = rules.volume_rebate(revenue, BRACKETS)
    assert D("0") <= rebate.amount <= rules.round_money(revenue * D("0.08"))
    more = rules.volume_rebate(revenue + D("1000"), BRACKETS)
    assert more.amount >= rebate.amount


def test_mdf_roi():
    assert rules.mdf_roi(pipeline=D("2000000"), revenue=D("800000"), reimbursed=D("156000")) == D(
        "17.9"
    )
    assert rules.mdf_roi(pipeline=D("5"), revenue=D("5"), reimbursed=D("0")) is None


def test_mdf_return_is_two_figures_over_mdf_used():
    # The seed's dashboard: $2.8M MDF-driven pipeline on $156,000 of MDF utilized, "18x".
    figures = rules.mdf_return(pipeline=D("2800000"), revenue=D("800000"), used=D("156000"))
    assert (figures.pipeline, figures.revenue) == (D("17.9"), D("5.1"))
    nothing_used = rules.mdf_return(pipeline=D("5"), revenue=D("5"), used=D("0"))
    assert (nothing_used.pipeline, nothing_used.revenue) == (None, None)

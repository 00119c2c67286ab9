"""The QBR's pure rules: cadence check-ins, meeting days, win rate, certification watch."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from scoring.qbr_rules import (
    HeldCertification,
    PlanFacts,
    certification_watch,
    check_ins,
    due_in_quarter,
    meeting_days,
    plan_progress,
    spread_meetings,
    win_rate,
)


@pytest.mark.parametrize(
    ("cadence", "quarters"),
    [
        ("none", []),
        ("annual", [1]),
        ("quarterly", [1, 2, 3, 4]),
        ("monthly", [1, 2, 3, 4]),
        ("weekly", [1, 2, 3, 4]),
    ],
)
def test_which_quarters_have_a_qbr(cadence, quarters):
    assert [n for n in (1, 2, 3, 4) if due_in_quarter(cadence, n)] == quarters


def test_monthly_check_ins_clamp_to_the_month_end():
    assert check_ins("monthly", date(2027, 1, 31), date(2027, 3, 31)) == [
        (date(2027, 2, 28), "Monthly review"),
        (date(2027, 3, 31), "Monthly review"),
    ]


def test_weekly_check_ins_with_a_monthly_executive_review():
    dates = check_ins("weekly", date(2026, 10, 1), date(2026, 11, 5))
    assert dates == [
        (date(2026, 10, 8), "Weekly check-in"),
        (date(2026, 10, 15), "Weekly check-in"),
        (date(2026, 10, 22), "Weekly check-in"),
        (date(2026, 10, 29), "Weekly check-in"),
        (date(2026, 11, 1), "Monthly executive review"),
        (date(2026, 11, 5), "Weekly check-in"),
    ]


@pytest.mark.parametrize("cadence", ["quarterly", "annual", "none"])
def test_quarterly_and_slower_cadences_add_no_check_in(cadence):
    assert check_ins(cadence, date(2026, 10, 1), date(2026, 12, 31)) == []


def weekday(day: date) -> bool:
    return day.weekday() < 5


def test_meeting_days_leave_a_weeks_notice_and_skip_weekends():
    days = meeting_days(date(2026, 10, 1), date(2026, 10, 31), weekday)
    assert days[0] == date(2026, 10, 8)  # five business days after Thu 1 Oct
    assert all(weekday(d) for d in days) and days[-1] == date(2026, 10, 30)


def test_meeting_days_at_the_very_end_of_a_quarter():
    assert meeting_days(date(2026, 12, 30), date(2026, 12, 31), weekday) == [
        date(2026, 12, 30),
        date(2026, 12, 31),
    ]
    assert meeting_days(date(2027, 1, 2), date(2027, 1, 3), weekday) == [date(2027, 1, 3)]


def test_each_manager_gets_one_meeting_a_day_wrapping_round():
    days = [date(2026, 10, 8), date(2026, 10, 9)]
    assert spread_meetings({"ann": [1, 2, 3], "bob": [4]}, days) == {
        1: date(2026, 10, 8),
        2: date(2026, 10, 9),
        3: date(2026, 10, 8),
        4: date(2026, 10, 8),
    }


@pytest.mark.parametrize(
    ("won", "lost", "rate"),
    [(0, 0, None), (1, 0, Decimal("1.000")), (2, 1, Decimal("0.667")), (1, 7, Decimal("0.125"))],
)
def test_win_rate(won, lost, rate):
    assert win_rate(won, lost) == rate


def cert(person_id, expires_on, issued_on=None, kind="Demo"):
    return HeldCertification(
        person_id, f"P{person_id}", kind, issued_on or expires_on - timedelta(days=730), expires_on
    )


def test_certification_watch_judges_each_persons_latest_award():
    today = date(2026, 10, 8)
    lapsed, expiring = certification_watch(
        [
            cert(1, date(2026, 9, 1)),  # lapsed
            cert(2, date(2026, 9, 1)),
            cert(2, date(2028, 9, 1), issued_on=date(2026, 9, 1)),  # renewed: no gap
            cert(3, date(2026, 12, 1)),  # expiring within 90 days
            cert(4, date(2025, 9, 1)),  # lapsed more than a year ago: out of view
            cert(5, date(2026, 10, 8)),  # expires today: lapsed
            cert(6, date(2029, 1, 1), issued_on=date(2026, 10, 9)),  # not yet issued
            cert(7, date(2027, 1, 6)),  # day 90: expiring
        ],
        today,
    )
    assert [c.person for c in lapsed] == ["P1", "P5"]
    assert [c.person for c in expiring] == ["P3", "P7"]


def test_plan_progress_caps_the_bar_and_handles_a_zero_goal():
    over = plan_progress(PlanFacts(2026, Decimal("100"), Decimal("250")))
    assert (over["percent"], over["remaining"]) == (100, "0.00")
    assert plan_progress(PlanFacts(2026, Decimal("0"), Decimal("0")))["percent"] == 100

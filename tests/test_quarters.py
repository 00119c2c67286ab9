"""Fiscal quarters, trailing windows and month arithmetic, as specs of prm.quarters.

A fiscal year is named after the calendar year in which it ends: with a February start,
FY2027 runs February 2026 – January 2027. With the default January start, fiscal and
calendar quarters coincide. Pure functions: no database.
"""

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prm.quarters import Quarter, add_months, trailing_twelve_months

PROPERTY = settings(max_examples=200, database=None, deadline=None)

# Dates whose quarter and neighbours are representable whatever the start month: the first
# and last year of ``date`` are left out, since their fiscal quarters run outside it.
DATES = st.dates(min_value=date(2, 1, 1), max_value=date(9998, 12, 31))
START_MONTHS = st.integers(min_value=1, max_value=12)
# Labels are four digits (``2026Q3``), so quarters are drawn from four-digit years.
QUARTERS = st.builds(
    Quarter,
    year=st.integers(min_value=1000, max_value=9997),
    number=st.integers(min_value=1, max_value=4),
    start_month=START_MONTHS,
)


def q(label: str, start_month: int = 1) -> Quarter:
    return Quarter.parse(label, start_month=start_month)


# ------------------------------------------------------------------ parse and label


@pytest.mark.parametrize(
    ("label", "year", "number"),
    [
        ("2026Q1", 2026, 1),
        ("2026Q4", 2026, 4),
        ("1999Q2", 1999, 2),
        ("2026q3", 2026, 3),
        ("  2026Q3\n", 2026, 3),
    ],
)
def test_parse_reads_year_and_quarter_number(label, year, number):
    assert Quarter.parse(label) == Quarter(year, number, 1)


def test_parse_keeps_the_fiscal_start_month():
    quarter = Quarter.parse("2027Q1", start_month=2)
    assert (quarter.year, quarter.number, quarter.start_month) == (2027, 1, 2)


def test_parse_defaults_to_a_january_start():
    assert Quarter.parse("2026Q3").start_month == 1


@pytest.mark.parametrize(
    "label",
    [
        None,
        "",
        "   ",
        "2026",
        "Q3",
        "2026Q0",
        "2026Q5",
        "2026-Q3",
        "2026 Q3",
        "Q3 2026",
        "26Q3",
        "02026Q3",
        "2026Q3x",
        "2026Q",
        "20X6Q3",
        "2026Q3 2026Q4",
    ],
)
def test_parse_rejects_what_is_not_a_quarter_label(label):
    with pytest.raises(ValueError, match="is not a quarter; write it like 2026Q3"):
        Quarter.parse(label)


@pytest.mark.parametrize("label", ["2026Q1", "2026Q4", "1000Q1", "9999Q4"])
def test_label_and_str_round_trip_through_parse(label):
    quarter = Quarter.parse(label)
    assert quarter.label == label
    assert str(quarter) == label


@PROPERTY
@given(QUARTERS)
def test_parse_of_label_gives_the_same_quarter(quarter):
    assert Quarter.parse(quarter.label, start_month=quarter.start_month) == quarter


def test_quarters_sort_chronologically_within_a_program():
    labels = ["2026Q2", "2025Q4", "2026Q1", "2024Q3"]
    assert [x.label for x in sorted(q(label) for label in labels)] == [
        "2024Q3",
        "2025Q4",
        "2026Q1",
        "2026Q2",
    ]


def test_quarter_is_immutable_and_hashable():
    quarter = q("2026Q1")
    with pytest.raises(AttributeError):
        quarter.year = 2027  # type: ignore[misc]
    assert {quarter, q("2026Q1")} == {quarter}


# ------------------------------------------------------------------ calendar quarters


@pytest.mark.parametrize(
    ("label", "start", "end"),
    [
        ("2026Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026Q2", date(2026, 4, 1), date(2026, 6, 30)),
        ("2026Q3", date(2026, 7, 1), date(2026, 9, 30)),
        ("2026Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2024Q1", date(2024, 1, 1), date(2024, 3, 31)),
    ],
)
def test_january_start_quarters_are_calendar_quarters(label, start, end):
    quarter = q(label)
    assert (quarter.start, quarter.end) == (start, end)


@pytest.mark.parametrize(
    ("day", "label"),
    [
        (date(2026, 1, 1), "2026Q1"),
        (date(2026, 3, 31), "2026Q1"),
        (date(2026, 4, 1), "2026Q2"),
        (date(2026, 6, 30), "2026Q2"),
        (date(2026, 7, 1), "2026Q3"),
        (date(2026, 9, 30), "2026Q3"),
        (date(2026, 10, 1), "2026Q4"),
        (date(2026, 12, 31), "2026Q4"),
        (date(2024, 2, 29), "2024Q1"),
    ],
)
def test_containing_a_date_with_january_start(day, label):
    assert Quarter.containing(day) == q(label)


# ------------------------------------------------------------------ other fiscal starts


@pytest.mark.parametrize(
    ("start_month", "day", "label"),
    [
        # February start: FY2027 runs Feb 2026 - Jan 2027 (the module's own example).
        (2, date(2026, 1, 31), "2026Q4"),
        (2, date(2026, 2, 1), "2027Q1"),
        (2, date(2026, 4, 30), "2027Q1"),
        (2, date(2026, 5, 1), "2027Q2"),
        (2, date(2026, 10, 31), "2027Q3"),
        (2, date(2026, 11, 1), "2027Q4"),
        (2, date(2027, 1, 31), "2027Q4"),
        (2, date(2027, 2, 1), "2028Q1"),
        # April start: FY2027 runs Apr 2026 - Mar 2027.
        (4, date(2026, 3, 31), "2026Q4"),
        (4, date(2026, 4, 1), "2027Q1"),
        (4, date(2027, 1, 15), "2027Q4"),
        # July start: FY2027 runs Jul 2026 - Jun 2027.
        (7, date(2026, 6, 30), "2026Q4"),
        (7, date(2026, 7, 1), "2027Q1"),
        (7, date(2026, 12, 31), "2027Q2"),
        (7, date(2027, 1, 1), "2027Q3"),
        (7, date(2027, 6, 30), "2027Q4"),
        # October start: FY2027 runs Oct 2026 - Sep 2027.
        (10, date(2026, 9, 30), "2026Q4"),
        (10, date(2026, 10, 1), "2027Q1"),
        (10, date(2027, 1, 1), "2027Q2"),
        (10, date(2027, 9, 30), "2027Q4"),
        # December start: FY2027 runs Dec 2026 - Nov 2027.
        (12, date(2026, 11, 30), "2026Q4"),
        (12, date(2026, 12, 1), "2027Q1"),
        (12, date(2027, 2, 28), "2027Q1"),
        (12, date(2027, 3, 1), "2027Q2"),
        (12, date(2027, 11, 30), "2027Q4"),
    ],
)
def test_containing_a_date_with_a_non_january_start(start_month, day, label):
    assert Quarter.containing(day, start_month=start_month) == q(label, start_month)


@pytest.mark.parametrize(
    ("start_month", "label", "start", "end"),
    [
        (2, "2027Q1", date(2026, 2, 1), date(2026, 4, 30)),
        (2, "2027Q2", date(2026, 5, 1), date(2026, 7, 31)),
        (2, "2027Q3", date(2026, 8, 1), date(2026, 10, 31)),
        (2, "2027Q4", date(2026, 11, 1), date(2027, 1, 31)),
        (7, "2027Q1", date(2026, 7, 1), date(2026, 9, 30)),
        (7, "2027Q2", date(2026, 10, 1), date(2026, 12, 31)),
        (7, "2027Q3", date(2027, 1, 1), date(2027, 3, 31)),
        (7, "2027Q4", date(2027, 4, 1), date(2027, 6, 30)),
        (10, "2027Q1", date(2026, 10, 1), date(2026, 12, 31)),
        (10, "2027Q4", date(2027, 7, 1), date(2027, 9, 30)),
        (11, "2027Q1", date(2026, 11, 1), date(2027, 1, 31)),
        (11, "2027Q2", date(2027, 2, 1), date(2027, 4, 30)),
        (12, "2027Q1", date(2026, 12, 1), date(2027, 2, 28)),
        (12, "2024Q1", date(2023, 12, 1), date(2024, 2, 29)),
        (12, "2027Q4", date(2027, 9, 1), date(2027, 11, 30)),
    ],
)
def test_fiscal_quarter_start_and_end_with_a_non_january_start(start_month, label, start, end):
    quarter = q(label, start_month)
    assert (quarter.start, quarter.end) == (start, end)


@pytest.mark.parametrize("start_month", range(1, 13))
def test_fiscal_year_is_named_after_the_calendar_year_it_ends_in(start_month):
    first, last = q("2027Q1", start_month), q("2027Q4", start_month)
    assert last.end.year == 2027
    assert first.start.month == start_month
    assert (last.end + timedelta(days=1)) == q("2028Q1", start_month).start
    assert add_months(first.start, 12) == q("2028Q1", start_month).start


@pytest.mark.parametrize("start_month", range(1, 13))
def test_four_quarters_tile_the_fiscal_year_without_gaps(start_month):
    quarters = [q(f"2026Q{n}", start_month) for n in range(1, 5)]
    for earlier, later in zip(quarters, quarters[1:], strict=False):
        assert earlier.end + timedelta(days=1) == later.start
    assert add_months(quarters[0].start, 3) == quarters[1].start
    days = (quarters[-1].end - quarters[0].start).days + 1
    assert days in (365, 366)


@PROPERTY
@given(DATES, START_MONTHS)
def test_containing_quarter_starts_on_or_before_and_ends_on_or_after_the_date(day, start_month):
    quarter = Quarter.containing(day, start_month=start_month)
    assert quarter.start <= day <= quarter.end
    assert quarter.start_month == start_month


@PROPERTY
@given(DATES, START_MONTHS)
def test_containing_quarter_starts_on_the_first_of_a_fiscal_quarter_month(day, start_month):
    quarter = Quarter.containing(day, start_month=start_month)
    assert quarter.start.day == 1
    assert (quarter.start.month - start_month) % 3 == 0
    assert (quarter.start.month - start_month) % 12 == (quarter.number - 1) * 3


@PROPERTY
@given(QUARTERS)
def test_a_quarters_own_first_and_last_day_are_contained_in_it(quarter):
    assert Quarter.containing(quarter.start, start_month=quarter.start_month) == quarter
    assert Quarter.containing(quarter.end, start_month=quarter.start_month) == quarter


@PROPERTY
@given(QUARTERS)
def test_a_quarter_lasts_three_whole_months(quarter):
    assert 89 <= (quarter.end - quarter.start).days + 1 <= 92
    assert quarter.end.day == calendar.monthrange(quarter.end.year, quarter.end.month)[1]
    assert add_months(quarter.start, 3) == quarter.end + timedelta(days=1)


@PROPERTY
@given(DATES)
def test_january_start_matches_the_calendar_quarter(day):
    quarter = Quarter.containing(day)
    assert (quarter.year, quarter.number) == (day.year, (day.month - 1) // 3 + 1)


# ------------------------------------------------------------------ next and previous


@pytest.mark.parametrize(
    ("label", "following"),
    [("2026Q1", "2026Q2"), ("2026Q3", "2026Q4"), ("2026Q4", "2027Q1")],
)
def test_next_moves_forward_one_quarter_and_rolls_into_the_next_year(label, following):
    assert q(label).next() == q(following)


@pytest.mark.parametrize(
    ("label", "preceding"),
    [("2026Q4", "2026Q3"), ("2026Q2", "2026Q1"), ("2026Q1", "2025Q4")],
)
def test_previous_moves_back_one_quarter_and_rolls_into_the_prior_year(label, preceding):
    assert q(label).previous() == q(preceding)


def test_next_and_previous_keep_the_fiscal_start_month():
    quarter = q("2027Q4", start_month=7)
    assert quarter.next() == q("2028Q1", start_month=7)
    assert quarter.next().start_month == 7
    assert q("2027Q1", start_month=7).previous() == q("2026Q4", start_month=7)


@PROPERTY
@given(QUARTERS)
def test_next_then_previous_round_trips(quarter):
    assert quarter.next().previous() == quarter
    assert quarter.previous().next() == quarter


@PROPERTY
@given(QUARTERS)
def test_next_starts_the_day_after_this_quarter_ends(quarter):
    assert quarter.next().start == quarter.end + timedelta(days=1)
    assert quarter.previous().end == quarter.start - timedelta(days=1)
    assert quarter.previous() < quarter < quarter.next()


# ------------------------------------------------------------------ trailing


def test_trailing_four_lists_the_last_four_quarters_oldest_first():
    assert [x.label for x in q("2026Q2").trailing(4)] == ["2025Q3", "2025Q4", "2026Q1", "2026Q2"]


def test_trailing_one_is_just_this_quarter():
    assert q("2026Q2").trailing(1) == [q("2026Q2")]


def test_trailing_keeps_the_fiscal_start_month():
    quarters = q("2027Q1", start_month=10).trailing(2)
    assert quarters == [q("2026Q4", start_month=10), q("2027Q1", start_month=10)]


@PROPERTY
@given(QUARTERS, st.integers(min_value=1, max_value=24))
def test_trailing_quarters_are_consecutive_and_end_with_this_one(quarter, count):
    quarters = quarter.trailing(count)
    assert len(quarters) == count
    assert quarters[-1] == quarter
    for earlier, later in zip(quarters, quarters[1:], strict=False):
        assert earlier.next() == later


# ------------------------------------------------------------------ trailing twelve months


@pytest.mark.parametrize(
    ("day", "start"),
    [
        (date(2026, 6, 30), date(2025, 7, 1)),
        (date(2025, 12, 31), date(2025, 1, 1)),
        (date(2026, 1, 1), date(2025, 1, 2)),
        # Twelve calendar months, whatever February holds.
        (date(2024, 3, 1), date(2023, 3, 2)),
        (date(2024, 12, 31), date(2024, 1, 1)),
        (date(2024, 2, 29), date(2023, 3, 1)),
    ],
)
def test_trailing_twelve_months_is_the_twelve_months_ending_on_the_day(day, start):
    assert trailing_twelve_months(day) == (start, day)


@PROPERTY
@given(st.dates(min_value=date(2, 1, 1)))
def test_trailing_twelve_months_is_365_or_366_days_inclusive(day):
    start, end = trailing_twelve_months(day)
    assert end == day
    assert (end - start).days + 1 in (365, 366)


@pytest.mark.parametrize("label", ["2025Q4", "2026Q2", "2025Q1", "2023Q2"])
def test_trailing_twelve_months_at_a_quarter_end_is_the_last_four_quarters(label):
    quarter = q(label)
    assert trailing_twelve_months(quarter.end) == (quarter.trailing(4)[0].start, quarter.end)


@pytest.mark.parametrize("label", ["2024Q4", "2024Q1", "2028Q3"])
def test_trailing_twelve_months_at_a_leap_year_quarter_end_is_the_last_four_quarters(label):
    quarter = q(label)
    assert trailing_twelve_months(quarter.end) == (quarter.trailing(4)[0].start, quarter.end)


# ------------------------------------------------------------------ add_months


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 15), 0, date(2026, 1, 15)),
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2026, 1, 15), 12, date(2027, 1, 15)),
        (date(2026, 1, 15), 24, date(2028, 1, 15)),
        (date(2026, 11, 15), 1, date(2026, 12, 15)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
        (date(2026, 3, 15), -14, date(2025, 1, 15)),
        (date(2026, 1, 1), 6, date(2026, 7, 1)),
    ],
)
def test_add_months_moves_by_whole_months(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 5, 31), -1, date(2026, 4, 30)),
        (date(2026, 10, 31), 2, date(2026, 12, 31)),
        (date(2100, 1, 31), 1, date(2100, 2, 28)),
        (date(2000, 1, 31), 1, date(2000, 2, 29)),
    ],
)
def test_add_months_clamps_to_the_last_day_of_a_shorter_month(day, months, expected):
    assert add_months(day, months) == expected


def test_add_months_does_not_drift_after_clamping():
    assert add_months(add_months(date(2026, 1, 31), 1), 1) == date(2026, 3, 28)
    assert add_months(date(2026, 1, 31), 2) == date(2026, 3, 31)


@PROPERTY
@given(
    st.dates(),
    st.dates(max_value=date(9999, 11, 30)).map(lambda d: (d.year, d.month)),
)
def test_add_months_never_raises_and_lands_in_the_right_month(day, target):
    months = (target[0] - day.year) * 12 + (target[1] - day.month)
    moved = add_months(day, months)
    assert (moved.year, moved.month) == target
    assert moved.day == min(day.day, calendar.monthrange(*target)[1])


@PROPERTY
@given(
    st.dates(min_value=date(100, 1, 1), max_value=date(9900, 12, 31)),
    st.integers(min_value=-120, max_value=120),
)
def test_add_months_then_back_returns_the_day_when_it_fits_both_months(day, months):
    moved = add_months(day, months)
    if moved.day == day.day:
        assert add_months(moved, -months) == day
    else:
        assert moved.day < day.day


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(9999, 12, 1), 0, date(9999, 12, 1)),
        (date(9999, 11, 30), 1, date(9999, 12, 30)),
        (date(9998, 12, 31), 12, date(9999, 12, 31)),
    ],
)
def test_add_months_reaches_the_last_representable_month(day, months, expected):
    assert add_months(day, months) == expected

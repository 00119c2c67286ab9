"""The scorecard explained per dimension (RULEBOOK §2): the pure function, the portal page
and the API's ``explanation``, in English and Chinese."""

from decimal import Decimal

import pytest
from django.utils import translation

from scoring.rules import (
    ScoreInputs,
    ScoringWeights,
    explain_scorecard,
    explanation_shown,
    score,
)
from tests.factories import ScorecardFactory

INPUTS = {
    "quarter_revenue": "412300",
    "quarterly_quota": "500000",
    "approved_registrations": 4,
    "pipeline_target": 5,
    "certified_reps": 2,
    "reps_required": 3,
    "csat_responses": 7,
    "csat_average": "4.29",
    "login_days": 9,
    "trainings": 1,
    "events": 2,
}
POINTS = {
    "revenue": Decimal("24.74"),
    "pipeline": Decimal("16.00"),
    "certification": Decimal("10.00"),
    "satisfaction": Decimal("17.14"),
    "engagement": Decimal("10.42"),
}


def shown(inputs=INPUTS, points=POINTS, weights=None, language="en"):
    weights = weights or ScoringWeights()
    with translation.override(language):
        parts = explanation_shown(
            explain_scorecard(inputs, points, weights, money=lambda a: f"${Decimal(a):,.0f}")
        )
    return {part["dimension"]: part for part in parts}


def test_each_dimension_says_its_inputs_and_arithmetic():
    parts = shown()
    assert list(parts) == ["revenue", "pipeline", "certification", "satisfaction", "engagement"]
    assert parts["revenue"]["lines"] == [
        "$412,300 of a $500,000 quarterly quota → 30 × 0.8246 = 24.74 of 30"
    ]
    assert parts["pipeline"]["lines"] == ["4 approved registrations of 5 → 20 × 0.8 = 16.00 of 20"]
    assert parts["certification"]["lines"] == [
        "2 certified reps of 3 required → 15 × 0.6667 = 10.00 of 15"
    ]
    assert parts["satisfaction"]["lines"] == [
        "Average CSAT 4.29 of 5 over 7 responses → 20 × 4.29 / 5 = 17.14 of 20"
    ]
    assert parts["engagement"]["lines"] == [
        "Portal login days: 9 of 12 → 5 × 0.75 = 3.75",
        "Trainings completed: 1 of 3 → 5 × 0.3333 = 1.67",
        "Events attended: 2 of 1 → 5 × 1 = 5.00",
        "Together: 10.42 of 15",
    ]
    assert [(p["points"], p["max_points"]) for p in parts.values()] == [
        ("24.74", "30"),
        ("16.00", "20"),
        ("10.00", "15"),
        ("17.14", "20"),
        ("10.42", "15"),
    ]


def test_the_lines_arrive_at_the_points_the_rules_give():
    """The explanation's arithmetic is the rules' own: scored from the same inputs, each
    dimension's points are the ones its last line states."""
    card = score(
        ScoreInputs(
            quarter_revenue=Decimal("412300"),
            quarterly_quota=Decimal("500000"),
            approved_registrations=4,
            certified_reps=2,
            reps_required=3,
            csat_responses=7,
            csat_total=30,
            login_days=9,
            trainings=1,
            events=2,
        )
    )
    assert {key: getattr(card, key) for key in POINTS} == POINTS


def test_quota_zero_no_csat_and_no_reps_required():
    inputs = {
        **INPUTS,
        "quarterly_quota": "0",
        "csat_responses": 0,
        "csat_average": None,
        "reps_required": 0,
        "approved_registrations": 1,
    }
    points = {**POINTS, "revenue": Decimal("0"), "satisfaction": Decimal("0"), "pipeline": 4}
    parts = shown(inputs, points)
    assert parts["revenue"]["lines"] == [
        "$412,300 of revenue in the quarter, but no quarterly quota: revenue scores 0 of 30."
    ]
    assert parts["satisfaction"]["lines"] == [
        "No data: no survey response in the quarter → 0.00 of 20"
    ]
    assert parts["certification"]["lines"] == [
        "2 certified reps; the tier requires none → 10.00 of 15"
    ]
    assert parts["pipeline"]["lines"] == ["1 approved registration of 5 → 20 × 0.2 = 4.00 of 20"]


def test_revenue_above_the_quota_is_capped_and_said_so():
    parts = shown({**INPUTS, "quarter_revenue": "600000"}, {**POINTS, "revenue": Decimal("30")})
    assert parts["revenue"]["lines"] == [
        "$600,000 of a $500,000 quarterly quota → 30 × 1 = 30.00 of 30",
        "Revenue above the quota counts as the quota.",
    ]


def test_accepted_leads_are_counted_in_the_pipeline_and_said_so():
    parts = shown({**INPUTS, "accepted_leads": 1}, {**POINTS, "pipeline": Decimal("20.00")})
    assert parts["pipeline"]["lines"] == [
        "Approved registrations 4 + accepted leads 1 = 5 of 5 → 20 × 1 = 20.00 of 20"
    ]
    chinese = shown(
        {**INPUTS, "accepted_leads": 1},
        {**POINTS, "pipeline": Decimal("20.00")},
        language="zh-hans",
    )
    assert chinese["pipeline"]["lines"] == [
        "获批注册 4 + 已接受线索 1 = 5 / 5 → 20 × 1 = 20.00 / 20"
    ]


def test_the_programs_weights_are_used():
    weights = ScoringWeights(revenue_points=Decimal("40"), events_points=Decimal("10"))
    parts = shown(weights=weights)
    assert "→ 40 × 0.8246 = 24.74 of 40" in parts["revenue"]["lines"][0]
    assert parts["engagement"]["max_points"] == "20"


def test_an_empty_inputs_record_is_explained_without_failing():
    parts = shown({}, POINTS)
    assert parts["satisfaction"]["lines"][0].startswith("No data")
    assert "no quarterly quota" in parts["revenue"]["lines"][0]


def test_in_chinese():
    parts = shown(language="zh-hans")
    assert parts["revenue"]["label"] == "收入"
    assert parts["pipeline"]["lines"] == ["4 个已批准的报备，目标 5 → 20 × 0.8 = 16.00 / 20"]
    assert parts["satisfaction"]["lines"][0].startswith("平均 CSAT 4.29")
    assert all("of" not in line for part in parts.values() for line in part["lines"])


@pytest.mark.django_db
def test_portal_page_and_api_show_the_explanation(
    client, api, a_rep, partner_a, django_assert_max_num_queries
):
    for quarter in ("2026Q1", "2026Q2", "2026Q3"):
        ScorecardFactory(partner=partner_a, quarter=quarter, inputs=INPUTS, **POINTS)
    client.force_login(a_rep)
    with django_assert_max_num_queries(16):
        page = client.get("/portal/scorecards/").content.decode()
    assert "4 approved registrations of 5 → 20 × 0.8 = 16.00 of 20" in page
    assert "Portal login days: 9 of 12 → 5 × 0.75 = 3.75" in page
    with django_assert_max_num_queries(6):
        rows = api(a_rep).get("/api/v1/scorecards/").json()["results"]
    explanation = {part["dimension"]: part for part in rows[0]["explanation"]}
    assert explanation["revenue"]["lines"] == [
        "$412,300.00 of a $500,000.00 quarterly quota → 30 × 0.8246 = 24.74 of 30"
    ]
    assert explanation["revenue"]["points"] == "24.74"
    chinese = api(a_rep).get("/api/v1/scorecards/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert chinese["results"][0]["explanation"][0]["label"] == "收入"

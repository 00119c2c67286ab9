"""The QBR's seven pre-filled sections (RULEBOOK §10), against a quarter with known answers
(``tests/qbr_scenario.py``), and the fixed query count of preparing them."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scoring import qbr_services
from scoring.models import Qbr
from tests.factories import (
    CertificationFactory,
    DealFactory,
    PartnerFactory,
    RedFlagFactory,
    ScorecardFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sections(qbr_scenario, manager):
    qbr = qbr_services.qbr_schedule(
        partner=qbr_scenario["partner"],
        quarter="2026Q4",
        scheduled_for=date(2026, 10, 20),
        by=manager,
    )
    return qbr.sections


def test_the_agenda_says_what_it_reviews_and_plans(sections):
    assert (sections["quarter"], sections["reviewed_quarter"], sections["as_of"]) == (
        "2026Q4",
        "2026Q3",
        "2026-10-08",
    )


def test_scorecard_against_last_quarter(sections):
    card = sections["scorecard"]
    assert (card["quarter"], card["previous_quarter"], card["available"]) == (
        "2026Q3",
        "2026Q2",
        True,
    )
    assert (card["total"], card["previous_total"], card["delta"]) == ("71.33", "43.00", "28.33")
    assert (card["band"], card["previous_band"]) == ("grow", "maintain")
    rows = {
        d["key"]: (d["points"], d["previous"], d["delta"], d["max"]) for d in card["dimensions"]
    }
    assert rows == {
        "revenue": ("20.00", "15.00", "5.00", "30.00"),
        "pipeline": ("12.00", "8.00", "4.00", "20.00"),
        "certification": ("15.00", "15.00", "0.00", "15.00"),
        "satisfaction": ("16.00", "0.00", "16.00", "20.00"),
        "engagement": ("8.33", "5.00", "3.33", "15.00"),
    }


def test_pipeline_walk_lists_open_registrations_soonest_close_first(sections):
    pipeline = sections["pipeline"]
    assert (pipeline["count"], pipeline["amount"]) == (2, "110000.00")
    assert pipeline["pending"] == {"count": 1, "amount": "30000.00"}
    assert pipeline["approved"] == {"count": 1, "amount": "80000.00"}
    assert (pipeline["slipped"], pipeline["expiring_30_days"]) == (1, 1)
    assert [
        (d["customer"], d["status"], d["expected_close"], d["protection_days_left"], d["slipped"])
        for d in pipeline["deals"]
    ] == [
        ("Umbrella", "approved", "2026-10-01", 30, True),
        ("Initech", "pending", "2026-11-15", None, False),
    ]


def test_wins_and_losses_of_the_reviewed_quarter(sections):
    result = sections["win_loss"]
    assert result["quarter"] == "2026Q3"
    assert result["won"] == {
        "count": 2,
        "amount": "90000.00",
        "partner_credit": "66000.00",
        "average": "45000.00",
    }
    assert result["lost"] == {"count": 1, "amount": "25000.00"}
    assert result["win_rate"] == "0.667"
    assert [(d["customer"], d["result"]) for d in result["deals"]] == [
        ("Stark", "lost"),
        ("Hooli", "won"),
        ("Globex", "won"),
    ]


def test_enablement_gaps(sections):
    gaps = sections["enablement"]
    assert (gaps["certified_reps"], gaps["reps_required"], gaps["met"]) == (1, 1, True)
    assert gaps["lapsed"] == [
        {"person": "Andy Rep", "certification": "Demo certification", "expires_on": "2026-09-01"}
    ]
    assert gaps["expiring"] == [
        {"person": "Alice Admin", "certification": "Demo certification", "expires_on": "2026-12-01"}
    ]
    assert {e["key"]: (e["count"], e["target"]) for e in gaps["engagement"]} == {
        "login_days": (3, 12),
        "trainings": (1, 3),
        "events": (0, 1),
    }


def test_co_marketing_plan_of_the_quarter_ahead(sections):
    plan = sections["co_marketing"]
    assert plan["quarter"] == "2026Q4"
    assert [(r["title"], r["status"]) for r in plan["requests"]] == [
        ("Zero-trust webinar", "approved"),
        ("Trade show", "rejected"),
    ]
    # The rejected request is listed, not planned.
    assert (plan["count"], plan["planned_cost"], plan["reserved"], plan["expected_leads"]) == (
        1,
        "4000.00",
        "3000.00",
        120,
    )
    assert [(c["name"], c["activity"], c["stage"]) for c in plan["campaigns"]] == [
        ("Zero-trust series", "Joint webinar", "planned"),
        ("Dropped series", "Joint webinar", "cancelled"),
    ]
    assert (plan["campaign_count"], plan["campaign_leads"]) == (1, 120)


def test_growth_plan_gap_to_gold_and_the_business_plan(sections):
    growth = sections["growth"]
    assert (growth["tier"], growth["next_tier"], growth["meets_current"]) == (
        "Silver",
        "Gold",
        True,
    )
    gaps = {
        g["key"]: (g["have"], g["need"], g["missing"], g["met"]) for g in growth["requirements"]
    }
    # Trailing twelve months: 50,000 + 16,000 + 10,000 + 20,000 of partner credit.
    assert gaps == {
        "revenue": ("96000.00", "200000.00", "104000.00", False),
        "certified_reps": (1, 2, 1, False),
    }
    assert growth["plan"] == {
        "fiscal_year": 2026,
        "revenue_goal": "300000.00",
        "revenue_to_date": "96000.00",
        "remaining": "204000.00",
        "percent": 32,
        "target_accounts": ["Initech", "Umbrella"],
        "planned_activities": ["Joint webinar in November"],
    }


def test_escalations_never_name_the_other_partner(sections):
    escalations = sections["escalations"]
    assert escalations["count"] == 3
    assert [(f["kind"], f["opened_on"], f["days_open"]) for f in escalations["red_flags"]] == [
        ("cert_lapsed", "2026-09-02", 36)
    ]
    assert [
        (c["scenario"], c["account"], c["overdue"], c["raised_by_partner"], c["escalation_step"])
        for c in escalations["conflicts"]
    ] == [
        ("two_partners", "Globex Corp", True, True, "none"),
        ("poaching", "Soylent", False, False, "warning"),
    ]
    assert "Bravo" not in str(escalations)


def test_a_partner_without_a_scorecard_or_data_gets_empty_sections(qbr_clock, manager):
    partner = PartnerFactory(tier=default_tier("platinum"), channel_manager=manager)
    qbr = qbr_services.qbr_schedule(
        partner=partner, quarter="2026Q4", scheduled_for=date(2026, 10, 20), by=manager
    )
    s = qbr.sections
    assert s["scorecard"]["available"] is False
    assert s["scorecard"]["dimensions"][0]["points"] is None
    assert (s["pipeline"]["count"], s["win_loss"]["win_rate"]) == (0, None)
    assert s["growth"]["next_tier"] is None
    assert s["growth"]["meets_current"] is False
    assert s["growth"]["plan"] is None
    assert s["escalations"]["count"] == 0


def _partner_with_data(manager, n: int):
    partner = PartnerFactory(tier=default_tier("gold"), channel_manager=manager)
    ScorecardFactory(partner=partner, quarter="2026Q3")
    ScorecardFactory(partner=partner, quarter="2026Q2")
    for _ in range(n):
        DealFactory(partner=partner)
        WonDealFactory(partner=partner, closed_on=date(2026, 8, 1))
        CertificationFactory(partner=partner)
    RedFlagFactory(partner=partner)
    return partner


def test_preparing_many_qbrs_takes_as_many_queries_as_preparing_one(qbr_clock, manager):
    def count_for(partners: int) -> int:
        qbrs = [
            Qbr.objects.create(
                partner=_partner_with_data(manager, 2),
                quarter="2026Q4",
                cadence="quarterly",
                scheduled_for=date(2026, 10, 20),
            )
            for _ in range(partners)
        ]
        with CaptureQueriesContext(connection) as queries:
            assert qbr_services.qbr_refresh(qbrs=qbrs)["refreshed"] == partners
        Qbr.objects.all().delete()
        return len(queries)

    assert count_for(1) == count_for(6)

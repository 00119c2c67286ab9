"""The QBR's seven pre-filled sections (RULEBOOK §10), against a quarter with known answers
(``tests/qbr_scenario.py``), and the fixed query count of preparing them."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deals.models import ConflictCase, Deal
from enablement.models import Campaign, CoMarketingActivity
from incentives.models import MdfFund, MdfRequest
from scoring.models import JointBusinessPlan, Qbr, Scorecard
from scoring.services.reviews import qbr_prepare, qbr_refresh, qbr_schedule
from tests.factories import (
    AccountFactory,
    CertificationFactory,
    ConflictCaseFactory,
    DealFactory,
    MdfRequestFactory,
    PartnerFactory,
    RedFlagFactory,
    ScorecardFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sections(qbr_scenario, manager):
    qbr = qbr_schedule(
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
    qbr = qbr_schedule(
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


def test_nothing_dated_after_the_as_of_date_shows(qbr_scenario, manager, a_rep, partner_b):
    """An agenda prepared as of 5 Oct reads the same whatever happened on the 6th."""
    alpha = qbr_scenario["partner"]
    # The scenario dates most of its items today (8 Oct): date them before the 5th.
    earlier = datetime(2026, 9, 20, 9, tzinfo=UTC)
    Deal.objects.filter(partner=alpha).update(submitted_at=earlier)
    ConflictCase.objects.update(opened_at=earlier)
    MdfRequest.objects.update(submitted_at=earlier)
    Campaign.objects.update(created_at=earlier)
    JointBusinessPlan.objects.update(created_at=earlier)
    Scorecard.objects.update(closed_at=datetime(2026, 10, 1, 2, tzinfo=UTC))
    qbr = qbr_schedule(
        partner=alpha,
        quarter="2026Q4",
        scheduled_for=date(2026, 10, 20),
        by=manager,
        today=date(2026, 10, 5),
    )
    agenda = qbr.sections
    assert agenda["as_of"] == "2026-10-05" and agenda["pipeline"]["count"] == 2

    later = datetime(2026, 10, 6, 15, tzinfo=UTC)
    DealFactory(partner=alpha, customer_name="Late Registration", submitted_at=later)
    WonDealFactory(partner=alpha, customer_name="Late Win", closed_on=date(2026, 10, 6))
    RedFlagFactory(partner=alpha, kind="no_recent_deal", opened_at=later)
    ConflictCaseFactory(
        partner=alpha,
        other_partner=partner_b,
        account=AccountFactory(name="Late Account"),
        deal=None,
        opened_at=later,
    )
    CertificationFactory(  # Andy renews his lapsed certification
        partner=alpha, user=a_rep, issued_on=date(2026, 10, 6), expires_on=date(2028, 10, 6)
    )
    MdfRequestFactory(
        fund=MdfFund.objects.get(partner=alpha, fiscal_year=2026),
        title="Late webinar",
        submitted_at=later,
        starts_on=date(2026, 12, 8),
    )
    Campaign.objects.create(
        partner=alpha,
        activity=CoMarketingActivity.objects.get(program=alpha.program, slug="joint-webinar"),
        name="Late series",
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 2),
        expected_leads=40,
        created_at=later,
    )
    qbr_prepare(qbr=qbr, by=manager, as_of=date(2026, 10, 5))
    qbr.refresh_from_db()
    assert "Late" not in str(qbr.sections)
    assert {k: v for k, v in qbr.sections.items() if k != "prepared_at"} == {
        k: v for k, v in agenda.items() if k != "prepared_at"
    }


def test_an_agenda_prepared_before_the_close_shows_neither_its_scorecard_nor_later_wins(
    qbr_scenario, manager
):
    qbr = qbr_schedule(
        partner=qbr_scenario["partner"],
        quarter="2026Q4",
        scheduled_for=date(2026, 10, 20),
        by=manager,
        today=date(2026, 9, 29),
    )
    s = qbr.sections
    assert s["scorecard"]["available"] is False  # the close of 2026Q3 wrote it on 8 Oct
    # Globex was won on 30 Sep, the day after.
    assert [d["customer"] for d in s["win_loss"]["deals"]] == ["Stark", "Hooli"]


def test_tier_facts_count_the_registrations_open_on_the_day_asked(qbr_clock, partner_a):
    """The growth plan's open registrations (a seed 002 requirement), as of a day."""
    from scoring.queries import partner_facts

    for day in (1, 7):
        DealFactory(
            partner=partner_a,
            status="approved",
            submitted_at=datetime(2026, 10, day, 9, tzinfo=UTC),
            expires_on=date(2026, 12, 1),
        )
    assert partner_facts([partner_a.pk], date(2026, 10, 5))[partner_a.pk].open_registrations == 1
    assert partner_facts([partner_a.pk], date(2026, 10, 8))[partner_a.pk].open_registrations == 2


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
            assert qbr_refresh(qbrs=qbrs)["refreshed"] == partners
        Qbr.objects.all().delete()
        return len(queries)

    assert count_for(1) == count_for(6)


def test_the_win_loss_table_lists_the_largest_deals_by_date_and_counts_them_all():
    from scoring.qbr_rules import WIN_LOSS_ROWS, ClosedDeal, win_loss_section

    deals = [
        ClosedDeal(
            customer=f"C{n}",
            won=n % 3 != 0,
            amount=Decimal(1000 + n),
            partner_credit=None,
            closed_on=date(2026, 7, 1) + timedelta(days=n % 90),
        )
        for n in range(WIN_LOSS_ROWS + 30)
    ]
    s = win_loss_section(deals, quarter="2026Q3")
    assert s["won"]["count"] + s["lost"]["count"] == WIN_LOSS_ROWS + 30
    assert len(s["deals"]) == WIN_LOSS_ROWS and s["more"] == 30
    assert {d["customer"] for d in s["deals"]} == {f"C{n}" for n in range(30, WIN_LOSS_ROWS + 30)}
    assert [d["closed_on"] for d in s["deals"]] == sorted(d["closed_on"] for d in s["deals"])

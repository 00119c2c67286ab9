"""A partner's quarter with known answers, for the QBR tests.

On 8 Oct 2026 (2026Q4) the QBR of Alpha Systems (silver, managed by ``manager``) reviews
2026Q3 against 2026Q2 and plans 2026Q4. What it must show is spelt out in
``tests/test_qbr_sections.py``.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from deals.models import ConflictCase
from enablement.models import (
    Campaign,
    CoMarketingActivity,
    EventAttendance,
    LoginDay,
    TrainingCompletion,
)
from partners.models import RedFlag
from scoring.models import JointBusinessPlan

from .factories import (
    AccountFactory,
    CertificationFactory,
    ConflictCaseFactory,
    DealFactory,
    MdfFundFactory,
    MdfRequestFactory,
    RedFlagFactory,
    ScorecardFactory,
    WonDealFactory,
)

NOW = datetime(2026, 10, 8, 10, 0, tzinfo=UTC)


@pytest.fixture
def qbr_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def qbr_scenario(qbr_clock, partner_a, partner_b, a_admin, a_rep, b_admin):
    """Alpha's data, and some of Bravo's that must never show in Alpha's QBR."""
    a = partner_a
    ScorecardFactory(
        partner=a,
        quarter="2026Q3",
        revenue=Decimal("20"),
        pipeline=Decimal("12"),
        certification=Decimal("15"),
        satisfaction=Decimal("16"),
        engagement=Decimal("8.33"),
        total=Decimal("71.33"),
        band="grow",
    )
    ScorecardFactory(
        partner=a,
        quarter="2026Q2",
        revenue=Decimal("15"),
        pipeline=Decimal("8"),
        certification=Decimal("15"),
        satisfaction=Decimal("0"),
        engagement=Decimal("5"),
        total=Decimal("43"),
        band="maintain",
        csat_no_data=True,
    )
    ScorecardFactory(partner=a, quarter="2026Q1", total=Decimal("99"))  # too old

    # Pipeline: one pending, one approved and protected until 7 Nov (slipped close).
    DealFactory(
        partner=a,
        customer_name="Initech",
        amount=Decimal("30000"),
        expected_close=date(2026, 11, 15),
    )
    DealFactory(
        partner=a,
        customer_name="Umbrella",
        status="approved",
        amount=Decimal("80000"),
        approved_at=datetime(2026, 8, 9, tzinfo=UTC),
        expires_on=date(2026, 11, 7),
        expected_close=date(2026, 10, 1),
    )
    DealFactory(  # approved, but its protection lapsed: no longer in the pipeline
        partner=a,
        status="approved",
        approved_at=datetime(2026, 6, 1, tzinfo=UTC),
        expires_on=date(2026, 10, 1),
    )
    DealFactory(partner=a, status="rejected", reason="existing_lead")

    # Wins and losses: two won and one lost in 2026Q3; wins either side of it.
    WonDealFactory(
        partner=a,
        customer_name="Hooli",
        amount=Decimal("50000"),
        partner_credit=Decimal("50000"),
        closed_on=date(2026, 8, 10),
    )
    WonDealFactory(
        partner=a,
        customer_name="Globex",
        amount=Decimal("40000"),
        partner_credit=Decimal("16000"),  # direct conflict: 40% credit
        direct_conflict=True,
        closed_on=date(2026, 9, 30),
    )
    DealFactory(
        partner=a,
        customer_name="Stark",
        status="lost",
        amount=Decimal("25000"),
        closed_on=date(2026, 7, 15),
    )
    WonDealFactory(partner=a, partner_credit=Decimal("10000"), closed_on=date(2026, 10, 2))
    WonDealFactory(partner=a, partner_credit=Decimal("20000"), closed_on=date(2026, 5, 5))
    WonDealFactory(partner=partner_b, partner_credit=Decimal("777000"), closed_on=date(2026, 8, 1))

    # Enablement: Alice certified (expiring 1 Dec), Andy's lapsed on 1 Sep.
    a_admin.first_name, a_admin.last_name = "Alice", "Admin"
    a_admin.save()
    a_rep.first_name, a_rep.last_name = "Andy", "Rep"
    a_rep.save()
    CertificationFactory(
        partner=a, user=a_admin, issued_on=date(2024, 12, 1), expires_on=date(2026, 12, 1)
    )
    CertificationFactory(
        partner=a, user=a_rep, issued_on=date(2024, 9, 1), expires_on=date(2026, 9, 1)
    )
    for day in (date(2026, 7, 1), date(2026, 7, 2), date(2026, 8, 3), date(2026, 10, 5)):
        LoginDay.objects.create(user=a_admin, partner=a, day=day)
    TrainingCompletion.objects.create(
        user=a_rep, partner=a, course="Objection handling", completed_on=date(2026, 9, 3)
    )
    EventAttendance.objects.create(
        user=b_admin, partner=partner_b, event="Summit", attended_on=date(2026, 9, 3)
    )

    # Co-marketing: an approved webinar in 2026Q4, a rejected event, one for 2027Q1.
    fund = MdfFundFactory(partner=a, fiscal_year=2026)
    MdfRequestFactory(
        fund=fund,
        title="Zero-trust webinar",
        activity_type="joint_webinar",
        status="approved",
        planned_cost=Decimal("4000"),
        reserved_amount=Decimal("3000"),
        starts_on=date(2026, 11, 10),
        ends_on=date(2026, 11, 10),
        expected_leads=120,
    )
    MdfRequestFactory(
        fund=fund,
        title="Trade show",
        activity_type="tradeshow",
        status="rejected",
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 3),
    )
    MdfRequestFactory(
        fund=MdfFundFactory(partner=a, fiscal_year=2027),
        title="Spring roadshow",
        starts_on=date(2027, 2, 1),
        ends_on=date(2027, 2, 2),
    )

    webinar = CoMarketingActivity.objects.get(program=a.program, slug="joint-webinar")
    Campaign.objects.create(
        partner=a,
        activity=webinar,
        name="Zero-trust series",
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 11, 30),
        expected_leads=120,
    )
    Campaign.objects.create(
        partner=a,
        activity=webinar,
        name="Dropped series",
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 2),
        expected_leads=60,
        status="cancelled",
    )
    Campaign.objects.create(  # ended in 2026Q3: not this quarter's plan
        partner=a,
        activity=webinar,
        name="Summer series",
        starts_on=date(2026, 7, 1),
        ends_on=date(2026, 7, 30),
        expected_leads=80,
    )

    JointBusinessPlan.objects.create(
        partner=a,
        fiscal_year=2026,
        revenue_goal=Decimal("300000"),
        target_accounts="Initech\nUmbrella",
        planned_activities="Joint webinar in November",
    )

    # Escalations: a lapsed-certification flag, a conflict Alpha raised (past its SLA),
    # one about Alpha's account raised by Bravo, and a resolved one.
    RedFlagFactory(partner=a, kind="cert_lapsed", opened_at=datetime(2026, 9, 2, 10, tzinfo=UTC))
    RedFlagFactory(partner=a, kind="low_csat", status="resolved")
    ConflictCaseFactory(
        partner=a,
        other_partner=partner_b,
        account=AccountFactory(name="Globex Corp"),
        deal=None,
        sla_due_at=datetime(2026, 10, 7, tzinfo=UTC),
    )
    ConflictCaseFactory(
        partner=partner_b,
        other_partner=a,
        scenario="poaching",
        account=AccountFactory(name="Soylent"),
        deal=None,
        sla_due_at=datetime(2026, 10, 9, tzinfo=UTC),
        escalation_step="warning",
    )
    ConflictCaseFactory(partner=a, status=ConflictCase.Status.RESOLVED, deal=None)
    return {"partner": a, "flags": RedFlag.objects.filter(partner=a)}

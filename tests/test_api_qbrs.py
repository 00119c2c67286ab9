"""``GET /api/v1/qbrs/`` and ``GET /api/v1/business-plans/``: read-only, scoped."""

from datetime import date
from decimal import Decimal

import pytest

from prm.quarters import Quarter
from scoring.models import JointBusinessPlan, Qbr, QbrActionItem
from tests.factories import PartnerFactory, WonDealFactory

pytestmark = pytest.mark.django_db


def make_qbr(partner, quarter="2026Q4", *, shared=False) -> Qbr:
    return Qbr.objects.create(
        partner=partner,
        quarter=quarter,
        cadence="quarterly",
        scheduled_for=Quarter.parse(quarter).start,
        shared_with_partner=shared,
        sections={"quarter": quarter},
    )


def test_qbrs_are_scoped_and_filtered(api, a_rep, manager, chief, partner_a, partner_b):
    shared = make_qbr(partner_a, "2026Q3", shared=True)
    make_qbr(partner_a, "2026Q4")
    theirs = make_qbr(partner_b, "2026Q4", shared=True)
    QbrActionItem.objects.create(qbr=shared, text="Send the deck", owner=manager)
    rows = api(a_rep).get("/api/v1/qbrs/").json()["results"]
    assert [(r["partner"], r["quarter"]) for r in rows] == [(partner_a.pk, "2026Q3")]
    assert rows[0]["action_items"] == [
        {
            "id": shared.action_items.get().pk,
            "text": "Send the deck",
            "owner": str(manager),
            "due_on": None,
            "done": False,
            "done_at": None,
        }
    ]
    assert {
        "reviewed_quarter",
        "status",
        "scheduled_for",
        "held_on",
        "cadence",
        "check_ins",
        "sections",
        "notes",
    } <= set(rows[0])
    assert rows[0]["reviewed_quarter"] == "2026Q2"
    assert api(a_rep).get(f"/api/v1/qbrs/{theirs.pk}/").status_code == 404

    mine = api(manager).get("/api/v1/qbrs/?quarter=2026Q4").json()["results"]
    assert [(r["partner"], r["shared_with_partner"]) for r in mine] == [(partner_a.pk, False)]
    everyone = api(chief).get(f"/api/v1/qbrs/?partner={partner_b.pk}&quarter=2026Q4").json()
    assert [r["id"] for r in everyone["results"]] == [theirs.pk]


def test_qbrs_are_read_only(api, manager, partner_a):
    qbr = make_qbr(partner_a)
    client = api(manager)
    assert client.post("/api/v1/qbrs/", {}, format="json").status_code == 405
    assert client.patch(f"/api/v1/qbrs/{qbr.pk}/", {"notes": "x"}, format="json").status_code == 405
    assert client.delete(f"/api/v1/qbrs/{qbr.pk}/").status_code == 405


def test_a_monthly_cadence_lists_its_check_ins(api, chief, partner_a):
    qbr = make_qbr(partner_a, "2026Q4")
    Qbr.objects.filter(pk=qbr.pk).update(cadence="monthly", scheduled_for=date(2026, 10, 15))
    row = api(chief).get(f"/api/v1/qbrs/{qbr.pk}/").json()
    assert row["check_ins"] == [
        {"day": "2026-11-15", "kind": "Monthly review"},
        {"day": "2026-12-15", "kind": "Monthly review"},
    ]


def test_business_plans_show_goal_against_revenue(api, a_admin, partner_a, partner_b):
    JointBusinessPlan.objects.create(
        partner=partner_a,
        fiscal_year=2025,
        revenue_goal=Decimal("100000"),
        target_accounts="Initech\nUmbrella",
    )
    JointBusinessPlan.objects.create(partner=partner_b, fiscal_year=2025, revenue_goal=1)
    WonDealFactory(partner=partner_a, partner_credit=Decimal("25000"), closed_on=date(2025, 4, 1))
    WonDealFactory(partner=partner_a, partner_credit=Decimal("99000"), closed_on=date(2026, 1, 1))
    rows = api(a_admin).get("/api/v1/business-plans/").json()["results"]
    assert len(rows) == 1
    assert rows[0]["target_accounts"] == ["Initech", "Umbrella"]
    assert rows[0]["revenue_goal"] == "100000.00"
    assert rows[0]["progress"] == {
        "revenue_to_date": "25000.00",
        "remaining": "75000.00",
        "percent": 25,
    }
    one = api(a_admin).get(f"/api/v1/business-plans/{rows[0]['id']}/").json()
    assert one["progress"]["percent"] == 25


@pytest.mark.parametrize("count", [1, 5])
def test_lists_take_a_fixed_number_of_queries(
    api, chief, manager, count, django_assert_max_num_queries
):
    for index in range(count):
        partner = PartnerFactory()
        qbr = make_qbr(partner, f"{2020 + index}Q4")
        for n in range(3):
            QbrActionItem.objects.create(qbr=qbr, text=f"Item {n}", owner=manager)
        JointBusinessPlan.objects.create(
            partner=partner, fiscal_year=2020 + index, revenue_goal=1000
        )
    client = api(chief)
    with django_assert_max_num_queries(4):
        assert client.get("/api/v1/qbrs/").json()["count"] == count
    with django_assert_max_num_queries(4):
        assert client.get("/api/v1/business-plans/").json()["count"] == count

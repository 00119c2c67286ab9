"""The partner's business reviews in the portal, the printable page and its PDF."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from partners.models import Notice
from scoring.models import JointBusinessPlan, Qbr, QbrActionItem
from scoring.services.reviews import (
    qbr_action_item_add,
    qbr_refresh,
    qbr_schedule,
    qbr_share,
    qbr_update,
)
from tests.factories import WonDealFactory

pytestmark = pytest.mark.django_db


def make_qbr(partner, quarter="2026Q4", *, shared=False, **fields) -> Qbr:
    qbr = Qbr.objects.create(
        partner=partner,
        quarter=quarter,
        cadence="quarterly",
        scheduled_for=fields.pop("scheduled_for", date(2026, 10, 20)),
        shared_with_partner=shared,
        **fields,
    )
    qbr_refresh(qbrs=[qbr])
    qbr.refresh_from_db()
    return qbr


@pytest.fixture
def prepared(qbr_scenario, manager, a_admin):
    qbr = qbr_schedule(
        partner=qbr_scenario["partner"],
        quarter="2026Q4",
        scheduled_for=date(2026, 10, 20),
        by=manager,
    )
    qbr_action_item_add(
        qbr=qbr, by=manager, text="Certify a second rep", owner=a_admin, due_on=date(2026, 11, 30)
    )
    qbr_action_item_add(
        qbr=qbr, by=manager, text="Plan the spring roadshow", owner_name="Alpha marketing"
    )
    qbr_update(qbr=qbr, by=manager, notes="Agreed to push Umbrella before expiry.")
    return qbr


def test_partner_sees_only_shared_reviews(client, a_rep, partner_a, partner_b, manager):
    shared = make_qbr(partner_a, "2026Q3", shared=True, scheduled_for=date(2026, 7, 20))
    unshared = make_qbr(partner_a, "2026Q4")
    theirs = make_qbr(partner_b, "2026Q4", shared=True)
    client.force_login(a_rep)
    page = client.get(reverse("portal-qbrs")).content.decode()
    assert 'data-testid="qbr-2026Q3"' in page
    assert 'data-testid="qbr-2026Q4"' not in page
    assert client.get(reverse("portal-qbr", args=[shared.pk])).status_code == 200
    for hidden in (unshared, theirs):
        for name in ("portal-qbr", "qbr-print", "qbr-pdf"):
            assert client.get(reverse(name, args=[hidden.pk])).status_code == 404


def test_sharing_shows_the_review_and_tells_the_partner(client, prepared, manager, a_admin):
    client.force_login(a_admin)
    assert client.get(reverse("portal-qbr", args=[prepared.pk])).status_code == 404
    qbr_share(qbr=prepared, by=manager)
    notice = Notice.objects.get(partner=prepared.partner)
    assert notice.link == reverse("portal-qbr", args=[prepared.pk])
    assert "2026Q4" in notice.text
    page = client.get(reverse("portal-qbr", args=[prepared.pk])).content.decode()
    assert "Business review 2026Q4" in page
    assert "Umbrella" in page and "Zero-trust webinar" in page
    assert "Certify a second rep" in page and "Alpha marketing" in page
    assert "Agreed to push Umbrella before expiry." in page
    assert "Bravo" not in page
    qbr_share(qbr=prepared, by=manager, shared=False)
    assert client.get(reverse("portal-qbr", args=[prepared.pk])).status_code == 404


def test_manager_sees_unshared_reviews_of_their_partners(client, prepared, manager, other_manager):
    client.force_login(manager)
    listing = client.get(reverse("portal-qbrs"), {"partner": prepared.partner_id})
    assert "not shared" in listing.content.decode()
    assert client.get(reverse("portal-qbr", args=[prepared.pk])).status_code == 200
    client.force_login(other_manager)
    assert client.get(reverse("portal-qbr", args=[prepared.pk])).status_code == 404
    assert client.get(reverse("portal-qbrs"), {"partner": prepared.partner_id}).status_code == 404


def test_the_printable_page_renders_every_section(client, prepared, manager):
    client.force_login(manager)
    response = client.get(reverse("qbr-print", args=[prepared.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    for section in (
        "scorecard",
        "pipeline",
        "win-loss",
        "enablement",
        "co-marketing",
        "growth",
        "escalations",
        "actions",
        "notes",
    ):
        assert f'data-testid="section-{section}"' in page
    assert "Quarterly business review 2026Q4" in page
    assert 'data-testid="score-total">71.33<' in page
    assert 'data-testid="win-rate">66.7%<' in page
    assert "$104,000" in page  # revenue to gold
    assert "Andy Rep" in page  # lapsed certification
    assert "<nav" in page  # a way back and to the PDF, hidden when printed


def test_the_pdf_is_a_pdf(client, prepared, manager):
    client.force_login(manager)
    response = client.get(reverse("qbr-pdf", args=[prepared.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert 'filename="qbr-2026Q4-alpha-systems.pdf"' in response["Content-Disposition"]


def test_business_plan_page_tracks_the_goal(client, qbr_scenario, a_rep):
    JointBusinessPlan.objects.create(
        partner=qbr_scenario["partner"], fiscal_year=2025, revenue_goal=Decimal("50000")
    )
    WonDealFactory(
        partner=qbr_scenario["partner"],
        partner_credit=Decimal("60000"),
        closed_on=date(2025, 6, 1),
    )
    client.force_login(a_rep)
    page = client.get(reverse("portal-business-plan")).content.decode()
    assert page.index('data-testid="plan-2026"') < page.index('data-testid="plan-2025"')
    assert "$96,000 of $300,000 (32%)" in page
    assert "$60,000 of $50,000 (100%)" in page and "goal reached" in page
    assert "Initech" in page
    summary = client.get(reverse("portal-qbrs")).content.decode()
    assert "FY2026 goal" in summary


def test_no_plan_and_no_review_yet_say_so(client, a_rep):
    client.force_login(a_rep)
    assert (
        "No joint business plan yet" in client.get(reverse("portal-business-plan")).content.decode()
    )
    assert "has not shared a business review" in client.get(reverse("portal-qbrs")).content.decode()


def test_staff_pages_need_a_partner_in_scope(client, manager, partner_b):
    client.force_login(manager)
    assert client.get(reverse("portal-qbrs")).status_code == 404
    assert client.get(reverse("portal-business-plan"), {"partner": partner_b.pk}).status_code == 404
    assert client.get(reverse("portal-qbrs"), {"partner": "x"}).status_code == 404


def _many(partner, manager, count: int) -> None:
    for index in range(count):
        year = 2020 + index
        qbr = make_qbr(partner, f"{year}Q4", shared=True, scheduled_for=date(year, 10, 20))
        for n in range(3):
            QbrActionItem.objects.create(qbr=qbr, text=f"Item {n}", owner=manager)
        JointBusinessPlan.objects.create(partner=partner, fiscal_year=year, revenue_goal=1000)


@pytest.mark.parametrize("count", [1, 6])
def test_list_pages_take_a_fixed_number_of_queries(
    client, a_rep, partner_a, manager, count, django_assert_max_num_queries
):
    _many(partner_a, manager, count)
    WonDealFactory(partner=partner_a, closed_on=date(2025, 3, 1))
    qbr = Qbr.objects.filter(partner=partner_a).first()
    client.force_login(a_rep)
    # The same bounds for one row and for six: nothing is fetched per review or per plan.
    with django_assert_max_num_queries(9):
        assert client.get(reverse("portal-qbrs")).status_code == 200
    with django_assert_max_num_queries(7):
        assert client.get(reverse("portal-business-plan")).status_code == 200
    with django_assert_max_num_queries(6):
        assert client.get(reverse("portal-qbr", args=[qbr.pk])).status_code == 200
    with django_assert_max_num_queries(6):
        assert client.get(reverse("qbr-print", args=[qbr.pk])).status_code == 200


def test_a_signed_in_stranger_gets_nothing(client, outsider, partner_a):
    qbr = make_qbr(partner_a, shared=True)
    client.force_login(outsider)
    assert client.get(reverse("portal-qbrs")).status_code == 404
    for name in ("portal-qbr", "qbr-print", "qbr-pdf"):
        assert client.get(reverse(name, args=[qbr.pk])).status_code == 404

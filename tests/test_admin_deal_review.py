"""The admin's deal review page: fieldsets, the decision panel, decisions in place, the
queue pending-first, money written one way."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from deals.services import deal_register
from partners.models import Account
from tests.factories import (
    DealFactory,
    LeadFactory,
    PartnerFactory,
    PartnerUserFactory,
    WonDealFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:deals_deal_changelist"


def change(deal) -> str:
    return reverse("admin:deals_deal_change", args=[deal.pk])


def decide(deal, name) -> str:
    return reverse("admin:deals_deal_decide", args=[deal.pk, name])


def _register(partner, name, domain, amount="5000"):
    return deal_register(
        partner=partner,
        submitted_by=PartnerUserFactory(partner=partner).user,
        customer_name=name,
        customer_domain=domain,
        amount=amount,
        expected_close=timezone.localdate() + timedelta(days=30),
        deal_type="new_logo",
        compensation_model="reseller",
    )


@pytest.fixture
def held(partner_a):
    """Partner A's registration of Globex GmbH (globex.de), held as probably the Globex
    Corporation (globex.com) that Echo Partners registered first."""
    echo = PartnerFactory(name="Echo Partners", domain="echo.example")
    _register(echo, "Globex Corporation", "globex.com")
    deal = _register(partner_a, "Globex GmbH", "globex.de", amount="21235.79")
    assert deal.needs_review
    return deal


def test_the_panel_shows_the_probable_duplicate_and_its_context(client, manager, held):
    LeadFactory(
        company_name="Globex Corporation", domain="globex.com", account=held.review_match.account
    )
    client.force_login(manager)
    response = client.get(change(held))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="decision-panel"' in page
    match = page[page.index('data-testid="decision-match"') :]
    assert "Echo Partners" in match and "globex.com" in match
    others = page[page.index('data-testid="decision-others"') :]
    assert "Echo Partners" in others.split("</table>")[0]
    leads = page[page.index('data-testid="decision-leads"') :].split("</table>")[0]
    assert "Globex Corporation" in leads
    assert "Probable same customer" in page
    # Another manager's partner's registration is named, never linked (it would be a 404).
    assert change(held.review_match) not in page
    assert "$21,235.79" in page  # money the one way
    assert "21235.79" not in page.replace("$21,235.79", "")
    # Decisions in place: a separate customer (approve) or the same (reject).
    assert decide(held, "separate") in page and decide(held, "same") in page
    assert reverse("manager-partner", args=[held.partner_id]) in page
    headings = [line for line in page.splitlines() if "<h2" in line]
    for title in ("Customer", "Money", "Protection", "Outcome", "History"):
        assert any(title in line for line in headings), title
    assert "Oem discount" not in page and "Csat" not in page


def test_direct_rep_and_the_split_are_shown(client, manager, partner_a):
    Account.objects.create(name="Initech", domain="initech.com", direct_rep="rep@vendor.example")
    deal = _register(partner_a, "Initech", "initech.com")
    assert deal.direct_conflict
    client.force_login(manager)
    page = client.get(change(deal)).content.decode()
    assert "rep@vendor.example" in page
    assert "Direct relationship" in page and "(direct/partner)" in page


def test_manager_rejects_with_a_reason_from_the_panel(client, manager, partner_a):
    deal = DealFactory(partner=partner_a)
    client.force_login(manager)
    page = client.get(change(deal)).content.decode()
    assert decide(deal, "approve") in page and decide(deal, "reject") in page
    empty = client.post(decide(deal, "reject"), {"reason": "  "})
    assert empty.status_code == 400
    assert "This field is required" in empty.content.decode() or "Say why" in (
        empty.content.decode()
    )
    deal.refresh_from_db()
    assert deal.status == "pending"
    done = client.post(decide(deal, "reject"), {"reason": "Not a real opportunity"})
    assert done.status_code == 302
    deal.refresh_from_db()
    assert (deal.status, deal.reason_note) == ("rejected", "Not a real opportunity")


def test_manager_decides_the_same_customer_from_the_panel(client, manager, held):
    client.force_login(manager)
    assert client.post(decide(held, "same"), {"note": ""}).status_code == 302
    held.refresh_from_db()
    assert (held.status, held.reason) == ("rejected", "registered_by_another_partner")


def test_executive_sees_the_panel_but_no_decision(client, executive, held):
    client.force_login(executive)
    page = client.get(change(held)).content.decode()
    assert 'data-testid="decision-panel"' in page
    assert 'data-testid="decision-actions"' not in page
    for name in ("separate", "same", "approve", "reject", "win", "lose"):
        assert decide(held, name) not in page
    assert client.post(decide(held, "same"), {"note": ""}).status_code == 403


def test_the_panel_costs_the_same_whatever_the_customers_history(
    client, manager, held, django_assert_max_num_queries
):
    account = held.review_match.account
    client.force_login(manager)
    with django_assert_max_num_queries(40) as small:
        assert client.get(change(held)).status_code == 200
    for n in range(15):
        other = PartnerFactory()
        DealFactory(partner=other, account=account, status="rejected", reason="existing_lead")
        LeadFactory(company_name=f"Globex {n}", account=account)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(change(held)).status_code == 200


def test_the_queue_opens_on_pending_held_first_then_oldest(client, manager, partner_a, held):
    now = timezone.now()
    old = DealFactory(
        partner=partner_a, customer_name="Old one", submitted_at=now - timedelta(hours=40)
    )
    DealFactory(partner=partner_a, customer_name="New one", submitted_at=now - timedelta(hours=1))
    WonDealFactory(partner=partner_a, customer_name="Won one", amount=Decimal("1234567.5"))
    client.force_login(manager)
    response = client.get(reverse(CHANGELIST))
    rows = list(response.context["cl"].result_list)
    assert [d.customer_name for d in rows] == ["Globex GmbH", "Old one", "New one"]
    assert old in rows
    everything = client.get(reverse(CHANGELIST) + "?status__exact=all")
    page = everything.content.decode()
    assert "Won one" in page and "$1,234,567.50" in page
    searched = client.get(reverse(CHANGELIST) + "?q=Won")
    assert "Won one" in searched.content.decode()


def test_an_unknown_status_in_the_queue_is_not_a_500(client, manager, partner_a):
    client.force_login(manager)
    response = client.get(reverse(CHANGELIST) + "?status__exact=nonsense")
    assert response.status_code in (200, 302, 400)


def test_money_and_dates_on_other_admin_lists(client, chief, partner_a):
    from tests.factories import LedgerEntryFactory

    LedgerEntryFactory(partner=partner_a, amount=Decimal("21235.79"))
    client.force_login(chief)
    page = client.get(reverse("admin:incentives_ledgerentry_changelist")).content.decode()
    assert "$21,235.79" in page

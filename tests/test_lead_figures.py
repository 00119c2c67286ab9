"""Lead distribution figures (RULEBOOK §11): acceptance rate, median time to accept and
conversion to a won deal, per partner, on the dashboard and in the QBR."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from partners.services import lead_create
from partners.services import leads as lead_services
from prm.quarters import Quarter
from scoring import lead_rules
from scoring.dashboard import leads as dashboard_leads
from scoring.qbr_rules import leads_section
from scoring.queries import lead_figures
from tests.factories import AccountFactory, PartnerUserFactory, WonDealFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)  # in 2026Q2


def test_the_figures_from_plain_rows():
    offers = [
        lead_rules.OfferRow(1, True, T0, T0 + timedelta(hours=2)),
        lead_rules.OfferRow(1, True, T0, T0 + timedelta(hours=10)),
        lead_rules.OfferRow(1, False, T0, T0 + timedelta(hours=1)),
        lead_rules.OfferRow(2, False, T0, T0 + timedelta(hours=48)),
    ]
    leads = [lead_rules.LeadCounts(1, accepted=2, won=1)]
    total, per_partner = lead_rules.lead_figures(offers, leads)
    assert total["acceptance_rate"] == Decimal("0.500")
    assert per_partner[1]["acceptance_rate"] == Decimal("0.667")
    assert per_partner[1]["median_hours_to_accept"] == Decimal("6.0")
    assert per_partner[1]["conversion_rate"] == Decimal("0.500")
    assert per_partner[2] | {} == {
        "offers": 1,
        "accepted": 0,
        "acceptance_rate": Decimal("0.000"),
        "median_hours_to_accept": None,
        "leads_accepted": 0,
        "leads_won": 0,
        "conversion_rate": None,
    }
    assert lead_rules.lead_figures([], [])[0]["acceptance_rate"] is None
    # Figured for the partners asked only; the totals are those of everyone.
    again, only = lead_rules.lead_figures(offers, leads, partners=[2, 3])
    assert again == total and set(only) == {2, 3}
    assert only[3]["offers"] == 0 and only[3]["conversion_rate"] is None
    assert lead_rules.busiest(offers, leads, limit=1) == [1]
    assert lead_rules.busiest(offers, [lead_rules.LeadCounts(4, 9, 0)], limit=5) == [1, 2, 4]


def test_figures_from_the_database_count_a_won_deal_on_the_leads_customer(
    partner_a, partner_b, manager, other_manager, django_assert_max_num_queries
):
    person = PartnerUserFactory(partner=partner_a).user
    with time_machine.travel(T0, tick=False) as clock:
        won = lead_create(company_name="Initech", domain="initech.example")
        lead_services.lead_reassign(lead=won, partner=partner_a, by=manager)
        idle = lead_create(company_name="Hooli", domain="hooli.example")
        lead_services.lead_reassign(lead=idle, partner=partner_a, by=manager)
        declined = lead_create(company_name="Umbrella")
        lead_services.lead_reassign(lead=declined, partner=partner_b, by=other_manager)
        clock.shift(timedelta(hours=3))
        lead_services.lead_accept(lead=won, partner=partner_a, by=person)
        clock.shift(timedelta(hours=2))
        lead_services.lead_accept(lead=idle, partner=partner_a, by=person)
        lead_services.lead_decline(
            lead=declined,
            partner=partner_b,
            by=PartnerUserFactory(partner=partner_b).user,
            reason="poor_fit",
        )
    # The deal was registered later, on an account the lead did not know yet.
    WonDealFactory(
        partner=partner_a,
        account=AccountFactory(name="Initech", domain="www.initech.example"),
        closed_on=date(2026, 5, 20),
    )
    # Another partner's win on the same customer is not partner A's conversion.
    WonDealFactory(partner=partner_b, account=AccountFactory(domain="hooli.example"))
    quarter = Quarter.parse("2026Q2")
    start = datetime(2026, 4, 1, tzinfo=UTC)
    until = datetime(2026, 7, 1, tzinfo=UTC)
    with django_assert_max_num_queries(2):
        total, per_partner = lead_figures(None, start=start, until=until)
    assert per_partner[partner_a.pk]["acceptance_rate"] == Decimal("1.000")
    assert per_partner[partner_a.pk]["median_hours_to_accept"] == Decimal("4.0")
    assert per_partner[partner_a.pk]["conversion_rate"] == Decimal("0.500")
    assert per_partner[partner_b.pk]["acceptance_rate"] == Decimal("0.000")
    assert total["acceptance_rate"] == Decimal("0.667")
    # Before the win closed, nothing had converted yet.
    _, early = lead_figures(None, start=start, until=datetime(2026, 5, 1, tzinfo=UTC))
    assert early[partner_a.pk]["leads_won"] == 0

    shown = dashboard_leads(None, quarter)
    assert [row["name"] for row in shown["partners"]] == [partner_a.name, partner_b.name]
    assert shown["acceptance_rate"] == Decimal("0.667")
    section = leads_section(per_partner[partner_a.pk], quarter="2026Q2")
    assert section["acceptance_rate"] == "1.000" and section["quarter"] == "2026Q2"


def test_a_lead_converts_by_its_account_or_by_its_name_when_neither_has_a_domain(
    partner_a, manager, django_assert_max_num_queries
):
    person = PartnerUserFactory(partner=partner_a).user
    known = AccountFactory(name="Globex", domain="globex.example")
    with time_machine.travel(T0, tick=False):
        by_account = lead_create(company_name="Globex", domain="globex.example")
        by_name = lead_create(company_name="Soylent")
        unmatched = lead_create(company_name="Vandelay")
        for lead in (by_account, by_name, unmatched):
            lead_services.lead_reassign(lead=lead, partner=partner_a, by=manager)
            lead_services.lead_accept(lead=lead, partner=partner_a, by=person)
    WonDealFactory(partner=partner_a, account=known, closed_on=date(2026, 5, 2))
    WonDealFactory(
        partner=partner_a, account=AccountFactory(name="Soylent", domain=""), closed_on=T0.date()
    )
    # A domain-less account with another name is not the third lead's customer.
    WonDealFactory(
        partner=partner_a,
        account=AccountFactory(name="Vandelay Industries", domain=""),
        closed_on=date(2026, 5, 3),
    )
    with django_assert_max_num_queries(2):
        _, per_partner = lead_figures(
            [partner_a.pk],
            start=datetime(2026, 4, 1, tzinfo=UTC),
            until=datetime(2026, 7, 1, tzinfo=UTC),
        )
    assert by_account.account_id == known.pk
    assert per_partner[partner_a.pk]["leads_accepted"] == 3
    assert per_partner[partner_a.pk]["leads_won"] == 2


def test_the_dashboard_page_and_its_json_show_the_lead_figures(client, api, executive):
    client.force_login(executive)
    page = client.get("/executive/").content.decode()
    assert 'data-testid="leads"' in page and "Acceptance rate" in page
    figures = api(executive).get("/api/v1/dashboard/").json()
    assert {"acceptance_rate", "median_hours_to_accept", "conversion_rate"} <= set(figures["leads"])

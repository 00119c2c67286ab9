"""A lead is never held by two partners, under real concurrency on PostgreSQL (separate
connections, one per thread)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from partners.models import Lead, LeadOffer, LeadStatus, RoutingRule
from partners.queries import default_program
from partners.services import lead_create
from partners.services import leads as lead_services
from tests.factories import PartnerFactory, PartnerUserFactory, StaffFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]


def all_at_once(calls) -> list:
    """Run each callable in its own thread, released together; their results or errors."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def attempt(index):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = ("ok", calls[index]())
        except Exception as exc:  # recorded and asserted on below
            outcomes[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def partners_in_emea(count):
    RoutingRule.objects.create(program=default_program(), name="EMEA", region="emea")
    partners = [PartnerFactory(region="emea") for _ in range(count)]
    for partner in partners:
        PartnerUserFactory(partner=partner)
    return partners


def test_twelve_routings_of_one_lead_at_once_leave_one_offer():
    partners_in_emea(6)
    lead = lead_create(company_name="Contested", region="emea")
    outcomes = all_at_once([lambda: lead_services.lead_route(lead=lead)] * 12)
    assert [kind for kind, _ in outcomes].count("ok") == 1, outcomes
    refused = [str(value) for kind, value in outcomes if kind == "error"]
    assert len(refused) == 11 and all("already with a partner" in text for text in refused)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.OFFERED
    (offer,) = LeadOffer.objects.filter(lead=lead)
    assert offer.partner_id == lead.partner_id and offer.answer == "pending"


def test_leads_routed_at_once_never_push_a_partner_past_its_capacity():
    partners = partners_in_emea(2)
    for partner in partners:
        partner.tier.lead_capacity = 3  # both registered: one tier, 3 places each
        partner.tier.save()
    leads = [lead_create(company_name=f"Lead {index}", region="emea") for index in range(10)]
    outcomes = all_at_once(
        [lambda lead=lead: lead_services.lead_route(lead=lead) for lead in leads]
    )
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    held = {
        partner.pk: Lead.objects.filter(partner=partner, status=LeadStatus.OFFERED).count()
        for partner in partners
    }
    assert held == {partners[0].pk: 3, partners[1].pk: 3}
    assert Lead.objects.filter(status=LeadStatus.RETURNED).count() == 4
    assert LeadOffer.objects.filter(answer="pending").count() == 6


def test_an_accept_racing_the_pullback_and_two_pullback_runs_keep_one_holder():
    StaffFactory(role="channel_chief")
    partners = partners_in_emea(3)
    lead = lead_create(company_name="Racing", region="emea")
    lead = lead_services.lead_route(lead=lead)
    holder = next(p for p in partners if p.pk == lead.partner_id)
    person = holder.members.get().user
    # Just inside the window for the answer, already past it for the jobs' clock.
    deadline = lead.offer_expires_at
    later = deadline + timedelta(seconds=1)
    outcomes = all_at_once(
        [
            lambda: lead_services.lead_accept(
                lead=lead, partner=holder, by=person, now=deadline - timedelta(seconds=1)
            ),
            lambda: lead_services.leads_pull_back(now=later),
            lambda: lead_services.leads_pull_back(now=later),
        ]
    )
    lead.refresh_from_db()
    offers = list(LeadOffer.objects.filter(lead=lead).order_by("offered_at", "pk"))
    pending = [offer for offer in offers if offer.answer == "pending"]
    assert len(pending) <= 1
    accepted = outcomes[0][0] == "ok"
    if accepted:
        assert (lead.status, lead.partner_id) == (LeadStatus.ACCEPTED, holder.pk)
        assert [offer.answer for offer in offers] == ["accepted"]
        assert outcomes[1][1] + outcomes[2][1] == 0
    else:
        # The job came first: the answer is refused and the lead went to the next match.
        assert "no longer offered" in str(outcomes[0][1])
        assert offers[0].answer == "expired"
        assert lead.status == LeadStatus.OFFERED and lead.partner_id != holder.pk
        assert outcomes[1][1] + outcomes[2][1] == 1

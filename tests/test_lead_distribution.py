"""Lead distribution services against RULEBOOK §11: routing, answers, pullback, return."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from deals import services as deal_services
from integrations.models import Event
from partners import rules
from partners.models import LeadOffer, LeadStatus, Notice, RoutingRule
from partners.services import lead_create, lead_update
from partners.services import leads as lead_services
from partners.services.leads import LeadAnswerRefused
from partners.tasks import leads_pull_back
from tests.factories import PartnerFactory, PartnerUserFactory, StaffFactory, default_tier

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def now():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def emea_rule(db):
    from partners.queries import default_program

    return RoutingRule.objects.create(
        program=default_program(), name="EMEA by region", region="emea", priority=10
    )


def emea_partner(name, tier="registered", **fields):
    partner = PartnerFactory(name=name, region="emea", tier=default_tier(tier), **fields)
    PartnerUserFactory(partner=partner)
    return partner


def new_lead(**fields):
    fields = {"company_name": "Initech", "domain": "initech.example", "region": "emea", **fields}
    return lead_create(**fields)


def hold(partner, count):
    """Give ``partner`` ``count`` accepted leads."""
    for index in range(count):
        lead_create(company_name=f"Held {partner.pk}-{index}", partner=partner)


# ---------------------------------------------------------------- the rules, pure


def test_fewest_open_leads_relative_to_capacity_wins_not_the_fewest_leads():
    lead = rules.LeadFacts(region="emea")
    rule = rules.RuleFacts(id=1, program_id=1, region="emea")
    small = rules.PartnerFacts(1, 1, 1, capacity=5, open_leads=2, region="emea")  # 40 %
    large = rules.PartnerFacts(2, 1, 2, capacity=20, open_leads=6, region="emea")  # 30 %
    assert rules.choose_partner(lead, [rule], [small, large]) == rules.Choice(1, 2)


def test_ties_go_to_the_longest_wait_and_never_offered_waits_longest():
    lead = rules.LeadFacts(region="emea")
    rule = rules.RuleFacts(id=1, program_id=1)
    recent = rules.PartnerFacts(1, 1, 1, 5, 0, last_offered_at=T0, region="emea")
    earlier = rules.PartnerFacts(2, 1, 1, 5, 0, T0 - timedelta(days=1), region="emea")
    never = rules.PartnerFacts(3, 1, 1, 5, 0, region="emea")
    assert rules.choose_partner(lead, [rule], [recent, earlier]).partner_id == 2
    assert rules.choose_partner(lead, [rule], [recent, earlier, never]).partner_id == 3


def test_a_partner_at_capacity_or_already_offered_is_skipped():
    lead = rules.LeadFacts(region="emea")
    rule = rules.RuleFacts(id=1, program_id=1)
    full = rules.PartnerFacts(1, 1, 1, capacity=5, open_leads=5, region="emea")
    other = rules.PartnerFacts(2, 1, 1, capacity=5, open_leads=4, region="emea")
    assert rules.choose_partner(lead, [rule], [full, other]).partner_id == 2
    assert rules.choose_partner(lead, [rule], [full, other], exclude={2}) is None


def test_rules_match_country_region_tier_specialty_and_language_in_priority_order():
    lead = rules.LeadFacts(country="DE", region="emea", specialty="security", language="de")
    german = rules.PartnerFacts(
        1, 1, 1, 5, 0, countries=frozenset({"DE"}), specialties=frozenset({"security"})
    )
    french = rules.PartnerFacts(2, 1, 2, 5, 0, countries=frozenset({"FR"}), region="emea")
    regional = rules.PartnerFacts(3, 1, 2, 5, 0, region="emea", languages=frozenset({"de"}))
    by_specialty = rules.RuleFacts(1, 1, specialty="security", match_specialty=True)
    by_language = rules.RuleFacts(2, 1, match_language=True, tier_ids=frozenset({2}))
    wrong_country = rules.RuleFacts(3, 1, countries=frozenset({"FR"}))
    partners = [german, french, regional]
    # The partner listing countries covers those only; one listing none, its region.
    assert not rules.covers(wrong_country, lead, french)
    assert rules.choose_partner(lead, [wrong_country], partners) is None
    assert rules.choose_partner(lead, [by_specialty, by_language], partners) == rules.Choice(1, 1)
    assert rules.choose_partner(lead, [by_language, by_specialty], partners) == rules.Choice(2, 3)


# ---------------------------------------------------------------- routing and answers


def test_a_routed_lead_is_offered_to_the_least_loaded_match_with_notice_and_event(emea_rule, now):
    busy, idle = emea_partner("Busy"), emea_partner("Idle")
    PartnerFactory(name="Elsewhere", region="apac")
    hold(busy, 1)
    lead = new_lead(route=True)
    assert (lead.status, lead.partner) == (LeadStatus.OFFERED, idle)
    assert lead.offer_expires_at == T0 + timedelta(hours=48)
    (offer,) = lead.offers.all()
    assert (offer.partner, offer.kind, offer.rule, offer.answer) == (
        idle,
        "rule",
        emea_rule,
        "pending",
    )
    assert Notice.objects.filter(partner=idle, text__contains="Initech").exists()
    assert Event.objects.filter(kind="lead.assigned", partner=idle).exists()


def test_a_lead_created_with_its_partner_is_accepted_at_once_and_never_routed(emea_rule, now):
    chosen = emea_partner("Chosen")
    emea_partner("Idle")
    lead = lead_create(company_name="Umbrella", partner=chosen, source="partner")
    assert (lead.status, lead.partner, lead.accepted_at) == (LeadStatus.ACCEPTED, chosen, T0)
    assert not lead.offers.exists()
    assert lead_services.leads_pull_back(now=T0 + timedelta(days=30)) == 0
    lead.refresh_from_db()
    assert (lead.status, lead.partner) == (LeadStatus.ACCEPTED, chosen)


def test_accepting_makes_the_lead_the_partners_and_registrable(emea_rule, now):
    partner = emea_partner("Taker")
    person = partner.members.get().user
    lead = new_lead(route=True)
    now.shift(timedelta(hours=1))
    # Merely offered: a registration of the customer is still refused as an existing lead.
    offered = deal_services.deal_register(
        partner=partner,
        submitted_by=person,
        customer_name="Initech",
        customer_domain="initech.example",
        amount="1000.00",
        expected_close=date(2026, 6, 30),
        deal_type="new_logo",
        compensation_model="reseller",
    )
    assert offered.reason == "existing_lead"
    offered.delete()
    lead = lead_services.lead_accept(lead=lead, partner=partner, by=person)
    assert (lead.status, lead.accepted_at) == (LeadStatus.ACCEPTED, T0 + timedelta(hours=1))
    offer = lead.offers.get()
    assert (offer.answer, offer.answered_by) == ("accepted", person)
    deal = deal_services.deal_register(
        partner=partner,
        submitted_by=person,
        customer_name="Initech",
        customer_domain="initech.example",
        amount="1000.00",
        expected_close=date(2026, 6, 30),
        deal_type="new_logo",
        compensation_model="reseller",
    )
    assert (deal.status, deal.reason) == ("pending", "")


def test_another_partner_cannot_answer_and_a_late_answer_is_refused(emea_rule, now):
    first, second = emea_partner("First"), emea_partner("Second")
    lead = new_lead(route=True)
    holder, other = (first, second) if lead.partner == first else (second, first)
    with pytest.raises(LeadAnswerRefused, match="no longer offered"):
        lead_services.lead_accept(lead=lead, partner=other, by=other.members.get().user)
    now.shift(timedelta(hours=48))
    with pytest.raises(LeadAnswerRefused, match="time to answer"):
        lead_services.lead_accept(lead=lead, partner=holder, by=holder.members.get().user)


@pytest.mark.parametrize(
    ("reason", "note", "field"),
    [
        ("", "", "reason"),
        ("bogus", "", "reason"),
        ("other", "  ", "note"),
        ("poor_fit", "x" * 1001, "note"),
    ],
)
def test_a_decline_needs_a_listed_reason_and_other_needs_words(emea_rule, now, reason, note, field):
    partner = emea_partner("Decliner")
    lead = new_lead(route=True)
    with pytest.raises(ValidationError) as refused:
        lead_services.lead_decline(
            lead=lead, partner=partner, by=partner.members.get().user, reason=reason, note=note
        )
    assert field in refused.value.message_dict
    lead.refresh_from_db()
    assert (lead.status, lead.partner) == (LeadStatus.OFFERED, partner)


def test_a_declined_lead_goes_to_the_next_match_with_the_reason_kept(emea_rule, now):
    first, second = emea_partner("First"), emea_partner("Second")
    lead = new_lead(route=True)
    holder = lead.partner
    lead = lead_services.lead_decline(
        lead=lead,
        partner=holder,
        by=holder.members.get().user,
        reason="other",
        note="  We only sell to banks. ",
    )
    assert lead.status == LeadStatus.OFFERED
    assert lead.partner == ({first, second} - {holder}).pop()
    declined = lead.offers.get(partner=holder)
    assert (declined.answer, declined.decline_reason, declined.decline_note) == (
        "declined",
        "other",
        "We only sell to banks.",
    )


def test_the_beat_pulls_back_unanswered_offers_reoffers_and_after_three_returns(
    emea_rule, now, manager, queued_mail, django_capture_on_commit_callbacks
):
    partners = [emea_partner(f"P{index}", channel_manager=manager) for index in range(4)]
    lead = new_lead(route=True)
    now.shift(timedelta(hours=47, minutes=59))
    assert leads_pull_back() == 0  # still within its window
    for _ in range(2):
        now.shift(timedelta(hours=48))
        assert leads_pull_back() == 1
        assert leads_pull_back() == 0  # a second run finds nothing left
    lead.refresh_from_db()
    assert (lead.status, lead.rule_offers) == (LeadStatus.OFFERED, 3)
    now.shift(timedelta(hours=48))
    with django_capture_on_commit_callbacks(execute=True):
        assert leads_pull_back() == 1
    lead.refresh_from_db()
    assert (lead.status, lead.partner, lead.returned_at) == (
        LeadStatus.RETURNED,
        None,
        timezone.now(),
    )
    offers = list(lead.offers.all())
    assert [offer.answer for offer in offers] == ["expired", "expired", "expired"]
    # Three different partners, in the order of the longest wait (never offered, by id).
    assert [offer.partner for offer in offers] == partners[:3]
    assert queued_mail() == 1
    (message,) = mail.outbox
    assert message.to == [manager.email]
    assert "Initech" in message.subject


def test_no_match_returns_the_lead_to_the_chiefs(
    emea_rule, now, queued_mail, django_capture_on_commit_callbacks
):
    chief = StaffFactory(username="chief2", role="channel_chief", email="chief@vendor.example")
    with django_capture_on_commit_callbacks(execute=True):
        lead = new_lead(region="apac", route=True)
    assert (lead.status, lead.partner) == (LeadStatus.RETURNED, None)
    assert queued_mail() == 1
    (message,) = mail.outbox
    assert message.to == [chief.email]


def test_capacity_is_the_tiers_and_a_full_partner_gets_no_offer(emea_rule, now):
    full = emea_partner("Full")
    assert full.tier.lead_capacity == 5
    hold(full, 5)
    lead = new_lead(route=True)
    assert lead.status == LeadStatus.RETURNED
    full.tier.lead_capacity = 6
    full.tier.save()
    lead = lead_services.lead_route(lead=lead)
    assert (lead.status, lead.partner) == (LeadStatus.OFFERED, full)


def test_default_capacities_by_tier():
    assert [
        default_tier(slug).lead_capacity for slug in ("registered", "silver", "gold", "platinum")
    ] == [5, 10, 20, 40]


def test_a_manual_reassignment_withdraws_the_offer_and_comes_back_on_decline(
    emea_rule, now, manager
):
    first = emea_partner("First")
    chosen = PartnerFactory(name="Chosen", region="apac", channel_manager=manager)
    PartnerUserFactory(partner=chosen)
    lead = new_lead(route=True)
    assert lead.partner == first
    lead = lead_services.lead_reassign(lead=lead, partner=chosen, by=manager)
    assert (lead.status, lead.partner) == (LeadStatus.OFFERED, chosen)
    assert list(lead.offers.values_list("answer", "kind")) == [
        ("withdrawn", "rule"),
        ("pending", "manual"),
    ]
    with pytest.raises(ValidationError, match="already with"):
        lead_services.lead_reassign(lead=lead, partner=chosen, by=manager)
    lead = lead_services.lead_decline(
        lead=lead, partner=chosen, by=chosen.members.get().user, reason="no_capacity"
    )
    assert (lead.status, lead.partner) == (LeadStatus.RETURNED, None)


def test_routing_a_held_lead_is_refused(emea_rule, now):
    emea_partner("Holder")
    lead = new_lead(route=True)
    with pytest.raises(ValidationError, match="reassign"):
        lead_services.lead_route(lead=lead)


def test_passing_an_offered_lead_directly_withdraws_its_offer(emea_rule, now):
    offered = emea_partner("Offered")
    direct = PartnerFactory(name="Direct", region="apac")
    lead = new_lead(route=True)
    assert lead.partner == offered
    lead = lead_update(lead=lead, partner=direct)
    assert (lead.status, lead.partner) == (LeadStatus.ACCEPTED, direct)
    assert lead.offers.get().answer == LeadOffer.Answer.WITHDRAWN
    lead = lead_update(lead=lead, partner=None)
    assert (lead.status, lead.partner) == (LeadStatus.NEW, None)

"""After a lead is accepted (RULEBOOK §11): registering its customer converts it, closing it
with a reason ends it; both free the place it took of the partner's lead capacity."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from deals import services as deal_services
from deals.models import Deal
from partners.models import Lead, LeadStatus, RoutingRule
from partners.queries import default_program
from partners.services import lead_create
from partners.services import leads as lead_services
from scoring.queries import lead_figures
from tests.factories import AccountFactory, PartnerUserFactory, default_tier

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def now():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def accepted(partner, manager, person, name="Initech", domain=None, **fields):
    """A lead offered to ``partner`` by its manager and accepted by ``person``."""
    domain = f"{name.lower()}.example" if domain is None else domain
    lead = lead_create(company_name=name, domain=domain, **fields)
    lead_services.lead_reassign(lead=lead, partner=partner, by=manager)
    return lead_services.lead_accept(lead=lead, partner=partner, by=person)


def register(partner, person, name="Initech", domain="initech.example"):
    return deal_services.deal_register(
        partner=partner,
        submitted_by=person,
        customer_name=name,
        customer_domain=domain,
        amount="1000.00",
        expected_close=date(2026, 6, 30),
        deal_type="new_logo",
        compensation_model="reseller",
    )


# ---------------------------------------------------------------- conversion


@pytest.mark.parametrize(
    ("lead_domain", "deal_name", "deal_domain"),
    [
        ("initech.example", "Initech", "initech.example"),  # the same account
        ("initech.example", "Initech Holdings", "www.initech.example"),  # registrable domain
        ("", "Initech", ""),  # no domain: the same name
    ],
)
def test_registering_the_customer_converts_the_accepted_lead(
    partner_a, manager, a_rep, now, lead_domain, deal_name, deal_domain
):
    lead = accepted(partner_a, manager, a_rep, domain=lead_domain)
    now.shift(timedelta(hours=2))
    deal = register(partner_a, a_rep, deal_name, deal_domain)
    assert (deal.status, deal.reason) == ("pending", "")  # the existing_lead exemption
    lead.refresh_from_db()
    assert (lead.status, lead.converted_deal, lead.converted_at) == (
        LeadStatus.CONVERTED,
        deal,
        T0 + timedelta(hours=2),
    )
    # Converted, it still exempts the partner's next registration of the customer.
    deal.delete()
    again = register(partner_a, a_rep, deal_name, deal_domain)
    assert again.reason != "existing_lead"


def test_a_registration_does_not_convert_other_customers_or_other_partners_leads(
    partner_a, partner_b, manager, other_manager, a_rep, b_admin, now
):
    mine = accepted(partner_a, manager, a_rep, "Hooli")
    theirs = accepted(partner_b, other_manager, b_admin, "Initech")
    offered = lead_create(company_name="Initech", domain="initech.example")
    lead_services.lead_reassign(lead=offered, partner=partner_a, by=manager)
    now.shift(timedelta(hours=1))
    deal = register(partner_a, a_rep)  # Initech: partner B's lead came first
    assert deal.reason == "existing_lead"
    for lead in (mine, theirs, offered):
        lead.refresh_from_db()
    assert (mine.status, theirs.status, offered.status) == ("accepted", "accepted", "offered")
    assert Lead.objects.filter(converted_deal__isnull=False).count() == 0


def test_a_rejected_registration_converts_nothing(partner_a, partner_b, manager, a_rep, now):
    lead = accepted(partner_a, manager, a_rep)
    # Another partner protects the customer: partner A's registration is rejected.
    register(partner_b, PartnerUserFactory(partner=partner_b).user)
    deal = register(partner_a, a_rep)
    assert deal.status == "rejected"
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED


# ---------------------------------------------------------------- capacity


def test_converted_and_closed_leads_free_their_places(partner_a, manager, a_rep, now):
    partner_a.region = "emea"
    partner_a.tier = default_tier("registered")  # room for 5
    partner_a.save()
    RoutingRule.objects.create(program=default_program(), name="EMEA", region="emea")
    held = [accepted(partner_a, manager, a_rep, f"Held{index}") for index in range(5)]
    full = lead_create(company_name="Waiting", region="emea", route=True)
    assert full.status == LeadStatus.RETURNED  # no partner with room
    register(partner_a, a_rep, "Held0", "held0.example")
    lead_services.lead_close(lead=held[1], partner=partner_a, by=a_rep, reason="no_budget")
    first = lead_create(company_name="First", region="emea", route=True)
    second = lead_create(company_name="Second", region="emea", route=True)
    third = lead_create(company_name="Third", region="emea", route=True)
    assert [lead.status for lead in (first, second, third)] == ["offered", "offered", "returned"]


# ---------------------------------------------------------------- closing


def test_closing_keeps_who_when_and_why(partner_a, manager, a_rep, now):
    lead = accepted(partner_a, manager, a_rep)
    now.shift(timedelta(days=3))
    lead_services.lead_close(
        lead=lead, partner=partner_a, by=a_rep, reason="other", note="  Bought elsewhere. "
    )
    lead.refresh_from_db()
    assert (lead.status, lead.partner, lead.close_reason, lead.close_note) == (
        LeadStatus.CLOSED,
        partner_a,
        "other",
        "Bought elsewhere.",
    )
    assert (lead.closed_at, lead.closed_by) == (T0 + timedelta(days=3), a_rep)
    # A closed lead still exempts the partner's registration of the customer.
    assert register(partner_a, a_rep).reason == ""


@pytest.mark.parametrize(
    ("reason", "note", "field"),
    [
        ("", "", "reason"),
        ("nonsense", "", "reason"),
        ("other", "  ", "note"),
        ("no_interest", "x" * 1001, "note"),
    ],
)
def test_a_close_needs_a_listed_reason_and_other_needs_words(
    partner_a, manager, a_rep, now, reason, note, field
):
    lead = accepted(partner_a, manager, a_rep)
    with pytest.raises(lead_services.ValidationError) as refused:
        lead_services.lead_close(lead=lead, partner=partner_a, by=a_rep, reason=reason, note=note)
    assert field in refused.value.message_dict
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED


def test_only_an_accepted_lead_of_the_partner_closes(partner_a, partner_b, manager, a_rep, now):
    lead = lead_create(company_name="Initech")
    lead_services.lead_reassign(lead=lead, partner=partner_a, by=manager)
    with pytest.raises(lead_services.LeadAnswerRefused):  # offered, not accepted
        lead_services.lead_close(lead=lead, partner=partner_a, by=a_rep, reason="no_budget")
    lead_services.lead_accept(lead=lead, partner=partner_a, by=a_rep)
    with pytest.raises(lead_services.LeadAnswerRefused):  # another partner
        lead_services.lead_close(lead=lead, partner=partner_b, by=a_rep, reason="no_budget")
    lead_services.lead_close(lead=lead, partner=partner_a, by=a_rep, reason="no_budget")
    with pytest.raises(lead_services.LeadAnswerRefused):  # already closed
        lead_services.lead_close(lead=lead, partner=partner_a, by=a_rep, reason="duplicate")
    with pytest.raises(lead_services.ValidationError):  # not offered again by a manager
        lead_services.lead_reassign(lead=lead, partner=partner_b, by=manager)


# ---------------------------------------------------------------- portal


def test_closing_in_the_portal(client, a_rep, partner_a, manager, now):
    lead = accepted(partner_a, manager, a_rep)
    client.force_login(a_rep)
    inbox = client.get(reverse("portal-leads")).content.decode()
    assert f'data-testid="close-{lead.pk}"' in inbox
    form = client.get(reverse("portal-lead-close", args=[lead.pk])).content.decode()
    assert "Why do you close it?" in form and "No budget" in form
    response = client.post(reverse("portal-lead-close", args=[lead.pk]), {"reason": "no_budget"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.status, lead.close_reason, lead.closed_by) == ("closed", "no_budget", a_rep)
    inbox = client.get(reverse("portal-leads")).content.decode()
    assert f'data-testid="close-{lead.pk}"' not in inbox and "No budget" in inbox
    again = client.post(reverse("portal-lead-close", args=[lead.pk]), {"reason": "no_budget"})
    assert again.status_code == 409
    assert "Only a lead you accepted" in again.content.decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "This field is required"),
        ({"reason": "nonsense"}, "Select a valid choice"),
        ({"reason": "other", "note": "   "}, "Say why in a few words"),
        ({"reason": "no_interest", "note": "x" * 1001}, "at most 1000 characters"),
    ],
)
def test_a_bad_close_in_the_portal_is_a_400_with_a_message(
    client, a_rep, partner_a, manager, now, body, message
):
    lead = accepted(partner_a, manager, a_rep)
    client.force_login(a_rep)
    response = client.post(reverse("portal-lead-close", args=[lead.pk]), body)
    assert response.status_code == 400
    assert message in response.content.decode()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED


def test_another_partners_lead_cannot_be_closed_in_the_portal(
    client, b_admin, manager, partner_a, a_rep, now
):
    lead = accepted(partner_a, manager, a_rep)
    client.force_login(b_admin)
    assert client.get(reverse("portal-lead-close", args=[lead.pk])).status_code == 404
    assert (
        client.post(
            reverse("portal-lead-close", args=[lead.pk]), {"reason": "no_budget"}
        ).status_code
        == 404
    )
    client.force_login(manager)
    assert client.get(reverse("portal-lead-close", args=[lead.pk])).status_code == 403
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED


def test_the_inbox_with_closed_and_converted_leads_stays_flat(
    client, a_rep, partner_a, manager, now, django_assert_max_num_queries
):
    accepted(partner_a, manager, a_rep, "First")
    client.force_login(a_rep)
    with django_assert_max_num_queries(14) as few:
        client.get(reverse("portal-leads"))
    for index in range(4):
        closed = accepted(partner_a, manager, a_rep, f"Closed{index}")
        lead_services.lead_close(lead=closed, partner=partner_a, by=a_rep, reason="duplicate")
        accepted(partner_a, manager, a_rep, f"Conv{index}")
        register(partner_a, a_rep, f"Conv{index}", f"conv{index}.example")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("portal-leads")).content.decode()
    assert page.count("Registered") >= 4 and page.count("Duplicate of another lead") == 4


# ---------------------------------------------------------------- API


def test_api_close(api, a_rep, partner_a, manager, now, django_assert_max_num_queries):
    lead = accepted(partner_a, manager, a_rep)
    client = api(a_rep)
    with django_assert_max_num_queries(12):
        response = client.post(
            f"/api/v1/leads/{lead.pk}/close/",
            {"reason": "unreachable", "note": "Three calls."},
            format="json",
        )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["close_reason"], body["close_note"]) == (
        "closed",
        "unreachable",
        "Three calls.",
    )
    again = client.post(f"/api/v1/leads/{lead.pk}/close/", {"reason": "unreachable"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "not_accepted"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": "nonsense"}, "reason"),
        ({"reason": "other"}, "note"),
        ({"reason": "no_budget", "note": "x" * 1001}, "note"),
        ({"reason": ["no_budget"]}, "reason"),
    ],
)
def test_api_bad_close_is_a_400_naming_the_field(api, a_rep, partner_a, manager, now, body, field):
    lead = accepted(partner_a, manager, a_rep)
    response = api(a_rep).post(f"/api/v1/leads/{lead.pk}/close/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED


def test_api_close_scope(api, a_rep, b_admin, partner_a, manager, now):
    lead = accepted(partner_a, manager, a_rep)
    body = {"reason": "no_budget"}
    assert (
        api(b_admin).post(f"/api/v1/leads/{lead.pk}/close/", body, format="json").status_code == 404
    )
    assert (
        api(manager).post(f"/api/v1/leads/{lead.pk}/close/", body, format="json").status_code == 403
    )
    assert api(None).post(f"/api/v1/leads/{lead.pk}/close/", body, format="json").status_code == 401
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED


# ---------------------------------------------------------------- admin and figures


def test_the_admin_queue_filters_converted_and_closed(client, manager, partner_a, a_rep, now):
    converted = accepted(partner_a, manager, a_rep, "Converted")
    register(partner_a, a_rep, "Converted", "converted.example")
    closed = accepted(partner_a, manager, a_rep, "Closedco")
    lead_services.lead_close(lead=closed, partner=partner_a, by=a_rep, reason="no_interest")
    accepted(partner_a, manager, a_rep, "Stillopen")
    client.force_login(manager)
    url = reverse("admin:partners_lead_changelist")
    page = client.get(url + "?queue=converted").content.decode()
    assert "Converted" in page and "Closedco" not in page and "Stillopen" not in page
    page = client.get(url + "?queue=closed").content.decode()
    assert "Closedco" in page and "Stillopen" not in page
    change = client.get(reverse("admin:partners_lead_change", args=[closed.pk])).content.decode()
    assert "No interest" in change
    change = client.get(reverse("admin:partners_lead_change", args=[converted.pk])).content.decode()
    assert "registered as" in change.lower()


def test_figures_count_closed_leads_and_a_converted_deal_won(partner_a, manager, a_rep):
    with time_machine.travel(datetime(2026, 4, 6, 9, 0, tzinfo=UTC), tick=False):
        won = accepted(partner_a, manager, a_rep, "Initech")
        deal = register(partner_a, a_rep, "Initech", "initech.example")
        closed = accepted(partner_a, manager, a_rep, "Hooli")
        lead_services.lead_close(lead=closed, partner=partner_a, by=a_rep, reason="no_budget")
    # The registration was won under another spelling on a different account: the link to
    # the converted lead still counts it.
    Deal.objects.filter(pk=deal.pk).update(
        account=AccountFactory(name="Initrode", domain="initrode.example"),
        status="won",
        approved_at=datetime(2026, 4, 6, 12, 0, tzinfo=UTC),
        closed_on=date(2026, 5, 2),
        closed_amount=deal.amount,
        closed_amount_reporting=deal.amount,
        closed_rate=1,
        closed_rate_day=date(2026, 5, 2),
        partner_credit=deal.amount,
        margin_rate="0.15",
    )
    won.refresh_from_db()
    assert won.converted_deal == deal
    _, figures = lead_figures(
        [partner_a.pk],
        start=datetime(2026, 4, 1, tzinfo=UTC),
        until=datetime(2026, 7, 1, tzinfo=UTC),
    )
    assert (figures[partner_a.pk]["leads_accepted"], figures[partner_a.pk]["leads_won"]) == (2, 1)

"""The faces of lead distribution: the portal's Leads inbox, the API, the admin's queue."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from partners.models import Lead, LeadOffer, LeadStatus, RoutingRule
from partners.queries import default_program
from partners.services import lead_create
from partners.services import leads as lead_services
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def now():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def offer(partner, manager, name="Initech"):
    """A lead offered to ``partner`` by its manager."""
    lead = lead_create(company_name=name, domain=f"{name.lower()}.example")
    return lead_services.lead_reassign(lead=lead, partner=partner, by=manager)


# ---------------------------------------------------------------- portal


def test_the_inbox_lists_offers_and_held_leads_in_flat_queries(
    client, a_rep, partner_a, manager, now, django_assert_max_num_queries
):
    offer(partner_a, manager, "Initech")
    lead_create(company_name="Umbrella", partner=partner_a)
    client.force_login(a_rep)
    with django_assert_max_num_queries(14) as few:
        page = client.get(reverse("portal-leads")).content.decode()
    assert "Initech" in page and "Umbrella" in page and "in 2\xa0days" in page
    for index in range(8):
        offer(partner_a, manager, f"More{index}")
        lead_create(company_name=f"Held{index}", partner=partner_a)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("portal-leads")).content.decode()
    assert page.count('data-testid="offer-') == 9


def test_accepting_in_the_portal(client, a_rep, partner_a, manager, now):
    lead = offer(partner_a, manager)
    client.force_login(a_rep)
    response = client.post(reverse("portal-lead-accept", args=[lead.pk]), follow=True)
    assert "You accepted Initech" in response.content.decode()
    lead.refresh_from_db()
    assert (lead.status, lead.partner) == (LeadStatus.ACCEPTED, partner_a)
    # Accepting again: the lead is no longer offered; said so, nothing changes.
    again = client.post(reverse("portal-lead-accept", args=[lead.pk]))
    assert again.status_code == 409
    assert "no longer offered" in again.content.decode()


def test_a_late_accept_is_refused_with_a_message(client, a_rep, partner_a, manager, now):
    lead = offer(partner_a, manager)
    now.shift(timedelta(hours=49))
    client.force_login(a_rep)
    response = client.post(reverse("portal-lead-accept", args=[lead.pk]))
    assert response.status_code == 409
    assert "time to answer this lead has passed" in response.content.decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "This field is required"),
        ({"reason": "nonsense"}, "Select a valid choice"),
        ({"reason": "other", "note": "   "}, "Say why in a few words"),
        ({"reason": "poor_fit", "note": "x" * 1001}, "at most 1000 characters"),
    ],
)
def test_a_bad_decline_is_a_400_with_a_message_and_nothing_changes(
    client, a_rep, partner_a, manager, now, body, message
):
    lead = offer(partner_a, manager)
    client.force_login(a_rep)
    response = client.post(reverse("portal-lead-decline", args=[lead.pk]), body)
    assert response.status_code == 400
    assert message in response.content.decode()
    lead.refresh_from_db()
    assert (lead.status, lead.partner) == (LeadStatus.OFFERED, partner_a)


def test_declining_in_the_portal_keeps_the_reason(client, a_rep, partner_a, manager, now):
    lead = offer(partner_a, manager)
    client.force_login(a_rep)
    form = client.get(reverse("portal-lead-decline", args=[lead.pk]))
    assert "Why do you decline it?" in form.content.decode()
    response = client.post(
        reverse("portal-lead-decline", args=[lead.pk]),
        {"reason": "other", "note": "Only banks for us."},
    )
    assert response.status_code == 302
    answered = LeadOffer.objects.get(lead=lead)
    assert (answered.answer, answered.decline_reason, answered.decline_note) == (
        "declined",
        "other",
        "Only banks for us.",
    )
    lead.refresh_from_db()
    assert lead.status == LeadStatus.RETURNED  # a manager's own offer comes back to them


def test_another_partners_lead_is_a_404_in_the_portal(client, b_admin, partner_a, manager, now):
    lead = offer(partner_a, manager)
    client.force_login(b_admin)
    assert client.post(reverse("portal-lead-accept", args=[lead.pk])).status_code == 404
    assert client.get(reverse("portal-lead-decline", args=[lead.pk])).status_code == 404


def test_staff_have_no_inbox(client, manager):
    client.force_login(manager)
    assert client.get(reverse("portal-leads")).status_code == 403


# ---------------------------------------------------------------- API


def test_api_assigned_accept_and_decline(api, a_rep, partner_a, manager, now):
    first = offer(partner_a, manager, "Initech")
    second = offer(partner_a, manager, "Hooli")
    lead_create(company_name="Umbrella", partner=partner_a)
    lead_create(company_name="Nobody's")
    client = api(a_rep)
    listed = client.get("/api/v1/leads/assigned/").json()
    assert listed["count"] == 3
    offered = client.get("/api/v1/leads/assigned/?status=offered").json()["results"]
    assert {row["company_name"] for row in offered} == {"Initech", "Hooli"}
    assert offered[0]["offer_expires_at"]
    accepted = client.post(f"/api/v1/leads/{first.pk}/accept/")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    declined = client.post(
        f"/api/v1/leads/{second.pk}/decline/", {"reason": "no_capacity"}, format="json"
    )
    assert declined.status_code == 200
    # The partner is told its answer, not where the lead went next.
    assert declined.json() == {
        "lead": second.pk,
        "answer": "declined",
        "answered_at": declined.json()["answered_at"],
        "decline_reason": "no_capacity",
        "decline_note": "",
    }
    second.refresh_from_db()
    assert (second.status, second.partner) == (LeadStatus.RETURNED, None)
    again = client.post(f"/api/v1/leads/{first.pk}/accept/")
    assert again.status_code == 409
    assert again.json()["code"] == "not_offered"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": "nonsense"}, "reason"),
        ({"reason": "other"}, "note"),
        ({"reason": "poor_fit", "note": "x" * 1001}, "note"),
        ({"reason": ["no_capacity"]}, "reason"),
    ],
)
def test_api_bad_decline_is_a_400_naming_the_field(
    api, a_rep, partner_a, manager, now, body, field
):
    lead = offer(partner_a, manager)
    response = api(a_rep).post(f"/api/v1/leads/{lead.pk}/decline/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.OFFERED


def test_api_bad_status_filter_is_a_400(api, a_rep, partner_a):
    response = api(a_rep).get("/api/v1/leads/assigned/?status=returned")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_api_scope_another_partner_gets_404_and_a_manager_cannot_answer(
    api, a_rep, b_admin, partner_a, manager, now
):
    lead = offer(partner_a, manager)
    assert api(b_admin).post(f"/api/v1/leads/{lead.pk}/accept/").status_code == 404
    assert api(b_admin).get("/api/v1/leads/assigned/").json()["count"] == 0
    assert api(manager).post(f"/api/v1/leads/{lead.pk}/accept/").status_code == 403
    assert api(None).get("/api/v1/leads/assigned/").status_code == 401


def test_api_assigned_query_count_is_flat(
    api, a_rep, partner_a, manager, now, django_assert_max_num_queries
):
    offer(partner_a, manager, "First")
    client = api(a_rep)
    with django_assert_max_num_queries(10) as few:
        assert client.get("/api/v1/leads/assigned/").status_code == 200
    for index in range(10):
        offer(partner_a, manager, f"Lead{index}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/api/v1/leads/assigned/").json()["count"] == 11


# ---------------------------------------------------------------- admin


def test_the_admin_queue_and_the_route_action(client, manager, partner_a, now):
    partner_a.region = "emea"
    partner_a.save()
    RoutingRule.objects.create(program=default_program(), name="EMEA", region="emea")
    waiting = lead_create(company_name="Initech", region="emea")
    lead_create(company_name="Elsewhere", region="apac")
    client.force_login(manager)
    url = reverse("admin:partners_lead_changelist")
    queue = client.get(url + "?queue=waiting").content.decode()
    assert "Initech" in queue and "Elsewhere" in queue
    response = client.post(
        url, {"action": "route_selected", "_selected_action": [waiting.pk]}, follow=True
    )
    assert "Offered 1 lead(s)." in response.content.decode()
    waiting.refresh_from_db()
    assert (waiting.status, waiting.partner) == (LeadStatus.OFFERED, partner_a)
    change = client.get(reverse("admin:partners_lead_change", args=[waiting.pk])).content.decode()
    assert "Awaiting answer" in change  # the offer history


def test_manual_reassignment_is_limited_to_the_managers_own_partners(
    client, manager, partner_a, partner_b, now
):
    lead = lead_create(company_name="Initech")
    client.force_login(manager)
    url = reverse("admin:partners_lead_changelist")
    form = client.post(url, {"action": "reassign_selected", "_selected_action": [lead.pk]})
    page = form.content.decode()
    assert partner_a.name in page and partner_b.name not in page
    refused = client.post(
        url,
        {"action": "reassign_selected", "_selected_action": [lead.pk], "partner": partner_b.pk},
    )
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW
    done = client.post(
        url,
        {"action": "reassign_selected", "_selected_action": [lead.pk], "partner": partner_a.pk},
        follow=True,
    )
    assert f"Offered 1 lead(s) to {partner_a.name}." in done.content.decode()
    lead.refresh_from_db()
    assert (lead.status, lead.partner) == (LeadStatus.OFFERED, partner_a)


def test_a_manager_cannot_reassign_another_managers_lead(
    client, manager, partner_a, partner_b, other_manager, now
):
    theirs = offer(partner_b, other_manager)
    client.force_login(manager)
    response = client.post(
        reverse("admin:partners_lead_changelist"),
        {"action": "reassign_selected", "_selected_action": [theirs.pk], "partner": partner_a.pk},
        follow=True,
    )
    assert "not one of your partners&#x27; leads" in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.partner == partner_b


def test_routing_rules_in_the_admin(client, chief, now):
    client.force_login(chief)
    response = client.post(
        reverse("admin:partners_routingrule_add"),
        {
            "program": default_program().pk,
            "name": "DACH security",
            "priority": "5",
            "is_active": "on",
            "countries": "de, AT ,ch",
            "region": "",
            "specialty": "security",
            "language": "",
            "match_location": "on",
            "match_specialty": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = RoutingRule.objects.get()
    assert rule.countries == ["DE", "AT", "CH"]
    assert client.get(reverse("admin:partners_routingrule_changelist")).status_code == 200
    bad = client.post(
        reverse("admin:partners_routingrule_add"),
        {"program": default_program().pk, "name": "", "priority": "-1", "countries": "X" * 50},
    )
    assert bad.status_code == 400
    errors = bad.context["adminform"].form.errors
    assert {"name", "priority", "countries"} <= set(errors)
    assert "too long for a code" in str(errors["countries"])
    assert RoutingRule.objects.count() == 1


def test_a_manager_reads_the_rules_but_does_not_change_them(client, manager):
    client.force_login(manager)
    assert client.get(reverse("admin:partners_routingrule_changelist")).status_code == 200
    assert client.get(reverse("admin:partners_routingrule_add")).status_code == 403


def test_a_bad_lead_in_the_admin_is_a_400(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("admin:partners_lead_add"),
        {"company_name": "Initech", "source": "inbound", "country": "DEU", "region": "mars"},
    )
    assert response.status_code == 400
    assert {"country", "region"} <= set(response.context["adminform"].form.errors)
    assert not Lead.objects.exists()


def test_the_queue_lists_with_flat_queries(client, manager, now, django_assert_max_num_queries):
    for index in range(3):
        lead_create(company_name=f"Lead {index}")
    client.force_login(manager)
    url = reverse("admin:partners_lead_changelist") + "?queue=waiting"
    with django_assert_max_num_queries(30) as few:
        client.get(url)
    for index in range(20):
        lead_create(company_name=f"More {index}", partner=PartnerFactory())
        lead_create(company_name=f"Queue {index}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
    assert Lead.objects.count() == 43

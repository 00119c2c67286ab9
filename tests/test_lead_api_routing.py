"""POST /api/v1/leads/ with a lead's routing facts, and routed at once on request."""

import pytest

from partners.models import Lead, LeadStatus, RoutingRule
from partners.queries import default_program

pytestmark = pytest.mark.django_db


@pytest.fixture
def emea(partner_a):
    partner_a.region = "emea"
    partner_a.lead_specialties = ["security"]
    partner_a.save()
    return RoutingRule.objects.create(
        program=default_program(), name="EMEA security", region="emea", match_specialty=True
    )


def test_a_lead_with_its_routing_facts_is_routed_on_request(api, manager, partner_a, emea):
    body = {
        "company_name": "Kruger",
        "domain": "kruger.example",
        "country": "de",
        "region": "emea",
        "specialty": "Security",
        "language": "DE",
        "route": True,
    }
    response = api(manager).post("/api/v1/leads/", body, format="json")
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert (answer["status"], answer["partner"]) == ("offered", partner_a.pk)
    assert "route" not in answer
    lead = Lead.objects.get(pk=answer["id"])
    assert (lead.country, lead.region, lead.specialty, lead.language) == (
        "DE",
        "emea",
        "security",
        "de",
    )


def test_without_route_the_lead_waits_for_a_manager(api, manager, partner_a, emea):
    body = {"company_name": "Kruger", "region": "emea", "specialty": "security"}
    response = api(manager).post("/api/v1/leads/", body, format="json")
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["partner"]) == ("new", None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country", "XX", "not an ISO country code"),
        ("country", "DEU", "no more than 2 characters"),
        ("region", "mars", "not a valid choice"),
        ("specialty", "plumbing", "not a specialty"),
        ("language", "german!", "not a language code"),
        ("route", "perhaps", "Must be a valid boolean"),
    ],
)
def test_bad_routing_facts_are_a_400_naming_the_field(api, manager, field, value, message):
    body = {"company_name": "Kruger", field: value}
    response = api(manager).post("/api/v1/leads/", body, format="json")
    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert not Lead.objects.exists()


def test_a_partner_cannot_create_leads(api, a_rep):
    body = {"company_name": "Kruger", "route": True}
    assert api(a_rep).post("/api/v1/leads/", body, format="json").status_code == 403
    assert not Lead.objects.filter(status=LeadStatus.OFFERED).exists()

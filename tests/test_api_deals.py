"""``/api/v1/deals/`` and ``/api/v1/conflicts/`` as API.md describes them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deals.models import ConflictCase, Deal
from tests.factories import DealFactory, LeadFactory, PartnerFactory, ProductFactory

pytestmark = pytest.mark.django_db

BODY = {
    "customer_name": "Umbrella Corp",
    "customer_domain": "umbrella.example",
    "amount": "25000.00",
    "expected_close": "2027-01-31",
    "deal_type": "new_logo",
    "compensation_model": "reseller",
}
LISTED = {
    "id",
    "partner",
    "status",
    "reason",
    "account",
    "submitted_at",
    "approved_at",
    "expires_on",
    "direct_conflict",
}


def test_partner_registers_and_gets_the_listed_fields(api, a_rep, partner_a):
    ProductFactory(slug="security", strategic=True)
    response = api(a_rep).post("/api/v1/deals/", dict(BODY, products=["security"]), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert set(data) >= LISTED
    assert (data["status"], data["partner"], data["products"]) == (
        "pending",
        partner_a.pk,
        ["security"],
    )
    assert data["approval_due_at"]


def test_rejected_registration_is_stored_and_explained(api, a_rep):
    LeadFactory(domain="umbrella.example", created_at=timezone.now() - timedelta(days=2))
    data = api(a_rep).post("/api/v1/deals/", BODY, format="json").json()
    assert (data["status"], data["reason"]) == ("rejected", "existing_lead")
    assert "pipeline" in data["message"]


def test_refusals_have_the_error_shape(api, a_rep, partner_a):
    client = api(a_rep)
    client.post("/api/v1/deals/", BODY, format="json")
    duplicate = client.post("/api/v1/deals/", BODY, format="json")
    assert duplicate.status_code == 400
    assert duplicate.json()["code"] == "duplicate"
    partner_a.status = "suspended"
    partner_a.save()
    refused = client.post("/api/v1/deals/", dict(BODY, customer_domain="x.example"), format="json")
    assert refused.status_code == 403
    assert set(refused.json()) == {"detail", "code"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "oops"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"deal_type": "gift"}, "deal_type"),
        ({"compensation_model": "barter"}, "compensation_model"),
        ({"expected_close": "soon"}, "expected_close"),
        ({"contract_years": 0}, "contract_years"),
        ({"products": ["nope"]}, "products"),
        ({"customer_name": ""}, "customer_name"),
        ({"customer_domain": "not a domain"}, "customer_domain"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(api, a_rep, change, field):
    response = api(a_rep).post("/api/v1/deals/", dict(BODY, **change), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Deal.objects.exists()


def test_partner_cannot_import_or_register_for_another_partner(api, a_rep, partner_b):
    response = api(a_rep).post("/api/v1/deals/", dict(BODY, partner=partner_b.pk), format="json")
    assert response.status_code == 400
    assert response.json()["partner"] == ["No such partner."]
    own = api(a_rep).post(
        "/api/v1/deals/", dict(BODY, submitted_at="2025-01-01T00:00:00Z"), format="json"
    )
    assert own.status_code == 403
    assert not Deal.objects.exists()


def test_manager_approves_extends_and_wins(api, manager, a_rep, partner_a):
    deal_id = api(a_rep).post("/api/v1/deals/", BODY, format="json").json()["id"]
    boss = api(manager)
    approved = boss.post(f"/api/v1/deals/{deal_id}/approve/")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["expires_on"]
    again = boss.post(f"/api/v1/deals/{deal_id}/approve/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_status"

    short = api(a_rep).post(
        f"/api/v1/deals/{deal_id}/extend/", {"justification": "x"}, format="json"
    )
    assert short.status_code == 400
    extended = api(a_rep).post(
        f"/api/v1/deals/{deal_id}/extend/",
        {"justification": "Board meets next month"},
        format="json",
    )
    assert extended.status_code == 200
    assert extended.json()["extended"] is True

    won = boss.post(
        f"/api/v1/deals/{deal_id}/win/",
        {"amount": "24000.00", "closed_on": str(timezone.localdate()), "csat": 5},
        format="json",
    )
    assert won.status_code == 200, won.json()
    assert (won.json()["status"], won.json()["margin_rate"], won.json()["partner_credit"]) == (
        "won",
        "0.2000",
        "24000.00",
    )


def test_partner_cannot_approve_its_own_deal(api, a_admin, a_rep):
    deal_id = api(a_rep).post("/api/v1/deals/", BODY, format="json").json()["id"]
    assert api(a_admin).post(f"/api/v1/deals/{deal_id}/approve/").status_code == 403
    assert Deal.objects.get(pk=deal_id).status == "pending"


def test_executive_cannot_decide(api, executive, a_rep):
    deal_id = api(a_rep).post("/api/v1/deals/", BODY, format="json").json()["id"]
    assert api(executive).get(f"/api/v1/deals/{deal_id}/").status_code == 200
    assert api(executive).post(f"/api/v1/deals/{deal_id}/approve/").status_code == 403


def test_reject_needs_a_reason(api, manager, a_rep):
    deal_id = api(a_rep).post("/api/v1/deals/", BODY, format="json").json()["id"]
    assert (
        api(manager).post(f"/api/v1/deals/{deal_id}/reject/", {}, format="json").status_code == 400
    )
    response = api(manager).post(
        f"/api/v1/deals/{deal_id}/reject/", {"reason": "Out of territory"}, format="json"
    )
    assert response.json()["reason"] == "manager_rejected"
    assert response.json()["reason_note"] == "Out of territory"


def test_manager_imports_history_for_own_partner_only(api, manager, partner_a, partner_b):
    body = dict(
        BODY,
        partner=partner_a.pk,
        submitted_at=(timezone.now() - timedelta(days=30)).isoformat(),
        approved_at=(timezone.now() - timedelta(days=29)).isoformat(),
    )
    response = api(manager).post("/api/v1/deals/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "approved"
    assert response.json()["imported"] is True
    other = api(manager).post("/api/v1/deals/", dict(body, partner=partner_b.pk), format="json")
    assert other.status_code == 400
    assert "partner" in other.json()


def test_manager_must_name_the_partner(api, manager):
    response = api(manager).post("/api/v1/deals/", BODY, format="json")
    assert response.status_code == 400
    assert "partner" in response.json()


def test_second_partner_sees_a_case_without_the_first_partners_identity(api, a_rep, b_admin):
    api(a_rep).post("/api/v1/deals/", BODY, format="json")
    second = api(b_admin).post("/api/v1/deals/", BODY, format="json").json()
    assert second["reason"] == "registered_by_another_partner"
    cases = api(b_admin).get("/api/v1/conflicts/").json()["results"]
    assert len(cases) == 1
    assert cases[0]["other_partner"] is None
    assert cases[0]["other_deal"] is None


def test_manager_resolves_a_conflict(api, manager, a_rep, b_admin):
    api(b_admin).post("/api/v1/deals/", BODY, format="json")
    api(a_rep).post("/api/v1/deals/", BODY, format="json")
    case = ConflictCase.objects.get()
    url = f"/api/v1/conflicts/{case.pk}/resolve/"
    assert api(manager).post(url, {}, format="json").status_code == 400
    response = api(manager).post(url, {"resolution": "Told Alpha; Bravo keeps it"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert api(manager).post(url, {"resolution": "again"}, format="json").status_code == 409


def test_deal_list_is_scoped_and_filterable(api, a_rep, manager, chief, partner_a, partner_b):
    DealFactory.create_batch(3, partner=partner_a)
    DealFactory.create_batch(2, partner=partner_b, status="rejected")
    assert len(api(a_rep).get("/api/v1/deals/").json()["results"]) == 3
    assert len(api(manager).get("/api/v1/deals/").json()["results"]) == 3
    assert len(api(chief).get("/api/v1/deals/?status=rejected").json()["results"]) == 2


def test_deal_list_query_count_is_flat(api, chief, django_assert_max_num_queries):
    product = ProductFactory()
    for _ in range(3):
        DealFactory(partner=PartnerFactory()).products.add(product)
    with django_assert_max_num_queries(6) as few:
        api(chief).get("/api/v1/deals/")
    for _ in range(40):
        DealFactory(partner=PartnerFactory()).products.add(product)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = api(chief).get("/api/v1/deals/?limit=100")
    assert len(response.json()["results"]) == 43

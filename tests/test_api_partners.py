from decimal import Decimal

import pytest

from partners.models import Partner, TierChange
from tests.factories import PartnerFactory, default_tier

pytestmark = pytest.mark.django_db


def test_manager_creates_partner_with_initial_tier_history(api, manager):
    body = {
        "name": "Delta Consulting",
        "domain": "https://www.Delta.example/",
        "tier": "silver",
        "status": "active",
        "annual_quota": "200000.00",
        "agreement_signed_on": "2025-01-01",
        "started_on": "2025-01-01",
    }
    response = api(manager).post("/api/v1/partners/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert {"id", "tier", "status", "score", "channel_manager"} <= set(data)
    assert data["tier"] == "silver"
    assert data["status"] == "active"
    # A manager who creates a partner without naming a manager takes it on.
    assert data["channel_manager"] == manager.pk
    partner = Partner.objects.get(pk=data["id"])
    assert partner.domain_key == "delta.example"
    assert partner.tier_changes.get().cause == "initial"


def test_started_on_defaults_to_today(api, manager):
    response = api(manager).post(
        "/api/v1/partners/", {"name": "Echo", "domain": "echo.example"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["started_on"]
    assert response.json()["tier"] == "registered"
    assert response.json()["status"] == "prospect"


def test_duplicate_domain_is_a_400_with_a_message(api, manager, partner_a):
    response = api(manager).post(
        "/api/v1/partners/", {"name": "Copy", "domain": "WWW.alpha.example"}, format="json"
    )
    assert response.status_code == 400
    assert "already exists" in response.json()["domain"][0]


def test_unknown_tier_is_a_400_naming_the_tiers(api, manager):
    response = api(manager).post(
        "/api/v1/partners/", {"name": "X", "domain": "x.example", "tier": "diamond"}, format="json"
    )
    assert response.status_code == 400
    assert "registered" in response.json()["tier"][0]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Bad quota", "domain": "q.example", "annual_quota": "lots"},
        {"name": "Bad date", "domain": "d.example", "started_on": "yesterday"},
        {"name": "Bad status", "domain": "s.example", "status": "asleep"},
        {"name": "No domain", "domain": "not a domain"},
        {"domain": "noname.example"},
        {"name": "Neg", "domain": "neg.example", "annual_quota": "-5"},
    ],
)
def test_bad_input_is_a_400_and_creates_nothing(api, manager, body):
    before = Partner.objects.count()
    response = api(manager).post("/api/v1/partners/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()
    assert Partner.objects.count() == before


def test_partner_user_and_executive_cannot_create_partners(api, a_admin, executive):
    body = {"name": "Nope", "domain": "nope.example"}
    assert api(a_admin).post("/api/v1/partners/", body, format="json").status_code == 403
    response = api(executive).post("/api/v1/partners/", body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_anonymous_gets_401_with_error_shape(api):
    response = api().get("/api/v1/partners/")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}


def test_tier_override_needs_a_reason_and_is_recorded(api, manager, partner_a):
    client = api(manager)
    url = f"/api/v1/partners/{partner_a.pk}/"
    response = client.patch(url, {"tier": "gold"}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["tier_reason"][0]
    partner_a.refresh_from_db()
    assert partner_a.tier.slug == "silver"

    response = client.patch(
        url, {"tier": "gold", "tier_reason": "Strategic OEM deal"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["tier"] == "gold"
    change = TierChange.objects.get(partner=partner_a, cause="override")
    assert (change.from_tier.slug, change.to_tier.slug) == ("silver", "gold")
    assert change.changed_by == manager
    assert change.reason == "Strategic OEM deal"


def test_manager_edits_own_partner_not_another_managers(api, manager, partner_a, partner_b):
    client = api(manager)
    ok = client.patch(
        f"/api/v1/partners/{partner_a.pk}/", {"annual_quota": "300000"}, format="json"
    )
    assert ok.status_code == 200
    assert Decimal(ok.json()["annual_quota"]) == Decimal("300000")
    assert client.patch(f"/api/v1/partners/{partner_b.pk}/", {"name": "X"}).status_code == 404
    assert client.get(f"/api/v1/partners/{partner_b.pk}/").status_code == 404


def test_partner_admin_reads_own_partner_but_cannot_change_it(api, a_admin, partner_a):
    client = api(a_admin)
    assert client.get(f"/api/v1/partners/{partner_a.pk}/").json()["name"] == "Alpha Systems"
    response = client.patch(
        f"/api/v1/partners/{partner_a.pk}/", {"tier": "platinum"}, format="json"
    )
    assert response.status_code == 403
    partner_a.refresh_from_db()
    assert partner_a.tier.slug == "silver"


def test_list_is_scoped_per_role(api, manager, chief, executive, a_rep, partner_a, partner_b):
    def names(user):
        return {row["name"] for row in api(user).get("/api/v1/partners/").json()["results"]}

    assert names(manager) == {"Alpha Systems"}
    assert names(a_rep) == {"Alpha Systems"}
    assert names(chief) == {"Alpha Systems", "Bravo Networks"}
    assert names(executive) == {"Alpha Systems", "Bravo Networks"}


def test_partner_list_query_count_does_not_grow(api, chief, django_assert_max_num_queries):
    PartnerFactory.create_batch(40, tier=default_tier("gold"))
    with django_assert_max_num_queries(4):
        response = api(chief).get("/api/v1/partners/?limit=100")
    assert response.status_code == 200
    assert response.json()["count"] == 40


def test_programs_list_tiers(api, a_rep, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = api(a_rep).get("/api/v1/programs/")
    program = response.json()["results"][0]
    tiers = {t["slug"]: t for t in program["tiers"]}
    assert list(tiers) == ["registered", "silver", "gold", "platinum"]
    assert tiers["gold"]["margin"] == "0.2500"
    assert tiers["platinum"]["revenue_floor"] == "500000.00"
    assert tiers["silver"]["certified_reps_required"] == 1
    assert tiers["silver"]["mdf_rate"] == "0.0200"


def test_unknown_api_url_answers_json_404(client, settings):
    settings.DEBUG = False
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_foreign_object_404_has_the_error_shape(api, a_rep, partner_b):
    response = api(a_rep).get(f"/api/v1/partners/{partner_b.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_manager_assigns_partners_only_to_themselves(
    api, manager, other_manager, chief, partner_a
):
    client = api(manager)
    body = {"name": "Golf", "domain": "golf.example", "channel_manager": other_manager.pk}
    response = client.post("/api/v1/partners/", body, format="json")
    # Handing a partner to a colleague is a chief's decision: the colleague reads as unknown.
    assert response.status_code == 400
    assert set(response.json()) == {"channel_manager"}
    assert not Partner.objects.filter(domain_key="golf.example").exists()

    url = f"/api/v1/partners/{partner_a.pk}/"
    for value in (other_manager.pk, None):
        response = client.patch(url, {"channel_manager": value}, format="json")
        assert response.status_code == 400, value
    partner_a.refresh_from_db()
    assert partner_a.channel_manager == manager

    response = api(chief).patch(url, {"channel_manager": other_manager.pk}, format="json")
    assert response.status_code == 200
    partner_a.refresh_from_db()
    assert partner_a.channel_manager == other_manager

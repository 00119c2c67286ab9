import pytest

from partners.models import Account, Lead
from tests.factories import AccountFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_manager_creates_a_direct_account(api, manager):
    body = {
        "name": "Direct Co GmbH",
        "domain": "direct.example",
        "direct_rep": "Owner@Vendor.example",
    }
    response = api(manager).post("/api/v1/accounts/", body, format="json")
    assert response.status_code == 201, response.json()
    account = Account.objects.get()
    assert account.direct_rep == "owner@vendor.example"
    assert (account.name_key, account.domain_key) == ("direct", "direct.example")


def test_account_domain_is_unique_after_normalising(api, manager):
    AccountFactory(domain="acme.example")
    response = api(manager).post(
        "/api/v1/accounts/", {"name": "Acme", "domain": "https://www.ACME.example/x"}, format="json"
    )
    assert response.status_code == 400
    assert "already exists" in response.json()["domain"][0]


def test_manager_patches_an_account(api, manager):
    account = AccountFactory()
    response = api(manager).patch(
        f"/api/v1/accounts/{account.pk}/", {"direct_rep": "ae@vendor.example"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["direct_rep"] == "ae@vendor.example"


def test_partner_cannot_create_or_change_accounts(api, a_admin, partner_a):
    own = AccountFactory(owning_partner=partner_a)
    client = api(a_admin)
    assert client.post("/api/v1/accounts/", {"name": "X"}, format="json").status_code == 403
    assert (
        client.patch(f"/api/v1/accounts/{own.pk}/", {"name": "Y"}, format="json").status_code == 403
    )
    own.refresh_from_db()
    assert own.name != "Y"


def test_lead_attaches_to_its_account(api, manager):
    account = AccountFactory(domain="globex.example")
    body = {
        "company_name": "Globex Corporation",
        "domain": "www.globex.example",
        "source": "inbound",
        "created_at": "2026-06-01T09:00:00Z",
    }
    response = api(manager).post("/api/v1/leads/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["account"] == account.pk
    assert response.json()["created_at"].startswith("2026-06-01")


def test_account_created_after_leads_adopts_them(manager):
    from partners.services import account_create

    lead = LeadFactory(company_name="Initech LLC", domain="initech.example")
    account = account_create(name="Initech", domain="initech.example")
    lead.refresh_from_db()
    assert lead.account == account


@pytest.mark.parametrize(
    "body",
    [
        {"company_name": "", "domain": "x.example"},
        {"company_name": "X", "source": "carrier-pigeon"},
        {"company_name": "X", "created_at": "last tuesday"},
    ],
)
def test_bad_lead_is_a_400(api, manager, body):
    response = api(manager).post("/api/v1/leads/", body, format="json")
    assert response.status_code == 400
    assert not Lead.objects.exists()


def test_partner_sees_only_leads_passed_to_it(api, a_rep, partner_a, partner_b):
    LeadFactory(partner=partner_a, company_name="Shared")
    LeadFactory(partner=partner_b)
    LeadFactory()
    names = [row["company_name"] for row in api(a_rep).get("/api/v1/leads/").json()["results"]]
    assert names == ["Shared"]


def test_lists_have_flat_query_counts(api, chief, django_assert_max_num_queries):
    AccountFactory.create_batch(30)
    LeadFactory.create_batch(30)
    client = api(chief)
    with django_assert_max_num_queries(3):
        assert client.get("/api/v1/accounts/?limit=100").json()["count"] == 30
    with django_assert_max_num_queries(3):
        assert client.get("/api/v1/leads/?limit=100").json()["count"] == 30

import pytest

from partners.models import Account, Lead
from tests.factories import AccountFactory, DealFactory, LeadFactory

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


# ---------------------------------------------------------------- who changes which account
#
# partners.queries.accounts_writable_by: an account belongs to the partners that touch it
# (its owner, the partners with a registration of it, those a lead on it was passed to).
# A channel manager changes it when every one of them is theirs, or when none touches it.


def _patch(client, account, **body):
    return client.patch(f"/api/v1/accounts/{account.pk}/", body, format="json")


def test_manager_changes_an_account_their_partner_owns(api, manager, partner_a):
    account = AccountFactory(owning_partner=partner_a)
    response = _patch(api(manager), account, direct_rep="ae@vendor.example")
    assert response.status_code == 200, response.json()
    account.refresh_from_db()
    assert account.direct_rep == "ae@vendor.example"


@pytest.mark.parametrize("touch", ["owner", "registration", "lead"])
def test_manager_cannot_change_an_account_another_managers_partner_touches(
    api, manager, partner_b, touch
):
    account = AccountFactory(owning_partner=partner_b if touch == "owner" else None)
    if touch == "registration":
        DealFactory(partner=partner_b, account=account)
    if touch == "lead":
        LeadFactory(partner=partner_b, account=account)
    response = _patch(api(manager), account, name="Taken over")
    # Every manager reads every account, so it is there to see, but not theirs: 403.
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    account.refresh_from_db()
    assert account.name != "Taken over"


def test_an_account_both_managers_partners_touch_is_for_a_chief(
    api, manager, other_manager, chief, partner_a, partner_b
):
    account = AccountFactory()
    # One open registration per customer: A's was rejected, B's is open.
    DealFactory(partner=partner_a, account=account, status="rejected")
    DealFactory(partner=partner_b, account=account)
    assert _patch(api(manager), account, name="A's view").status_code == 403
    assert _patch(api(other_manager), account, name="B's view").status_code == 403
    assert _patch(api(chief), account, name="Agreed").status_code == 200
    account.refresh_from_db()
    assert account.name == "Agreed"


def test_manager_gives_an_untouched_account_only_to_their_own_partner(
    api, manager, partner_a, partner_b
):
    account = AccountFactory()
    client = api(manager)
    response = _patch(client, account, owning_partner=partner_b.pk)
    # Another manager's partner is answered as an id that does not exist.
    assert response.status_code == 400
    assert "does not exist" in response.json()["owning_partner"][0]
    account.refresh_from_db()
    assert account.owning_partner is None
    assert _patch(client, account, owning_partner=partner_a.pk).status_code == 200
    account.refresh_from_db()
    assert account.owning_partner == partner_a


def test_manager_creates_accounts_for_their_own_partners_only(api, manager, partner_a, partner_b):
    client = api(manager)
    body = {"name": "Theirs Inc", "domain": "theirs.example", "owning_partner": partner_b.pk}
    response = client.post("/api/v1/accounts/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"owning_partner"}
    assert not Account.objects.filter(domain_key="theirs.example").exists()
    body["owning_partner"] = partner_a.pk
    assert client.post("/api/v1/accounts/", body, format="json").status_code == 201


def test_chief_and_admin_change_any_account(api, chief, vendor_admin, partner_b):
    account = AccountFactory(owning_partner=partner_b)
    assert _patch(api(chief), account, name="By the chief").status_code == 200
    assert _patch(api(vendor_admin), account, name="By the admin").status_code == 200


@pytest.mark.parametrize("who", ["executive", "finance"])
def test_read_only_roles_read_accounts_and_change_none(api, request, who, partner_a):
    client = api(request.getfixturevalue(who))
    account = AccountFactory(owning_partner=partner_a)
    assert client.get(f"/api/v1/accounts/{account.pk}/").status_code == 200
    assert _patch(client, account, name="Nope").status_code == 403
    assert client.post("/api/v1/accounts/", {"name": "Nope"}, format="json").status_code == 403
    account.refresh_from_db()
    assert account.name != "Nope"


def test_partner_gets_404_for_another_partners_account(api, a_admin, partner_b):
    account = AccountFactory(owning_partner=partner_b)
    assert _patch(api(a_admin), account, name="Nope").status_code == 404


def test_manager_passes_leads_only_to_their_own_partners(api, manager, partner_a, partner_b):
    client = api(manager)
    body = {"company_name": "Passed on", "partner": partner_b.pk}
    response = client.post("/api/v1/leads/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"partner"}
    assert not Lead.objects.exists()
    body["partner"] = partner_a.pk
    assert client.post("/api/v1/leads/", body, format="json").status_code == 201
    assert Lead.objects.get().partner == partner_a


def test_chief_passes_a_lead_to_any_partner(api, chief, partner_b):
    body = {"company_name": "Passed on", "partner": partner_b.pk}
    assert api(chief).post("/api/v1/leads/", body, format="json").status_code == 201


def test_leads_writable_by_follows_the_partner_a_lead_was_passed_to(
    manager, other_manager, chief, executive, partner_a, partner_b
):
    from partners.queries import leads_writable_by

    ours, theirs, nobodys = (
        LeadFactory(partner=partner_a),
        LeadFactory(partner=partner_b),
        LeadFactory(),
    )
    assert set(leads_writable_by(manager)) == {ours, nobodys}
    assert set(leads_writable_by(other_manager)) == {theirs, nobodys}
    assert set(leads_writable_by(chief)) == {ours, theirs, nobodys}
    assert not leads_writable_by(executive).exists()

"""The HubSpot connector: the exact requests hubspot-api-client sends through our session
and how each answer is read, on recorded answers of HubSpot's CRM v3 API."""

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from responses import matchers

from integrations.crm.base import CrmError, Outgoing, RateLimited
from tests.crm import HS, HS_TOKEN_URL, body, hubspot, load

COMPANIES_SEARCH = f"{HS}/crm/v3/objects/companies/search"
CONTACTS_SEARCH = f"{HS}/crm/v3/objects/contacts/search"
OWNERS = f"{HS}/crm/v3/owners/"
COMPANIES_UPSERT = f"{HS}/crm/v3/objects/companies/batch/upsert"
DEALS_UPSERT = f"{HS}/crm/v3/objects/deals/batch/upsert"


@responses.activate
def test_changed_companies_are_searched_by_last_modification_without_ours():
    responses.post(COMPANIES_SEARCH, json=load("hs_companies_search"))
    responses.get(OWNERS, json=load("hs_owners"))
    since = datetime(2026, 11, 1, tzinfo=UTC)
    [page] = list(hubspot().changed_accounts(since=since, fields=["name", "domain", "owner_email"]))
    search = responses.calls[0]
    assert search.request.headers["Authorization"] == "Bearer pat-na1-old"
    assert body(search) == {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "prm_id", "operator": "NOT_HAS_PROPERTY"},
                    {
                        "propertyName": "hs_lastmodifieddate",
                        "operator": "GTE",
                        "value": str(int(since.timestamp() * 1000)),
                    },
                ]
            }
        ],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["name", "domain", "hubspot_owner_id", "hs_lastmodifieddate"],
        "limit": 100,
    }
    assert parse_qs(urlparse(responses.calls[1].request.url).query) == {"limit": ["100"]}
    initech, umbrella = page
    assert initech.external_id == "5001"
    assert initech.modified_at == datetime(2026, 11, 2, 10, 15, tzinfo=UTC)
    assert initech.fields == {
        "name": "Initech",
        "domain": "initech.example",
        "hubspot_owner_id": "77",
        "owner_email": "dana.direct@vendor.example",
    }
    assert umbrella.fields["owner_email"] == ""
    assert len(responses.calls) == 2  # the owners are read once


@responses.activate
def test_leads_are_contacts_at_the_lead_stage():
    responses.post(CONTACTS_SEARCH, json=load("hs_contacts_search"))
    [page] = list(hubspot().changed_leads(since=None, fields=["company", "website", "createdate"]))
    assert body(responses.calls[0])["filterGroups"] == [
        {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}]}
    ]
    assert page[0].fields == {
        "company": "Vandelay Industries",
        "website": "vandelay.example",
        "createdate": "2026-11-04T09:00:00.000Z",
    }


@responses.activate
def test_batch_upsert_by_the_unique_property_reads_each_result():
    responses.post(COMPANIES_UPSERT, json=load("hs_upsert_companies"))
    [result] = hubspot().upsert_partner_accounts(
        [Outgoing(key="partner-1", fields={"name": "Alpha Systems", "prm_tier": "Silver"})]
    )
    assert body(responses.calls[0]) == {
        "inputs": [
            {
                "idProperty": "prm_id",
                "id": "partner-1",
                "properties": {
                    "name": "Alpha Systems",
                    "prm_tier": "Silver",
                    "prm_id": "partner-1",
                },
            }
        ]
    }
    assert result.ok and result.external_id == "9001" and result.created


@responses.activate
def test_a_207_reports_the_records_that_failed_and_those_that_did_not():
    responses.post(DEALS_UPSERT, json=load("hs_upsert_deals_partial"), status=207)
    ok, failed = hubspot().upsert_opportunities(
        [
            Outgoing(key="deal-1", fields={"dealname": "Globex Corporation", "amount": 100000.0}),
            Outgoing(key="deal-2", fields={"dealname": "Hooli", "amount": -5}),
        ]
    )
    assert ok.ok and ok.external_id == "3301"
    assert not failed.ok and failed.key == "deal-2" and not failed.retryable
    assert failed.error.startswith("VALIDATION_ERROR: Property values were not valid")
    assert "-5 is not a valid amount" in failed.error


@responses.activate
def test_an_expired_oauth_token_is_refreshed_once_and_the_request_sent_again():
    responses.post(COMPANIES_UPSERT, json=load("hs_expired"), status=401)
    responses.post(
        HS_TOKEN_URL,
        json=load("hs_token"),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "client_id": "hs-client",
                    "client_secret": "hs-secret",
                    "refresh_token": "hs-refresh",
                }
            )
        ],
    )
    responses.post(COMPANIES_UPSERT, json=load("hs_upsert_companies"))
    connector = hubspot()
    [result] = connector.upsert_partner_accounts([Outgoing(key="partner-1", fields={})])
    assert result.ok
    new = load("hs_token")["access_token"]
    assert responses.calls[2].request.headers["Authorization"] == f"Bearer {new}"
    assert connector.session.token == new


@responses.activate
def test_a_private_apps_token_cannot_be_refreshed_and_says_so():
    responses.post(COMPANIES_UPSERT, json=load("hs_expired"), status=401)
    with pytest.raises(CrmError, match="cannot be refreshed") as refused:
        hubspot(oauth=False).upsert_partner_accounts([Outgoing(key="partner-1", fields={})])
    assert not refused.value.retryable
    assert len(responses.calls) == 1


@responses.activate
def test_a_refused_refresh_token_stops_with_what_to_check():
    responses.post(COMPANIES_UPSERT, json=load("hs_expired"), status=401)
    responses.post(HS_TOKEN_URL, json=load("hs_token_invalid"), status=400)
    with pytest.raises(CrmError, match="HUBSPOT_REFRESH_TOKEN"):
        hubspot().upsert_partner_accounts([Outgoing(key="partner-1", fields={})])


@responses.activate
def test_the_secondly_limit_waits_for_retry_after_then_succeeds():
    responses.post(
        COMPANIES_UPSERT, json=load("hs_rate_limit"), status=429, headers={"Retry-After": "1"}
    )
    responses.post(COMPANIES_UPSERT, json=load("hs_upsert_companies"))
    connector = hubspot()
    [result] = connector.upsert_partner_accounts([Outgoing(key="partner-1", fields={})])
    assert result.ok and connector.session.sleep == [1.0]


@responses.activate
def test_a_limit_that_persists_ends_the_run():
    for _ in range(4):
        responses.post(COMPANIES_UPSERT, json=load("hs_rate_limit"), status=429)
    connector = hubspot()
    with pytest.raises(RateLimited, match="You have reached your secondly limit"):
        connector.upsert_partner_accounts([Outgoing(key="partner-1", fields={})])
    assert connector.session.sleep == [1.0, 2.0, 4.0]  # no Retry-After: the backoff


@responses.activate
def test_5xx_backs_off_then_is_a_retryable_error():
    for _ in range(4):
        responses.post(DEALS_UPSERT, json=load("hs_server_error"), status=502)
    with pytest.raises(CrmError) as failed:
        hubspot().upsert_opportunities([Outgoing(key="deal-1", fields={})])
    assert failed.value.retryable and failed.value.status == 502
    assert "INTERNAL_ERROR" in failed.value.message

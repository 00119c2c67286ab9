"""The Salesforce connector: the exact requests it sends and how it reads each answer, on
recorded answers of Salesforce's REST API."""

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from responses import matchers

from integrations.crm.base import CrmError, Outgoing, RateLimited
from tests.crm import NEW_SF_TOKEN, OLD_TOKEN, SF, SF_API, SF_TOKEN_URL, body, load, salesforce

QUERY = f"{SF_API}/query/"
ACCOUNTS = f"{SF_API}/composite/sobjects/Account/PRM_Id__c"
OPPORTUNITIES = f"{SF_API}/composite/sobjects/Opportunity/PRM_Id__c"


def soql(call) -> str:
    return parse_qs(urlparse(call.request.url).query)["q"][0]


@responses.activate
def test_changed_accounts_are_read_page_by_page_with_their_owners_email():
    responses.get(QUERY, json=load("sf_accounts_page1"))
    responses.get(
        f"{SF}/services/data/v62.0/query/01g5g00000QnJ8CAAV-2000", json=load("sf_accounts_page2")
    )
    connector = salesforce()
    pages = list(
        connector.changed_accounts(
            since=datetime(2026, 11, 1, tzinfo=UTC), fields=["Name", "Website", "Owner.Email"]
        )
    )
    assert soql(responses.calls[0]) == (
        "SELECT Id, LastModifiedDate, Name, Website, Owner.Email FROM Account "
        "WHERE PRM_Id__c = null AND LastModifiedDate >= 2026-11-01T00:00:00Z "
        "ORDER BY LastModifiedDate, Id"
    )
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {OLD_TOKEN}"
    assert [len(page) for page in pages] == [2, 1]
    first = pages[0][0]
    assert first.external_id == "0015g00000Q1aAAAAZ"
    assert first.modified_at == datetime(2026, 11, 2, 10, 15, tzinfo=UTC)
    assert first.fields == {
        "Name": "Initech",
        "Website": "https://www.initech.example/",
        "Owner.Email": "Dana.Direct@Vendor.example",
    }
    assert pages[0][1].fields["Owner.Email"] is None  # no owner: no relationship object


@responses.activate
def test_a_first_read_of_leads_has_no_watermark_and_reads_every_lead():
    responses.get(QUERY, json=load("sf_leads"))
    [page] = list(salesforce().changed_leads(since=None, fields=["Company", "CreatedDate"]))
    assert soql(responses.calls[0]) == (
        "SELECT Id, LastModifiedDate, Company, CreatedDate FROM Lead ORDER BY LastModifiedDate, Id"
    )
    assert [r.fields["Company"] for r in page] == ["Vandelay Industries", "Bad Domain Ltd"]


def test_a_field_name_that_is_not_one_never_reaches_the_query():
    with pytest.raises(CrmError, match="Not a Salesforce field name"):
        list(salesforce().changed_accounts(since=None, fields=["Name FROM User --"]))


@responses.activate
def test_upsert_sends_one_collection_by_external_id_with_the_partner_by_its_external_id():
    responses.patch(OPPORTUNITIES, json=load("sf_upsert_partial"))
    results = salesforce().upsert_opportunities(
        [
            Outgoing(
                key="deal-1",
                fields={
                    "Name": "Globex",
                    "Amount": 1200.5,
                    "Partner_Account__r.PRM_Id__c": "partner-3",
                },
            ),
            Outgoing(key="deal-2", fields={"Name": "Hooli", "CloseDate": "2031-01-01"}),
        ]
    )
    call = responses.calls[0]
    assert call.request.method == "PATCH"
    assert body(call) == {
        "allOrNone": False,
        "records": [
            {
                "attributes": {"type": "Opportunity"},
                "Name": "Globex",
                "Amount": 1200.5,
                "Partner_Account__r": {"PRM_Id__c": "partner-3"},
                "PRM_Id__c": "deal-1",
            },
            {
                "attributes": {"type": "Opportunity"},
                "Name": "Hooli",
                "CloseDate": "2031-01-01",
                "PRM_Id__c": "deal-2",
            },
        ],
    }
    ok, failed = results
    assert ok.ok and ok.external_id == "0065g00000OpPoAAAA" and not ok.created
    assert not failed.ok and not failed.retryable
    assert failed.error == (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION: Close Date cannot be more than two years away "
        "(CloseDate)"
    )


@responses.activate
def test_a_record_deleted_in_salesforce_is_reported_as_such():
    responses.patch(ACCOUNTS, json=load("sf_upsert_deleted"))
    [result] = salesforce().upsert_partner_accounts([Outgoing(key="partner-3", fields={})])
    assert not result.ok and result.error == "ENTITY_IS_DELETED: entity is deleted"


@responses.activate
def test_an_expired_session_is_refreshed_once_and_the_request_sent_again():
    responses.patch(ACCOUNTS, json=load("sf_session_expired"), status=401)
    responses.post(
        SF_TOKEN_URL,
        json=load("sf_token"),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "client_id": "3MVG9prm",
                    "client_secret": "sf-secret",
                    "refresh_token": "5Aep861prm",
                }
            )
        ],
    )
    responses.patch(ACCOUNTS, json=load("sf_upsert_accounts"))
    connector = salesforce()
    [result] = connector.upsert_partner_accounts([Outgoing(key="partner-3", fields={})])
    assert result.ok and result.created
    assert [c.request.url for c in responses.calls] == [ACCOUNTS, SF_TOKEN_URL, ACCOUNTS]
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {OLD_TOKEN}"
    assert responses.calls[2].request.headers["Authorization"] == f"Bearer {NEW_SF_TOKEN}"
    assert "Authorization" not in responses.calls[1].request.headers
    assert connector.session.token == NEW_SF_TOKEN


@responses.activate
def test_a_refresh_token_salesforce_refuses_stops_with_what_to_check():
    responses.get(QUERY, json=load("sf_session_expired"), status=401)
    responses.post(SF_TOKEN_URL, json=load("sf_token_invalid"), status=400)
    with pytest.raises(CrmError) as refused:
        list(salesforce().changed_leads(since=None, fields=["Company"]))
    assert "invalid_grant: expired access/refresh token" in refused.value.message
    assert "SALESFORCE_REFRESH_TOKEN" in refused.value.message
    assert not refused.value.retryable


@responses.activate
def test_429_waits_as_long_as_retry_after_says_then_succeeds():
    responses.patch(ACCOUNTS, status=429, headers={"Retry-After": "7"}, body="")
    responses.patch(ACCOUNTS, json=load("sf_upsert_accounts"))
    connector = salesforce()
    [result] = connector.upsert_partner_accounts([Outgoing(key="partner-3", fields={})])
    assert result.ok
    assert connector.session.sleep == [7.0]
    assert len(responses.calls) == 2


@responses.activate
def test_a_retry_after_longer_than_a_run_may_wait_ends_the_run():
    responses.patch(ACCOUNTS, status=429, headers={"Retry-After": "3600"}, body="")
    connector = salesforce()
    with pytest.raises(RateLimited) as limited:
        connector.upsert_partner_accounts([Outgoing(key="partner-3", fields={})])
    assert limited.value.retry_after == 3600
    assert connector.session.sleep == []  # nothing slept: the next run goes on


@responses.activate
def test_5xx_backs_off_exponentially_then_reports_salesforces_error():
    for _ in range(4):
        responses.patch(ACCOUNTS, json=load("sf_server_error"), status=503)
    connector = salesforce()
    with pytest.raises(CrmError) as failed:
        connector.upsert_partner_accounts([Outgoing(key="partner-3", fields={})])
    assert len(responses.calls) == 4
    assert connector.session.sleep == [1.0, 2.0, 4.0]
    assert failed.value.retryable and failed.value.status == 503
    assert "UNKNOWN_EXCEPTION" in failed.value.message


@responses.activate
def test_5xx_once_then_success():
    responses.patch(ACCOUNTS, json=load("sf_server_error"), status=500)
    responses.patch(ACCOUNTS, json=load("sf_upsert_accounts"))
    [result] = salesforce().upsert_partner_accounts([Outgoing(key="partner-3", fields={})])
    assert result.ok


@responses.activate
def test_request_limit_exceeded_stops_the_run():
    responses.patch(ACCOUNTS, json=load("sf_request_limit"), status=403)
    with pytest.raises(RateLimited, match="REQUEST_LIMIT_EXCEEDED"):
        salesforce().upsert_partner_accounts([Outgoing(key="partner-3", fields={})])
    assert len(responses.calls) == 1


@responses.activate
def test_the_orgs_api_usage_past_the_ceiling_stops_before_the_next_request():
    responses.get(
        QUERY, json=load("sf_empty"), headers={"Sforce-Limit-Info": "api-usage=4600/5000"}
    )
    connector = salesforce()
    list(connector.changed_leads(since=None, fields=["Company"]))
    assert connector.session.usage.used == 4600
    with pytest.raises(RateLimited, match="4600 of 5000"):
        connector.upsert_partner_accounts([Outgoing(key="partner-3", fields={})])
    assert len(responses.calls) == 1


@responses.activate
def test_a_refused_batch_is_an_error_for_each_of_its_records():
    responses.patch(ACCOUNTS, json=load("sf_invalid_field"), status=400)
    with pytest.raises(CrmError) as refused:
        salesforce().upsert_partner_accounts([Outgoing(key="partner-3", fields={})])
    assert refused.value.message == (
        "Salesforce 400: INVALID_FIELD: No such column 'PRM_Tier__c' on sobject of type Account"
    )
    assert not refused.value.retryable

"""The CRM sync end to end on recorded answers: inbound accounts and leads through
``partners``' services (and what the registration rules then decide), outbound partners
and registrations from events, the error rows, limits, deleted records and edits on
both sides."""

import logging
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import responses
import time_machine
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from deals import services as deals
from integrations.crm.services import crm_full_push, crm_sync, sync_records_retry
from integrations.models import CrmConnection, EventKind, SyncRecord, SyncState, SyncWatermark
from integrations.services import event_publish, events_deliver
from partners.models import Account, Lead, TierChangeCause
from partners.services import account_update, partner_set_tier
from tests.crm import HS, SF, SF_API, body, hubspot, load, salesforce
from tests.factories import default_tier

pytestmark = pytest.mark.django_db

QUERY = f"{SF_API}/query/"
NEXT_PAGE = f"{SF}/services/data/v62.0/query/01g5g00000QnJ8CAAV-2000"
ACCOUNTS = f"{SF_API}/composite/sobjects/Account/PRM_Id__c"
OPPORTUNITIES = f"{SF_API}/composite/sobjects/Opportunity/PRM_Id__c"


@pytest.fixture
def sf_connection(db):
    connection = CrmConnection.objects.get_or_create(provider="salesforce")[0]
    connection.enabled = True
    connection.save()
    return connection


def answer_soql(accounts: list, leads: list):
    """Answers to the SOQL queries, in turn per object: each a recorded answer's name or
    its parsed JSON."""
    queues = {"Account": list(accounts), "Lead": list(leads)}

    def callback(request):
        q = parse_qs(urlparse(request.url).query)["q"][0]
        sobject = "Account" if "FROM Account" in q else "Lead"
        answer = queues[sobject].pop(0) if len(queues[sobject]) > 1 else queues[sobject][0]
        data = load(answer) if isinstance(answer, str) else answer
        return 200, {"Content-Type": "application/json"}, __import__("json").dumps(data)

    responses.add_callback(responses.GET, QUERY, callback=callback)


def soqls() -> list[str]:
    return [
        parse_qs(urlparse(c.request.url).query)["q"][0]
        for c in responses.calls
        if c.request.url.startswith(QUERY)
    ]


def register(partner, **overrides):
    fields = {
        "customer_name": "Initech",
        "customer_domain": "initech.example",
        "amount": "50000.00",
        "expected_close": timezone.localdate() + timedelta(days=60),
        "deal_type": "new_logo",
        "compensation_model": "reseller",
    }
    fields.update(overrides)
    return deals.deal_register(partner=partner, submitted_by=None, **fields)


def deal_data(deal_id: int, partner, status: str, **more) -> dict:
    """A ``deal.*`` event's data, as the deals app publishes it."""
    data = {
        "deal_id": deal_id,
        "partner_id": partner.pk,
        "customer_name": "Globex Corporation",
        "customer_domain": "globex.example",
        "amount": "100000.00",
        "currency": "USD",
        "status": status,
        "reason": "",
        "submitted_at": "2026-11-02T09:00:00Z",
        "approved_at": None,
        "expires_on": "2027-01-31",
        "closed_on": None,
        "closed_amount": None,
        "partner_credit": None,
    }
    data.update(more)
    return data


def publish(partner, kind, data):
    event = event_publish(partner_id=partner.pk, kind=kind, data=data)
    events_deliver(event_ids=[event.pk])
    return event


# ---------------------------------------------------------------- inbound


@responses.activate
def test_inbound_accounts_set_the_direct_rep_so_a_registration_is_a_direct_conflict(
    sf_connection, partner_a
):
    answer_soql(accounts=["sf_accounts_page1"], leads=["sf_empty"])
    responses.get(NEXT_PAGE, json=load("sf_accounts_page2"))
    summary = crm_sync(connection=sf_connection, connector=salesforce(), push=False)
    assert summary.pulled == 3 and summary.failed == 0, summary
    initech = Account.objects.get(domain_key="initech.example")
    assert initech.direct_rep == "dana.direct@vendor.example"
    assert Account.objects.get(domain_key="umbrella.example").direct_rep == ""
    deal = register(partner_a)
    assert deal.status == "pending" and deal.direct_conflict
    assert deal.account_id == initech.pk
    mark = SyncWatermark.objects.get(connection=sf_connection, object_type="account")
    assert mark.modified_since == datetime(2026, 11, 3, 8, 30, tzinfo=UTC)


@responses.activate
def test_inbound_leads_make_a_later_registration_an_existing_lead_and_sync_twice_adds_nothing(
    sf_connection, partner_a
):
    answer_soql(accounts=["sf_empty"], leads=["sf_leads"])
    first = crm_sync(connection=sf_connection, connector=salesforce(), push=False)
    lead = Lead.objects.get()
    assert lead.company_name == "Vandelay Industries" and lead.domain_key == "vandelay.example"
    assert lead.created_at == datetime(2026, 11, 4, 9, 0, tzinfo=UTC) and lead.source == "inbound"
    # The lead whose website is not a domain is an error row, with the reason.
    bad = SyncRecord.objects.get(external_id="00Q5g00000LdBBBBB1")
    assert bad.state == SyncState.ERROR and "not a domain" in bad.error
    assert bad.label == "Bad Domain Ltd" and bad.next_attempt_at is None  # for a person
    assert (first.pulled, first.failed) == (2, 1)

    second = crm_sync(connection=sf_connection, connector=salesforce(), push=False)
    assert Lead.objects.count() == 1 and Account.objects.count() == 0
    assert SyncRecord.objects.count() == 2
    assert second.unchanged == 1  # the synced lead is not applied again
    assert "LastModifiedDate >= 2026-11-04T09:30:00Z" in soqls()[-1]

    deal = register(
        partner_a, customer_name="Vandelay Industries", customer_domain="vandelay.example"
    )
    assert deal.status == "rejected" and deal.reason == "existing_lead"


@responses.activate
def test_an_edit_on_both_sides_keeps_the_newer_and_logs_it(sf_connection, caplog, manager):
    page = load("sf_accounts_page2")
    answer_soql(accounts=[page], leads=["sf_empty"])
    with time_machine.travel(datetime(2026, 11, 5, 9, 0, tzinfo=UTC), tick=False):
        crm_sync(connection=sf_connection, connector=salesforce(), push=False)
    hooli = Account.objects.get(domain_key="hooli.example")
    assert hooli.direct_rep == "sam.seller@vendor.example"
    with time_machine.travel(datetime(2026, 11, 6, 10, 0, tzinfo=UTC), tick=False):
        account_update(account=hooli, direct_rep="kim.keeper@vendor.example")

    # The CRM's edit (11-05 12:00) is older than the PRM's (11-06 10:00): the PRM's stays.
    older = load("sf_accounts_page2")
    older["records"][0]["LastModifiedDate"] = "2026-11-05T12:00:00.000+0000"
    older["records"][0]["Owner"]["Email"] = "lee.later@vendor.example"
    responses.reset()
    answer_soql(accounts=[older], leads=["sf_empty"])
    with (
        caplog.at_level(logging.WARNING, logger="integrations.crm.services"),
        time_machine.travel(datetime(2026, 11, 7, 9, 0, tzinfo=UTC), tick=False),
    ):
        crm_sync(connection=sf_connection, connector=salesforce(), push=False)
    hooli.refresh_from_db()
    assert hooli.direct_rep == "kim.keeper@vendor.example"
    record = SyncRecord.objects.get(external_id="0015g00000Q1cCCCCZ")
    assert record.note.startswith("Edited on both sides: kept the PRM's")
    assert "Edited on both sides: kept the PRM's" in caplog.text

    # A later CRM edit (11-07 18:00) is newer than the PRM's: it is applied, and noted.
    newer = load("sf_accounts_page2")
    newer["records"][0]["LastModifiedDate"] = "2026-11-07T18:00:00.000+0000"
    newer["records"][0]["Owner"]["Email"] = "lee.later@vendor.example"
    with time_machine.travel(datetime(2026, 11, 7, 10, 0, tzinfo=UTC), tick=False):
        account_update(account=hooli, direct_rep="kim.keeper2@vendor.example")
    responses.reset()
    answer_soql(accounts=[newer], leads=["sf_empty"])
    with time_machine.travel(datetime(2026, 11, 8, 9, 0, tzinfo=UTC), tick=False):
        crm_sync(connection=sf_connection, connector=salesforce(), push=False)
    hooli.refresh_from_db()
    assert hooli.direct_rep == "lee.later@vendor.example"
    record.refresh_from_db()
    assert record.note.startswith("Edited on both sides: applied the CRM's")


@responses.activate
def test_hubspot_companies_carry_their_owner_as_the_direct_rep(partner_a):
    connection = CrmConnection.objects.get_or_create(provider="hubspot")[0]
    responses.post(f"{HS}/crm/v3/objects/companies/search", json=load("hs_companies_search"))
    responses.post(f"{HS}/crm/v3/objects/contacts/search", json=load("hs_contacts_search"))
    responses.get(f"{HS}/crm/v3/owners/", json=load("hs_owners"))
    summary = crm_sync(connection=connection, connector=hubspot(), push=False)
    assert summary.pulled == 3 and summary.failed == 0
    initech = Account.objects.get(domain_key="initech.example")
    assert initech.direct_rep == "dana.direct@vendor.example"
    assert register(partner_a).direct_conflict
    assert Lead.objects.get().created_at == datetime(2026, 11, 4, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------- outbound


@responses.activate
def test_a_registration_and_its_win_are_pushed_as_an_opportunity_with_its_partner(
    sf_connection, partner_a
):
    publish(partner_a, EventKind.DEAL_REGISTERED, deal_data(41, partner_a, "pending"))
    partner_record = SyncRecord.objects.get(object_type="partner", local_id=partner_a.pk)
    deal_record = SyncRecord.objects.get(object_type="deal", local_id=41)
    assert partner_record.state == deal_record.state == SyncState.PENDING
    assert deal_record.partner_id == partner_a.pk

    responses.patch(ACCOUNTS, json=load("sf_upsert_accounts"))
    responses.patch(OPPORTUNITIES, json=load("sf_upsert_opportunities"))
    summary = crm_sync(connection=sf_connection, connector=salesforce(), pull=False)
    assert summary.pushed == 2 and summary.failed == 0, summary
    account_call, opportunity_call = responses.calls
    assert body(account_call)["records"] == [
        {
            "attributes": {"type": "Account"},
            "Name": "Alpha Systems",
            "Website": "alpha.example",
            "Type": "Partner",
            "PRM_Tier__c": "Silver",
            "PRM_Partner_Status__c": "active",
            "PRM_Id__c": f"partner-{partner_a.pk}",
        }
    ]
    assert body(opportunity_call)["records"] == [
        {
            "attributes": {"type": "Opportunity"},
            "Name": "Globex Corporation",
            "Amount": 100000.0,
            "StageName": "Prospecting",
            "CloseDate": "2027-01-31",
            "Partner_Account__r": {"PRM_Id__c": f"partner-{partner_a.pk}"},
            "PRM_Registration_Status__c": "pending",
            "PRM_Status_Reason__c": "",
            "PRM_Customer_Domain__c": "globex.example",
            "PRM_Partner_Credit__c": None,
            "PRM_Id__c": "deal-41",
        }
    ]
    deal_record.refresh_from_db()
    assert deal_record.state == SyncState.SYNCED and deal_record.external_id == "0065g00000OpPoAAAA"
    assert deal_record.pushed_hash

    # Nothing new: nothing is sent.
    assert crm_sync(connection=sf_connection, connector=salesforce(), pull=False).pushed == 0
    assert len(responses.calls) == 2

    publish(
        partner_a,
        EventKind.DEAL_WON,
        deal_data(
            41,
            partner_a,
            "won",
            closed_on="2026-12-01",
            closed_amount="120000.00",
            partner_credit="120000.00",
        ),
    )
    assert crm_sync(connection=sf_connection, connector=salesforce(), pull=False).pushed == 1
    won = body(responses.calls[-1])["records"][0]
    assert won["StageName"] == "Closed Won" and won["CloseDate"] == "2026-12-01"
    assert won["Amount"] == 120000.0 and won["PRM_Partner_Credit__c"] == 120000.0


@responses.activate
def test_a_tier_move_pushes_the_partner_again(sf_connection, partner_a, manager):
    responses.patch(ACCOUNTS, json=load("sf_upsert_accounts"))
    crm_full_push(connection=sf_connection)
    crm_sync(connection=sf_connection, connector=salesforce(), pull=False)
    partner_set_tier(
        partner=partner_a,
        tier=default_tier("gold"),
        cause=TierChangeCause.OVERRIDE,
        reason="Strategic",
        changed_by=manager,
    )
    from integrations.models import Event

    events_deliver(event_ids=list(Event.objects.values_list("pk", flat=True)))
    crm_sync(connection=sf_connection, connector=salesforce(), pull=False)
    assert body(responses.calls[-1])["records"][0]["PRM_Tier__c"] == "Gold"


@responses.activate
def test_a_partial_batch_failure_is_an_error_row_until_retried_successfully(
    sf_connection, partner_a, vendor_admin, django_capture_on_commit_callbacks
):
    publish(partner_a, EventKind.DEAL_REGISTERED, deal_data(1, partner_a, "pending"))
    publish(partner_a, EventKind.DEAL_REGISTERED, deal_data(2, partner_a, "pending"))
    responses.patch(ACCOUNTS, json=load("sf_upsert_accounts"))
    responses.patch(OPPORTUNITIES, json=load("sf_upsert_partial"))
    summary = crm_sync(connection=sf_connection, connector=salesforce(), pull=False)
    assert (summary.pushed, summary.failed) == (2, 1)
    failed = SyncRecord.objects.get(object_type="deal", local_id=2)
    assert failed.state == SyncState.ERROR and failed.attempts == 1
    assert failed.error.startswith("FIELD_CUSTOM_VALIDATION_EXCEPTION: Close Date cannot")
    assert failed.next_attempt_at is None  # the CRM's rule: a person looks first

    # Runs go on without it: it is not tried again by itself, and not dropped.
    crm_sync(connection=sf_connection, connector=salesforce(), pull=False)
    assert len(responses.calls) == 2
    failed.refresh_from_db()
    assert failed.state == SyncState.ERROR

    with django_capture_on_commit_callbacks() as queued:
        assert sync_records_retry(records=SyncRecord.objects.filter(pk=failed.pk), by=vendor_admin)
    assert len(queued) == 1  # a run follows at once
    responses.patch(OPPORTUNITIES, json=load("sf_upsert_opportunity_retried"))
    crm_sync(connection=sf_connection, connector=salesforce(), pull=False)
    assert [r["PRM_Id__c"] for r in body(responses.calls[-1])["records"]] == ["deal-2"]
    failed.refresh_from_db()
    assert failed.state == SyncState.SYNCED and failed.error == ""


@responses.activate
def test_a_limit_marks_the_batch_due_after_the_wait_and_ends_the_run(sf_connection, partner_a):
    publish(partner_a, EventKind.DEAL_REGISTERED, deal_data(7, partner_a, "pending"))
    responses.patch(ACCOUNTS, status=429, headers={"Retry-After": "3600"}, body="")
    now = timezone.now()
    summary = crm_sync(connection=sf_connection, connector=salesforce(), pull=False, now=now)
    assert "wait 3600 s" in summary.stopped
    partner_record = SyncRecord.objects.get(object_type="partner")
    assert partner_record.state == SyncState.ERROR
    assert partner_record.next_attempt_at == now + timedelta(seconds=3600)
    # The registration was not tried (the run ended) and is still to push.
    assert SyncRecord.objects.get(object_type="deal").state == SyncState.PENDING
    sf_connection.refresh_from_db()
    assert "stopped: The CRM asks to wait 3600 s" in sf_connection.last_run_summary

    responses.reset()
    responses.patch(ACCOUNTS, json=load("sf_upsert_accounts"))
    responses.patch(OPPORTUNITIES, json=load("sf_upsert_opportunities"))
    early = crm_sync(connection=sf_connection, connector=salesforce(), pull=False, now=now)
    assert [c.request.url for c in responses.calls] == [OPPORTUNITIES]  # not yet due
    assert early.pushed == 1
    crm_sync(
        connection=sf_connection,
        connector=salesforce(),
        pull=False,
        now=now + timedelta(seconds=3601),
    )
    partner_record.refresh_from_db()
    assert partner_record.state == SyncState.SYNCED


@responses.activate
def test_a_record_deleted_in_salesforce_is_recreated_and_noted(sf_connection, partner_a):
    responses.patch(ACCOUNTS, json=load("sf_upsert_accounts"))
    crm_full_push(connection=sf_connection)
    crm_sync(connection=sf_connection, connector=salesforce(), pull=False)
    record = SyncRecord.objects.get(object_type="partner")
    assert record.external_id == "0015g00000PaRtAAAA"

    # Deleted there and still in its recycle bin: ENTITY_IS_DELETED, an error row.
    partner_a.name = "Alpha Systems Group"
    partner_a.save()
    crm_full_push(connection=sf_connection)
    responses.patch(ACCOUNTS, json=load("sf_upsert_deleted"))
    crm_sync(connection=sf_connection, connector=salesforce(), pull=False)
    record.refresh_from_db()
    assert record.state == SyncState.ERROR and record.error.startswith("ENTITY_IS_DELETED")

    # Emptied from the recycle bin, the upsert by external id makes a new record.
    responses.patch(ACCOUNTS, json=load("sf_upsert_recreated"))
    sync_records_retry(
        records=SyncRecord.objects.filter(pk=record.pk), by=partner_a.channel_manager
    )
    summary = crm_sync(connection=sf_connection, connector=salesforce(), pull=False)
    record.refresh_from_db()
    assert record.state == SyncState.SYNCED and record.external_id == "0015g00000NeWwAAAA"
    assert "0015g00000PaRtAAAA was gone (deleted there): recreated" in record.note
    assert summary.notes == [record.note]


def test_events_wait_for_no_crm_that_is_not_enabled(partner_a):
    publish(partner_a, EventKind.DEAL_REGISTERED, deal_data(1, partner_a, "pending"))
    assert not SyncRecord.objects.exists()


def test_a_late_older_event_never_overwrites_a_newer_one(sf_connection, partner_a):
    newer = event_publish(
        partner_id=partner_a.pk,
        kind=EventKind.DEAL_APPROVED,
        data=deal_data(5, partner_a, "approved", approved_at="2026-11-03T09:00:00Z"),
    )
    older = event_publish(
        partner_id=partner_a.pk,
        kind=EventKind.DEAL_REGISTERED,
        data=deal_data(5, partner_a, "pending"),
    )
    older.occurred_at = newer.occurred_at - timedelta(minutes=1)
    older.save()
    events_deliver(event_ids=[newer.pk])
    events_deliver(event_ids=[older.pk])
    facts = SyncRecord.objects.get(object_type="deal").facts
    assert facts["status"] == "approved" and facts["approved_at"] == "2026-11-03T09:00:00Z"


def test_a_crm_without_credentials_says_which_are_missing(sf_connection, settings):
    settings.SALESFORCE_CLIENT_ID = ""
    summary = crm_sync(connection=sf_connection)
    assert summary.stopped.startswith("Salesforce is not configured: set SALESFORCE_CLIENT_ID")
    sf_connection.refresh_from_db()
    assert "not configured" in sf_connection.last_run_summary
    assert sf_connection.running_since is None


def test_one_run_of_a_connection_at_a_time(sf_connection):
    CrmConnection.objects.filter(pk=sf_connection.pk).update(running_since=timezone.now())
    summary = crm_sync(connection=sf_connection, connector=salesforce())
    assert summary.stopped == "another run of this connection is in progress"


def test_the_sync_runs_on_beat_with_time_limits():
    from integrations import tasks

    task = PeriodicTask.objects.get(task="integrations.crm_sync_all")
    assert task.interval.every == 15 and task.interval.period == "minutes"
    for name in ("crm_sync", "crm_push", "crm_sync_all"):
        job = getattr(tasks, name)
        assert job.name == f"integrations.{name}"
        assert 0 < job.soft_time_limit < job.time_limit


def test_the_default_field_mappings_are_installed(db):
    from integrations.models import FieldMapping

    assert FieldMapping.objects.filter(provider="salesforce", object_type="deal").count() == 9
    assert FieldMapping.objects.get(
        provider="hubspot", object_type="account", local_field="direct_rep"
    ).crm_field == ("owner_email")


@responses.activate
def test_a_mapping_switched_off_is_not_sent(sf_connection, partner_a):
    from integrations.models import FieldMapping

    FieldMapping.objects.filter(
        provider="salesforce", object_type="partner", crm_field="PRM_Tier__c"
    ).update(enabled=False)
    responses.patch(ACCOUNTS, json=load("sf_upsert_accounts"))
    crm_full_push(connection=sf_connection)
    crm_sync(connection=sf_connection, connector=salesforce(), pull=False)
    assert "PRM_Tier__c" not in body(responses.calls[0])["records"][0]


def test_money_and_dates_in_facts_are_what_the_crm_takes():
    from integrations.crm.mapping import deal_facts, lead_source

    facts = deal_facts(
        {"status": "expired", "submitted_at": "2026-01-02T09:00:00Z", "partner_id": 3},
        stages={"expired": "Closed Lost"},
    )
    assert facts["stage"] == "Closed Lost" and facts["close_date"] == date(2026, 1, 2)
    assert facts["partner_key"] == "partner-3"
    assert [lead_source(s) for s in ("Web", "Partner Referral", "OFFLINE", None)] == [
        "inbound",
        "partner",
        "event",
        "other",
    ]


@responses.activate
def test_inbound_leads_carry_their_routing_facts_through_mapped_fields(sf_connection):
    from integrations.models import FieldMapping

    for crm_field, local_field in (
        ("CountryCode", "country"),
        ("PRM_Region__c", "region"),
        ("PRM_Specialty__c", "specialty"),
        ("PRM_Language__c", "language"),
    ):
        FieldMapping.objects.create(
            provider="salesforce", object_type="lead", crm_field=crm_field, local_field=local_field
        )
    answer_soql(accounts=["sf_empty"], leads=["sf_leads_routing"])
    summary = crm_sync(connection=sf_connection, connector=salesforce(), push=False)
    assert (summary.pulled, summary.failed) == (2, 1)
    assert "CountryCode" in soqls()[-1] and "PRM_Language__c" in soqls()[-1]
    lead = Lead.objects.get()
    assert (lead.country, lead.region, lead.specialty, lead.language) == (
        "DE",
        "emea",
        "security",
        "de",
    )
    bad = SyncRecord.objects.get(external_id="00Q5g00000LdDDDDD1")
    assert bad.state == SyncState.ERROR and "not an ISO country code" in bad.error

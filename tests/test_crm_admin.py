"""The CRM sync in the admin: the error queue (retry, skip), who sees which rows, "sync
now", and the field mappings' form."""

import pytest
from django.urls import reverse

from integrations.models import CrmConnection, FieldMapping, SyncRecord, SyncState

pytestmark = pytest.mark.django_db

QUEUE = "admin:integrations_syncerror_changelist"


def error_row(partner=None, **fields) -> SyncRecord:
    defaults = {
        "connection": CrmConnection.objects.get_or_create(provider="salesforce")[0],
        "object_type": "deal" if partner else "lead",
        "local_id": 10 + SyncRecord.objects.count() if partner else None,
        "external_id": "" if partner else f"00Q{SyncRecord.objects.count()}",
        "partner": partner,
        "label": "Globex Corporation",
        "state": SyncState.ERROR,
        "error": "FIELD_CUSTOM_VALIDATION_EXCEPTION: Close Date cannot be more than two years away",
        "attempts": 1,
    }
    defaults.update(fields)
    return SyncRecord.objects.create(**defaults)


def listed(response) -> set[int]:
    return set(response.context_data["cl"].queryset.values_list("pk", flat=True))


def test_the_queue_shows_the_object_and_the_crms_message(client, vendor_admin, partner_a):
    row = error_row(partner_a)
    error_row(partner_a, state=SyncState.SYNCED, error="", label="Synced one")
    client.force_login(vendor_admin)
    response = client.get(reverse(QUEUE))
    assert listed(response) == {row.pk}
    assert "Close Date cannot be more than two years away" in response.content.decode()
    assert "Globex Corporation" in response.content.decode()


def test_retry_queues_a_run_and_takes_the_row_off_the_queue(
    client, vendor_admin, partner_a, django_capture_on_commit_callbacks
):
    row = error_row(partner_a)
    client.force_login(vendor_admin)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            reverse(QUEUE), {"action": "retry", "_selected_action": [row.pk]}, follow=True
        )
    assert "1 object queued to sync again." in response.content.decode()
    assert len(queued) == 1
    row.refresh_from_db()
    assert row.state == SyncState.PENDING and row.note == "Retried by vendoradmin"


def test_skip_takes_the_row_off_the_queue_and_records_who(client, vendor_admin, partner_a):
    row = error_row(partner_a)
    client.force_login(vendor_admin)
    client.post(reverse(QUEUE), {"action": "skip", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.state == SyncState.SKIPPED and row.skipped_by == vendor_admin
    assert row.error  # the message is kept with the row
    assert listed(client.get(reverse(QUEUE))) == set()


def test_a_manager_sees_and_acts_on_their_own_partners_rows_only(
    client, manager, partner_a, partner_b
):
    mine, theirs, vendor_wide = error_row(partner_a), error_row(partner_b), error_row()
    client.force_login(manager)
    assert listed(client.get(reverse(QUEUE))) == {mine.pk}
    client.post(reverse(QUEUE), {"action": "skip", "_selected_action": [theirs.pk, vendor_wide.pk]})
    theirs.refresh_from_db()
    vendor_wide.refresh_from_db()
    assert theirs.state == vendor_wide.state == SyncState.ERROR
    url = reverse("admin:integrations_syncerror_change", args=[theirs.pk])
    assert client.get(url).status_code == 404


def test_the_chief_sees_every_row(client, chief, partner_a, partner_b):
    rows = {error_row(partner_a).pk, error_row(partner_b).pk, error_row().pk}
    client.force_login(chief)
    assert listed(client.get(reverse(QUEUE))) == rows


def test_an_executive_reads_the_queue_and_can_act_on_nothing(client, executive, partner_a):
    row = error_row(partner_a)
    client.force_login(executive)
    response = client.get(reverse(QUEUE))
    assert listed(response) == {row.pk}
    client.post(reverse(QUEUE), {"action": "retry", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.state == SyncState.ERROR


def test_a_partner_person_cannot_reach_the_queue(client, a_admin, partner_a):
    error_row(partner_a)
    client.force_login(a_admin)
    response = client.get(reverse(QUEUE))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_sync_now_starts_a_run_of_a_configured_crm_and_says_why_not_otherwise(
    client, vendor_admin, settings, django_capture_on_commit_callbacks
):
    settings.HUBSPOT_ACCESS_TOKEN = "pat-na1-prm"
    settings.SALESFORCE_CLIENT_ID = ""
    for provider in ("salesforce", "hubspot"):
        CrmConnection.objects.update_or_create(provider=provider, defaults={"enabled": True})
    client.force_login(vendor_admin)
    ids = list(CrmConnection.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            reverse("admin:integrations_crmconnection_changelist"),
            {"action": "sync_now", "_selected_action": ids},
            follow=True,
        )
    page = response.content.decode()
    assert "A sync of HubSpot has started" in page
    assert (
        "Salesforce was not synced: Salesforce is not configured: set SALESFORCE_CLIENT_ID" in page
    )
    assert len(queued) == 1


def test_a_manager_cannot_change_connections_or_mappings(client, manager):
    client.force_login(manager)
    assert client.get(reverse("admin:integrations_crmconnection_changelist")).status_code == 403
    assert client.get(reverse("admin:integrations_fieldmapping_changelist")).status_code == 403


def test_a_field_mapping_names_a_local_fact_and_a_crm_field(client, vendor_admin):
    client.force_login(vendor_admin)
    response = client.post(
        reverse("admin:integrations_fieldmapping_add"),
        {
            "provider": "salesforce",
            "object_type": "partner",
            "local_field": "customer_name",
            "crm_field": "Name; DROP",
            "enabled": "on",
        },
    )
    form = response.context["adminform"].form
    assert "local_field" in form.errors and "crm_field" in form.errors
    response = client.post(
        reverse("admin:integrations_fieldmapping_add"),
        {
            "provider": "salesforce",
            "object_type": "partner",
            "local_field": "region",
            "crm_field": "PRM_Region__c",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    assert FieldMapping.objects.filter(crm_field="PRM_Region__c", local_field="region").exists()

"""Browser test of the CRM sync's error queue (Playwright + Debian's Chromium): an
administrator sees a failed object with the CRM's message, retries it, and the next run
syncs it."""

import pytest
import responses

from integrations.crm.services import crm_sync
from integrations.models import CrmConnection, SyncRecord, SyncState
from tests.crm import SF_API, load, salesforce
from tests.factories import PartnerFactory, StaffFactory
from tests.test_browser import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

ACCOUNTS = f"{SF_API}/composite/sobjects/Account/PRM_Id__c"


def test_an_administrator_sees_a_sync_error_and_retries_it(page, live_server):
    StaffFactory(username="ada", role="admin", is_superuser=True)
    partner = PartnerFactory(name="Gamma Partners", domain="gamma.example")
    connection = CrmConnection.objects.get_or_create(provider="salesforce")[0]
    connection.enabled = True
    connection.save()
    row = SyncRecord.objects.create(
        connection=connection,
        object_type="partner",
        local_id=partner.pk,
        partner=partner,
        label="Gamma Partners",
        facts={"partner_id": partner.pk, "name": partner.name, "domain": partner.domain},
        state=SyncState.ERROR,
        attempts=1,
        error="INVALID_FIELD: No such column 'PRM_Tier__c' on sobject of type Account",
    )

    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/admin/integrations/syncerror/")
    assert "No such column 'PRM_Tier__c'" in page.text_content("#result_list")
    assert "Gamma Partners" in page.text_content("#result_list")
    page.check(f"input[name=_selected_action][value='{row.pk}']")
    page.select_option("select[name=action]", "retry")
    page.click("button[name=index]")
    page.wait_for_selector("text=1 object queued to sync again.")
    assert page.locator("#result_list").count() == 0  # the queue is empty

    # The run the retry started (here in the test, on a recorded answer) syncs it.
    with responses.RequestsMock() as crm:
        crm.patch(ACCOUNTS, json=load("sf_upsert_accounts"))
        crm_sync(connection=connection, connector=salesforce(), pull=False)
    page.goto(f"{live_server.url}/admin/integrations/syncrecord/")
    assert "Synced" in page.text_content("#result_list")
    row.refresh_from_db()
    assert row.state == SyncState.SYNCED and row.external_id == "0015g00000PaRtAAAA"

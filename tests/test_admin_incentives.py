"""Admin queues of the money engine: claims, awards, payment runs, MDF."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from incentives.models import EntryStatus, IncentiveClaim, LedgerEntry, MdfClaim, MdfRequest
from incentives.services.claims import claim_dispute, claim_reject, claim_submit
from incentives.services.contributions import contribution_submit
from prm.roles import Role
from tests.factories import (
    LedgerEntryFactory,
    MdfFundFactory,
    MdfRequestFactory,
    PartnerFactory,
    PartnerUserFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db

CLAIMS = "admin:incentives_incentiveclaim_changelist"
LEDGER = "admin:incentives_ledgerentry_changelist"
MDF_REQUESTS = "admin:incentives_mdfrequest_changelist"


def claim_for(partner):
    person = PartnerUserFactory(partner=partner).user
    entry = LedgerEntryFactory(partner=partner)
    return claim_submit(partner=partner, entry_ids=[entry.pk], by=person)


def test_the_claim_queue_is_scoped_and_shows_the_sla(client, manager, partner_a, partner_b):
    mine, theirs = claim_for(partner_a), claim_for(partner_b)
    IncentiveClaim.objects.filter(pk=mine.pk).update(
        verify_by=timezone.localdate() - timedelta(days=2)
    )
    client.force_login(manager)
    page = client.get(reverse(CLAIMS)).content.decode()
    assert f">Claim {mine.pk}<" in page and f">Claim {theirs.pk}<" not in page
    assert "overdue 2 d" in page
    overdue = client.get(reverse(CLAIMS) + "?sla=overdue").content.decode()
    assert f">Claim {mine.pk}<" in overdue


def test_bulk_approve_and_reject_claims(client, manager, partner_a):
    first, second = claim_for(partner_a), claim_for(partner_a)
    client.force_login(manager)
    client.post(reverse(CLAIMS), {"action": "approve_selected", "_selected_action": [first.pk]})
    asked = client.post(
        reverse(CLAIMS), {"action": "reject_selected", "_selected_action": [second.pk]}
    )
    assert asked.status_code == 200 and "Reason" in asked.content.decode()
    client.post(
        reverse(CLAIMS),
        {
            "action": "reject_selected",
            "_selected_action": [second.pk],
            "confirmed": "1",
            "text": "No purchase order",
        },
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("approved", "rejected")
    assert second.rejection_reason == "No purchase order"


def test_only_the_chief_decides_disputes(client, manager, chief, partner_a):
    claim = claim_for(partner_a)
    claim_reject(claim=claim, by=manager, reason="No PO")
    claim_dispute(claim=claim, by=claim.submitted_by, reason="Here is the PO")
    body = {
        "action": "overturn_selected",
        "_selected_action": [claim.pk],
        "confirmed": "1",
        "text": "The PO is valid",
    }
    client.force_login(manager)
    client.post(reverse(CLAIMS), body)
    claim.refresh_from_db()
    assert claim.status == "disputed"
    client.force_login(chief)
    client.post(reverse(CLAIMS), body)
    claim.refresh_from_db()
    assert claim.status == "approved"


def test_finance_exports_and_marks_a_payment_run(client, partner_a, manager):
    finance = StaffFactory(role=Role.FINANCE)
    entries = [
        LedgerEntryFactory(partner=partner_a, kind="rebate", claim_by=None) for _ in range(2)
    ]
    LedgerEntry.objects.filter(pk__in=[e.pk for e in entries]).update(
        status="approved", approved_at=timezone.now(), due_on=date(2026, 12, 30)
    )
    accrued = LedgerEntryFactory(partner=partner_a)
    selected = [e.pk for e in entries] + [accrued.pk]

    client.force_login(manager)
    refused = client.post(reverse(LEDGER), {"action": "export_csv", "_selected_action": selected})
    assert refused.status_code != 200 or "text/csv" not in refused["Content-Type"]

    client.force_login(finance)
    exported = client.post(reverse(LEDGER), {"action": "export_csv", "_selected_action": selected})
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert sorted(int(r["entry"]) for r in rows) == sorted(e.pk for e in entries)
    client.post(
        reverse(LEDGER),
        {"action": "mark_paid", "_selected_action": selected, "confirmed": "1", "text": "BATCH-9"},
    )
    assert set(
        LedgerEntry.objects.filter(pk__in=[e.pk for e in entries]).values_list(
            "status", "payment_reference"
        )
    ) == {(EntryStatus.PAID, "BATCH-9")}
    accrued.refresh_from_db()
    assert accrued.status == EntryStatus.ACCRUED


def test_manager_approves_mdf_and_the_fund_shows_it(client, manager, partner_a):
    fund = MdfFundFactory(partner=partner_a, amount=D("5000"))
    request = MdfRequestFactory(fund=fund, planned_cost=D("3000"))
    client.force_login(manager)
    page = client.get(reverse(MDF_REQUESTS)).content.decode()
    assert request.title in page
    client.post(
        reverse(MDF_REQUESTS), {"action": "approve_selected", "_selected_action": [request.pk]}
    )
    fund.refresh_from_db()
    assert fund.reserved == D("3000.00")
    assert MdfRequest.objects.get().status == "approved"


@pytest.mark.parametrize(
    "name",
    [
        CLAIMS,
        LEDGER,
        MDF_REQUESTS,
        "admin:incentives_mdfclaim_changelist",
        "admin:incentives_mdffund_changelist",
        "admin:incentives_contribution_changelist",
    ],
)
def test_money_admin_query_counts_are_flat(client, chief, name, django_assert_max_num_queries):
    def rows():
        partner = PartnerFactory()
        claim_for(partner)
        request = MdfRequestFactory(fund=MdfFundFactory(partner=partner))
        MdfClaim.objects.create(request=request, partner=partner, actual_cost=10, leads_generated=1)
        contribution_submit(partner=partner, by=None, kind="community", title="Post")

    for _ in range(2):
        rows()
    client.force_login(chief)
    with django_assert_max_num_queries(40) as few:
        assert client.get(reverse(name)).status_code == 200
    for _ in range(12):
        rows()
    with django_assert_max_num_queries(len(few.captured_queries) + 2):
        assert client.get(reverse(name)).status_code == 200

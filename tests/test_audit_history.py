"""Who changed what, and when: each family of audited rows is changed through its service
as a named user at a known time, and the row's history page in the admin shows both.

Deals, incentive claims, MDF (funds, requests, claims), tiers (a partner's tier and the
tier definitions) and ledger entries (ARCHITECTURE: "every state change of deals,
claims, MDF and tiers keeps who/when").
"""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape

from deals import services as deal_services
from incentives.proofs import proof_from_upload
from incentives.services.claims import claim_approve, claim_submit
from incentives.services.ledger import award_confirm, ledger_mark_paid
from incentives.services.mdf import (
    mdf_claim_approve,
    mdf_claim_submit,
    mdf_fund_set,
    mdf_request_approve,
    mdf_request_submit,
)
from partners import services as partner_services
from partners.models import Partner, TierChange
from prm.roles import Role
from tests.admin_forms import change_form_data
from tests.factories import (
    DealFactory,
    LedgerEntryFactory,
    MdfFundFactory,
    StaffFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def finance(db):
    return StaffFactory(username="fiona", role=Role.FINANCE)


def at(day: int, hour: int, minute: int):
    """A moment on a working day of November 2026, the clock frozen there."""
    return time_machine.travel(datetime(2026, 11, day, hour, minute, tzinfo=UTC), tick=False)


def history_page_shows(client, viewer, obj, user, moment: datetime) -> None:
    """The admin's history page of ``obj`` has a record by ``user`` at ``moment``, and
    prints both."""
    client.force_login(viewer)
    name = f"admin:{obj._meta.app_label}_{obj._meta.model_name}_history"
    response = client.get(reverse(name, args=[obj.pk]))
    assert response.status_code == 200
    records = list(response.context["page_obj"])
    assert any(r.history_user_id == user.pk and r.history_date == moment for r in records), [
        (r.history_user_id, r.history_date, r.history_change_reason) for r in records
    ]
    html = response.content.decode()
    assert f">{escape(str(user))}</a>" in html  # the user's name, linked to their account
    assert formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT") in html


def test_a_deal_decision_shows_who_and_when(client, manager, chief, partner_a):
    deal = DealFactory(partner=partner_a)
    with at(24, 10, 17):
        deal_services.deal_approve(deal=deal, by=manager)
    history_page_shows(client, chief, deal, manager, datetime(2026, 11, 24, 10, 17, tzinfo=UTC))


def test_an_incentive_claim_shows_who_submitted_and_who_approved(
    client, manager, chief, a_admin, partner_a
):
    entry = LedgerEntryFactory(partner=partner_a, earned_on=date(2026, 11, 20))
    with at(23, 9, 5):
        claim = claim_submit(partner=partner_a, entry_ids=[entry.pk], by=a_admin)
    with at(24, 11, 30):
        claim_approve(claim=claim, by=manager)
    history_page_shows(client, chief, claim, a_admin, datetime(2026, 11, 23, 9, 5, tzinfo=UTC))
    history_page_shows(client, chief, claim, manager, datetime(2026, 11, 24, 11, 30, tzinfo=UTC))
    # The entries it made payable name the manager too.
    history_page_shows(client, chief, entry, manager, datetime(2026, 11, 24, 11, 30, tzinfo=UTC))


def test_mdf_fund_request_and_claim_show_who_and_when(client, manager, chief, a_admin, partner_a):
    fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
    with at(2, 8, 0):
        mdf_fund_set(partner=partner_a, fiscal_year=2026, amount="12000", by=chief, basis="Raised")
    with at(9, 9, 0):
        request = mdf_request_submit(
            partner=partner_a,
            by=a_admin,
            activity_type="joint_webinar",
            title="Cloud webinar",
            planned_cost="6000",
            starts_on=date(2026, 11, 16),
            ends_on=date(2026, 11, 16),
            expected_leads=80,
        )
    with at(10, 14, 45):
        mdf_request_approve(request=request, by=manager)
    with at(23, 16, 0):
        proof = proof_from_upload(
            SimpleUploadedFile("report.pdf", PDF, content_type="application/pdf")
        )
        claim = mdf_claim_submit(
            request=request, by=a_admin, actual_cost="5200", leads_generated=95, files=[proof]
        )
    with at(24, 12, 20):
        mdf_claim_approve(claim=claim, by=manager)

    history_page_shows(client, chief, fund, chief, datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    history_page_shows(client, chief, fund, manager, datetime(2026, 11, 24, 12, 20, tzinfo=UTC))
    history_page_shows(client, chief, request, manager, datetime(2026, 11, 10, 14, 45, tzinfo=UTC))
    history_page_shows(client, chief, claim, manager, datetime(2026, 11, 24, 12, 20, tzinfo=UTC))


def test_a_partner_tier_change_and_a_tier_definition_show_who_and_when(
    client, chief, vendor_admin, partner_a
):
    with at(24, 15, 0):
        partner_services.partner_update(
            partner=partner_a, changed_by=chief, tier="gold", tier_reason="Strategic account"
        )
    moment = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    history_page_shows(client, vendor_admin, Partner.objects.get(pk=partner_a.pk), chief, moment)
    change = TierChange.objects.get(partner=partner_a, cause="override")
    assert (change.changed_by, change.changed_at) == (chief, moment)

    gold = default_tier("gold")
    with at(24, 16, 30):
        partner_services.tier_update(tier=gold, by=vendor_admin, revenue_floor="600000")
    history_page_shows(
        client, vendor_admin, gold, vendor_admin, datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
    )


def test_a_ledger_payment_shows_who_and_when(client, finance, chief, partner_a):
    entry = LedgerEntryFactory(partner=partner_a, kind="award", claim_by=None)
    with at(20, 10, 0):
        award_confirm(entry=entry, by=chief)
    with at(24, 17, 45):
        ledger_mark_paid(entry_ids=[entry.pk], by=finance, reference="RUN-7")
    history_page_shows(client, finance, entry, chief, datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    history_page_shows(client, finance, entry, finance, datetime(2026, 11, 24, 17, 45, tzinfo=UTC))


def test_every_audited_family_keeps_history_and_shows_it_in_the_admin():
    """The models above each keep history records and their admin has the history page."""
    from django.contrib import admin

    from deals.models import Deal
    from incentives.models import IncentiveClaim, LedgerEntry, MdfClaim, MdfFund, MdfRequest
    from partners.models import Program, Tier
    from prm.admin_history import HistoryAdmin

    for model in (
        Deal,
        IncentiveClaim,
        MdfFund,
        MdfRequest,
        MdfClaim,
        LedgerEntry,
        Partner,
        Tier,
        Program,
    ):
        assert getattr(model._meta, "simple_history_manager_attribute", None), (
            f"{model.__name__} keeps no history"
        )
        assert isinstance(admin.site._registry[model], HistoryAdmin), model.__name__


def test_a_program_rule_changed_in_the_admin_shows_who_and_when(client, vendor_admin):
    from partners.models import Program

    program = Program.objects.get(is_default=True)
    url = reverse("admin:partners_program_change", args=[program.pk])
    client.force_login(vendor_admin)
    data = change_form_data(client.get(url))
    data["protection_days"] = 120
    with at(24, 11, 5):
        response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    program.refresh_from_db()
    assert program.protection_days == 120
    history_page_shows(
        client, vendor_admin, program, vendor_admin, datetime(2026, 11, 24, 11, 5, tzinfo=UTC)
    )


def test_a_tier_changed_with_its_program_goes_through_the_service(client, vendor_admin):
    from partners.models import Program, Tier

    program = Program.objects.get(is_default=True)
    gold = Tier.objects.get(program=program, slug="gold")
    url = reverse("admin:partners_program_change", args=[program.pk])
    client.force_login(vendor_admin)
    data = change_form_data(client.get(url))
    row = next(k[: -len("-id")] for k, v in data.items() if k.endswith("-id") and v == gold.pk)

    response = client.post(url, {**data, f"{row}-rank": 9})
    assert response.status_code == 200  # the form again, with the error
    assert "An existing tier keeps its rank and slug." in response.content.decode()
    gold.refresh_from_db()
    assert gold.rank != 9

    with at(24, 12, 30):
        response = client.post(url, {**data, f"{row}-revenue_floor": "650000"})
    assert response.status_code == 302
    gold.refresh_from_db()
    assert gold.revenue_floor == 650000
    latest = gold.history.first()
    assert (latest.history_user, latest.history_change_reason) == (
        vendor_admin,
        "Changed with its program",
    )
    history_page_shows(
        client, vendor_admin, gold, vendor_admin, datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    )

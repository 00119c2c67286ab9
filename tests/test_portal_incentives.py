"""Portal pages of the money engine: earnings and claims, MDF, contributions."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from incentives.models import IncentiveClaim, MdfClaim, MdfRequest
from incentives.services.claims import claim_reject, claim_submit
from incentives.services.mdf import mdf_claim_submit, mdf_request_approve
from tests.factories import (
    DealFactory,
    LedgerEntryFactory,
    MdfFundFactory,
    MdfRequestFactory,
    WonDealFactory,
)
from tests.test_incentives import PDF

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def monday():
    with time_machine.travel(MONDAY, tick=False):
        yield


def signed_in(client, user):
    client.force_login(user)
    return client


def test_earnings_show_totals_and_what_to_claim(client, a_admin, partner_a, partner_b):
    LedgerEntryFactory(partner=partner_a, description="Strategic product line")
    LedgerEntryFactory(partner=partner_b, description="Someone else's SPIFF")
    page = signed_in(client, a_admin).get("/portal/earnings/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Strategic product line" in html and "Someone else" not in html
    assert "$750.00" in html


def test_claiming_from_the_earnings_page(client, a_admin, partner_a):
    entries = [LedgerEntryFactory(partner=partner_a) for _ in range(2)]
    response = signed_in(client, a_admin).post(
        "/portal/claims/new/", {"entries": [e.pk for e in entries], "note": "please"}
    )
    claim = IncentiveClaim.objects.get()
    assert response.status_code == 302 and response.url == f"/portal/claims/{claim.pk}/"
    assert claim.amount == D("1500.00")
    detail = client.get(response.url)
    assert "Awaiting verification" in detail.content.decode()


def test_a_late_claim_from_the_portal_says_when_it_was_due(client, a_admin, partner_a):
    late = LedgerEntryFactory(
        partner=partner_a, earned_on=date(2026, 10, 1), claim_by=date(2026, 10, 31)
    )
    response = signed_in(client, a_admin).post(
        "/portal/claims/new/", {"entries": [late.pk]}, follow=True
    )
    assert "31 Oct 2026" in response.content.decode()
    assert not IncentiveClaim.objects.exists()


def test_disputing_a_rejection_in_the_portal(client, a_admin, partner_a, manager):
    entry = LedgerEntryFactory(partner=partner_a)
    claim = claim_submit(partner=partner_a, entry_ids=[entry.pk], by=a_admin)
    claim_reject(claim=claim, by=manager, reason="Missing purchase order")
    page = signed_in(client, a_admin).get(f"/portal/claims/{claim.pk}/")
    assert "Missing purchase order" in page.content.decode()
    too_short = client.post(f"/portal/claims/{claim.pk}/dispute/", {"reason": "no"}, follow=True)
    assert "at least 10 characters" in too_short.content.decode()
    client.post(f"/portal/claims/{claim.pk}/dispute/", {"reason": "The PO is attached to the deal"})
    claim.refresh_from_db()
    assert claim.status == "disputed"


def test_managers_read_but_do_not_dispute(client, manager, partner_a, a_admin):
    entry = LedgerEntryFactory(partner=partner_a)
    claim = claim_submit(partner=partner_a, entry_ids=[entry.pk], by=a_admin)
    signed_in(client, manager)
    assert client.get(f"/portal/claims/{claim.pk}/").status_code == 200
    assert (
        client.post(f"/portal/claims/{claim.pk}/dispute/", {"reason": "x" * 20}).status_code == 403
    )


def test_earnings_query_count_is_flat(client, a_admin, partner_a, django_assert_max_num_queries):
    LedgerEntryFactory(partner=partner_a)
    signed_in(client, a_admin)
    with django_assert_max_num_queries(30) as few:
        client.get("/portal/earnings/")
    for _ in range(20):
        LedgerEntryFactory(partner=partner_a)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/portal/earnings/").status_code == 200


def test_mdf_request_and_claim_in_the_portal(client, a_admin, partner_a, manager):
    MdfFundFactory(partner=partner_a, fiscal_year=2026, amount=D("10000"))
    signed_in(client, a_admin)
    home = client.get("/portal/mdf/")
    assert "$10,000.00" in home.content.decode()
    bad = client.post(
        "/portal/mdf/requests/new/",
        {
            "activity_type": "event",
            "title": "Roadshow",
            "planned_cost": "2000",
            "starts_on": "2026-11-01",
            "ends_on": "2026-11-02",
            "expected_leads": "40",
        },
    )
    assert bad.status_code == 400 and "before the activity starts" in bad.content.decode()
    created = client.post(
        "/portal/mdf/requests/new/",
        {
            "activity_type": "event",
            "title": "Roadshow",
            "planned_cost": "2000",
            "starts_on": "2026-11-24",
            "ends_on": "2026-11-24",
            "expected_leads": "40",
        },
    )
    mdf_request = MdfRequest.objects.get()
    assert created.url == f"/portal/mdf/requests/{mdf_request.pk}/"
    mdf_request_approve(request=mdf_request, by=manager)

    with time_machine.travel(datetime(2026, 11, 26, 9, tzinfo=UTC), tick=False):
        wrong = client.post(
            f"/portal/mdf/requests/{mdf_request.pk}/claim/",
            {
                "actual_cost": "1800",
                "leads_generated": "52",
                "files": [SimpleUploadedFile("run.sh", b"#!/bin/sh\nrm -rf /\n")],
            },
        )
        assert wrong.status_code == 400
        assert "not accepted" in wrong.content.decode()
        assert not MdfClaim.objects.exists()
        filed = client.post(
            f"/portal/mdf/requests/{mdf_request.pk}/claim/",
            {
                "actual_cost": "1800",
                "leads_generated": "52",
                "files": [SimpleUploadedFile("invoice.pdf", PDF)],
            },
        )
        assert filed.status_code == 302
        claim = MdfClaim.objects.get()
        proof = claim.proofs.get()
        download = client.get(f"/portal/mdf/proofs/{proof.pk}/")
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == PDF


def test_a_proof_is_404_for_another_partner(client, b_admin, partner_a, manager, a_admin):
    fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
    request = MdfRequestFactory(fund=fund, starts_on=date(2026, 11, 23))
    mdf_request_approve(request=request, by=manager)
    from incentives.proofs import proof_from_upload

    claim = mdf_claim_submit(
        request=request,
        by=a_admin,
        actual_cost="10",
        leads_generated=1,
        files=[proof_from_upload(SimpleUploadedFile("p.pdf", PDF))],
    )
    proof = claim.proofs.get()
    assert signed_in(client, b_admin).get(f"/portal/mdf/proofs/{proof.pk}/").status_code == 404
    assert signed_in(client, manager).get(f"/portal/mdf/proofs/{proof.pk}/").status_code == 200


def test_mdf_page_query_count_is_flat(client, a_admin, partner_a, django_assert_max_num_queries):
    fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
    MdfRequestFactory(fund=fund)
    signed_in(client, a_admin)
    with django_assert_max_num_queries(30) as few:
        client.get("/portal/mdf/")
    for _ in range(15):
        MdfRequestFactory(fund=fund, planned_cost=D("10"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/portal/mdf/").status_code == 200


def test_the_mdf_page_shows_both_returns_each_with_its_label(client, a_admin, partner_a):
    fund = MdfFundFactory(
        partner=partner_a, fiscal_year=2026, reimbursed=D("4000"), reserved=D("1000")
    )
    activity = MdfRequestFactory(fund=fund, status="approved")
    DealFactory(partner=partner_a, mdf_request=activity, amount=D("60000"))
    WonDealFactory(partner=partner_a, mdf_request=activity, partner_credit=D("20000"))
    html = signed_in(client, a_admin).get("/portal/mdf/").content.decode()
    block = html[html.index('data-testid="mdf-return"') :]
    assert "Pipeline sourced ÷ MDF used" in block and "Revenue won ÷ MDF used" in block
    assert 'data-testid="pipeline-return">12.0×' in block  # 60,000 ÷ (4,000 + 1,000)
    assert 'data-testid="revenue-return">4.0×' in block  # 20,000 ÷ 5,000
    assert "plus still reserved by approved activities" in block  # what "MDF used" is
    assert "Return on MDF" not in html


def test_contributions_page(client, a_admin, partner_a):
    signed_in(client, a_admin)
    assert client.get("/portal/contributions/").status_code == 200
    client.post(
        "/portal/contributions/",
        {"kind": "reference", "title": "Globex case study", "url": "https://globex.example/cs"},
    )
    assert partner_a.contributions.get().title == "Globex case study"
    bad = client.post("/portal/contributions/", {"kind": "reference", "url": "not a url"})
    assert bad.status_code == 400 and "Enter a valid URL" in bad.content.decode()

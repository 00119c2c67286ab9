"""The money API (API.md): ledger, incentive claims, MDF, contributions."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from deals.services import deal_accrue_incentives
from incentives.models import IncentiveClaim, LedgerEntry, MdfClaim, MdfProof
from incentives.services.claims import claim_submit
from incentives.services.mdf import mdf_request_approve
from partners.models import ProgramVersion
from prm.roles import Role
from tests.factories import (
    LedgerEntryFactory,
    MdfFundFactory,
    MdfRequestFactory,
    PartnerFactory,
    StaffFactory,
    WonDealFactory,
)
from tests.test_incentives import PDF

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def monday():
    with time_machine.travel(MONDAY, tick=False):
        yield


@pytest.fixture
def finance(db):
    return StaffFactory(username="finance", role=Role.FINANCE)


# ---------------------------------------------------------------- ledger


def test_a_partner_sees_only_its_own_ledger(api, a_admin, partner_a, partner_b):
    mine = LedgerEntryFactory(partner=partner_a)
    LedgerEntryFactory(partner=partner_b)
    body = api(a_admin).get("/api/v1/ledger/").json()
    assert [row["id"] for row in body["results"]] == [mine.pk]
    row = body["results"][0]
    assert {"kind", "amount", "status", "source", "due_on"} <= set(row)
    assert row["amount"] == "750.00" and row["claimable"] is True
    other = api(a_admin).get(f"/api/v1/ledger/?partner={partner_b.pk}").json()
    assert other["results"] == []


def test_a_won_deals_spiffs_name_their_program_version(api, a_admin, partner_a):
    deal_accrue_incentives(WonDealFactory(partner=partner_a, closed_on=date(2026, 11, 2)))
    rows = api(a_admin).get("/api/v1/ledger/?kind=spiff").json()["results"]
    version = ProgramVersion.objects.get(program=partner_a.program)
    assert rows and {row["version"] for row in rows} == {version.number}
    other = LedgerEntryFactory(partner=partner_a, kind="commission", claim_by=None)
    one = api(a_admin).get(f"/api/v1/ledger/{other.pk}/").json()
    assert one["version"] is None


def test_ledger_list_query_count_is_flat(api, chief, django_assert_max_num_queries):
    for _ in range(3):
        LedgerEntryFactory(partner=PartnerFactory())
    with django_assert_max_num_queries(8) as few:
        api(chief).get("/api/v1/ledger/")
    for _ in range(30):
        LedgerEntryFactory(partner=PartnerFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api(chief).get("/api/v1/ledger/?limit=100").json()["results"]) == 33


def test_finance_pays_and_exports(api, finance, manager, partner_a):
    entry = LedgerEntryFactory(partner=partner_a, kind="rebate", claim_by=None)
    LedgerEntry.objects.filter(pk=entry.pk).update(
        status="approved", approved_at=MONDAY, due_on=date(2026, 12, 1)
    )
    exported = api(finance).get("/api/v1/ledger/export/?due_from=2026-12-01&due_to=2026-12-31")
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert [(r["entry"], r["amount"], r["due_on"]) for r in rows] == [
        (str(entry.pk), "750.00", "2026-12-01")
    ]
    assert api(finance).get("/api/v1/ledger/export/?due_from=soon").status_code == 400
    assert api(manager).get("/api/v1/ledger/export/").status_code == 403
    assert (
        api(manager)
        .post("/api/v1/ledger/pay/", {"entries": [entry.pk], "reference": "R"}, format="json")
        .status_code
        == 403
    )
    paid = api(finance).post(
        "/api/v1/ledger/pay/", {"entries": [entry.pk], "reference": "RUN-7"}, format="json"
    )
    assert paid.json() == {"paid": 1}
    again = api(finance).post(
        "/api/v1/ledger/pay/", {"entries": [entry.pk], "reference": "RUN-8"}, format="json"
    )
    assert again.json() == {"paid": 0}
    bad = api(finance).post("/api/v1/ledger/pay/", {"entries": "x"}, format="json")
    assert bad.status_code == 400


def test_a_manager_confirms_an_award(api, manager, other_manager, partner_a):
    award = LedgerEntryFactory(
        partner=partner_a, kind="award", code="award_top_new_logo", claim_by=None
    )
    assert api(other_manager).post(f"/api/v1/ledger/{award.pk}/confirm/").status_code == 404
    response = api(manager).post(f"/api/v1/ledger/{award.pk}/confirm/")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    again = api(manager).post(f"/api/v1/ledger/{award.pk}/confirm/")
    assert again.status_code == 409 and again.json()["code"] == "wrong_state"


# ---------------------------------------------------------------- claims


def test_claim_flow_over_the_api(api, a_admin, manager, chief, partner_a):
    entries = [LedgerEntryFactory(partner=partner_a) for _ in range(2)]
    created = api(a_admin).post(
        "/api/v1/incentive-claims/",
        {"entries": [e.pk for e in entries], "note": "Q4"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    claim = created.json()
    assert (claim["amount"], claim["status"], claim["verify_by"]) == (
        "1500.00",
        "submitted",
        "2026-12-01",
    )
    url = f"/api/v1/incentive-claims/{claim['id']}"
    assert api(a_admin).post(f"{url}/approve/").status_code == 403
    assert api(manager).post(f"{url}/reject/", {}, format="json").status_code == 400
    rejected = api(manager).post(f"{url}/reject/", {"reason": "No PO"}, format="json")
    assert rejected.json()["status"] == "rejected"
    disputed = api(a_admin).post(f"{url}/dispute/", {"reason": "PO attached"}, format="json")
    assert disputed.json()["status"] == "disputed"
    assert (
        api(manager)
        .post(f"{url}/resolve/", {"overturn": True, "note": "ok"}, format="json")
        .status_code
        == 403
    )
    resolved = api(chief).post(
        f"{url}/resolve/", {"overturn": True, "note": "PO is valid"}, format="json"
    )
    assert resolved.json()["status"] == "approved"
    assert set(LedgerEntry.objects.values_list("status", flat=True)) == {"approved"}


def test_a_late_claim_is_a_400_with_the_due_date(api, a_admin, partner_a):
    late = LedgerEntryFactory(
        partner=partner_a, earned_on=date(2026, 10, 1), claim_by=date(2026, 10, 31)
    )
    response = api(a_admin).post("/api/v1/incentive-claims/", {"entries": [late.pk]}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "claim_late"
    assert "2026-10-31" in response.json()["detail"]
    assert not IncentiveClaim.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"entries": []}, {"entries": ["abc"]}, {"entries": [999999]}, {"entries": "1"}],
)
def test_bad_claim_input_is_a_400(api, a_admin, body):
    response = api(a_admin).post("/api/v1/incentive-claims/", body, format="json")
    assert response.status_code == 400


def test_claiming_another_partners_entry_is_refused(api, a_admin, partner_b):
    theirs = LedgerEntryFactory(partner=partner_b)
    response = api(a_admin).post(
        "/api/v1/incentive-claims/", {"entries": [theirs.pk]}, format="json"
    )
    assert response.status_code == 400
    assert str(theirs.pk) in str(response.json())
    theirs.refresh_from_db()
    assert theirs.claim_id is None


def test_managers_do_not_file_claims(api, manager, partner_a):
    entry = LedgerEntryFactory(partner=partner_a)
    response = api(manager).post(
        "/api/v1/incentive-claims/", {"entries": [entry.pk]}, format="json"
    )
    assert response.status_code == 403


def test_claim_list_query_count_is_flat(api, chief, django_assert_max_num_queries):
    def claim():
        partner = PartnerFactory()
        entry = LedgerEntryFactory(partner=partner)
        claim_submit(partner=partner, entry_ids=[entry.pk], by=StaffFactory())

    claim()
    with django_assert_max_num_queries(8) as few:
        api(chief).get("/api/v1/incentive-claims/")
    for _ in range(20):
        claim()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api(chief).get("/api/v1/incentive-claims/?limit=100").json()["count"] == 21


# ---------------------------------------------------------------- MDF


def upload(name="proof.pdf", content=PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_mdf_flow_over_the_api(api, a_admin, manager, partner_a):
    MdfFundFactory(partner=partner_a, fiscal_year=2026, amount=D("10000"))
    created = api(a_admin).post(
        "/api/v1/mdf/requests/",
        {
            "activity_type": "webinar",
            "title": "Security webinar",
            "planned_cost": "3000.00",
            "starts_on": "2026-11-30",
            "ends_on": "2026-11-30",
            "expected_leads": 60,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    request_id = created.json()["id"]
    assert created.json()["claim_due_on"] == "2026-12-30"
    approved = api(manager).post(f"/api/v1/mdf/requests/{request_id}/approve/", {}, format="json")
    assert approved.json()["reserved_amount"] == "3000.00"

    with time_machine.travel(datetime(2026, 12, 2, 9, tzinfo=UTC), tick=False):
        filed = api(a_admin).post(
            "/api/v1/mdf/claims/",
            {
                "request": request_id,
                "actual_cost": "2800.00",
                "leads_generated": "71",
                "files": [upload(), upload("attendees.csv", b"name,email\nA,a@x.example\n")],
            },
            format="multipart",
        )
        assert filed.status_code == 201, filed.json()
        assert [p["name"] for p in filed.json()["proofs"]] == ["proof.pdf", "attendees.csv"]
        claim_id = filed.json()["id"]
        done = api(manager).post(f"/api/v1/mdf/claims/{claim_id}/approve/")
    assert done.json()["reimbursement"] == "2800.00"
    fund = api(a_admin).get("/api/v1/mdf/funds/").json()["results"][0]
    assert (fund["reserved"], fund["reimbursed"], fund["available"]) == (
        "0.00",
        "2800.00",
        "7200.00",
    )
    ledger = api(a_admin).get("/api/v1/ledger/?kind=mdf").json()["results"]
    assert [(row["amount"], row["status"]) for row in ledger] == [("2800.00", "approved")]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "Attach at least one"),
        ([("virus.exe", b"MZ\x90\x00")], "not accepted"),
        ([("scan.pdf", b"GIF89a")], "not really a .pdf"),
    ],
)
def test_a_bad_mdf_claim_is_refused_with_nothing_saved(
    api, a_admin, manager, partner_a, files, message
):
    fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
    request = MdfRequestFactory(fund=fund, starts_on=date(2026, 11, 23))
    mdf_request_approve(request=request, by=manager)
    response = api(a_admin).post(
        "/api/v1/mdf/claims/",
        {
            "request": request.pk,
            "actual_cost": "100",
            "leads_generated": "3",
            "files": [upload(name, content) for name, content in files],
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert message in str(response.json())
    assert not MdfClaim.objects.exists() and not MdfProof.objects.exists()


def test_a_too_large_proof_is_refused(api, a_admin, manager, partner_a, settings):
    settings.MDF_PROOF_MAX_BYTES = 2048
    fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
    request = MdfRequestFactory(fund=fund, starts_on=date(2026, 11, 23))
    mdf_request_approve(request=request, by=manager)
    response = api(a_admin).post(
        "/api/v1/mdf/claims/",
        {
            "request": request.pk,
            "actual_cost": "100",
            "leads_generated": "3",
            "files": [upload("big.pdf", PDF + b"x" * 4096)],
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert "the limit is" in str(response.json())
    assert not MdfClaim.objects.exists()


def test_an_mdf_claim_for_another_partners_request_is_refused(api, a_admin, partner_b, manager):
    theirs = MdfRequestFactory(fund=MdfFundFactory(partner=partner_b, fiscal_year=2026))
    response = api(a_admin).post(
        "/api/v1/mdf/claims/",
        {"request": theirs.pk, "actual_cost": "1", "leads_generated": "1", "files": [upload()]},
        format="multipart",
    )
    assert response.status_code == 400
    assert not MdfClaim.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {
            "activity_type": "party",
            "title": "x",
            "planned_cost": "10",
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-01",
            "expected_leads": 1,
        },
        {
            "activity_type": "event",
            "title": "x",
            "planned_cost": "-5",
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-01",
            "expected_leads": 1,
        },
        {
            "activity_type": "event",
            "title": "x",
            "planned_cost": "10",
            "starts_on": "someday",
            "ends_on": "2026-12-01",
            "expected_leads": 1,
        },
    ],
)
def test_bad_mdf_request_input_is_a_400(api, a_admin, partner_a, body):
    MdfFundFactory(partner=partner_a, fiscal_year=2026)
    assert api(a_admin).post("/api/v1/mdf/requests/", body, format="json").status_code == 400


def test_overspending_a_fund_over_the_api_is_refused(api, a_admin, manager, partner_a):
    fund = MdfFundFactory(partner=partner_a, fiscal_year=2026, amount=D("5000"))
    first = MdfRequestFactory(fund=fund, planned_cost=D("4000"))
    second = MdfRequestFactory(fund=fund, planned_cost=D("4000"))
    assert api(manager).post(f"/api/v1/mdf/requests/{first.pk}/approve/").status_code == 200
    response = api(manager).post(f"/api/v1/mdf/requests/{second.pk}/approve/")
    assert response.status_code == 409
    assert response.json()["code"] == "fund_exhausted"


def test_mdf_request_list_query_count_is_flat(api, chief, django_assert_max_num_queries):
    MdfRequestFactory()
    with django_assert_max_num_queries(8) as few:
        api(chief).get("/api/v1/mdf/requests/")
    for _ in range(20):
        MdfRequestFactory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api(chief).get("/api/v1/mdf/requests/?limit=100").json()["count"] == 21


def test_mdf_claim_list_query_count_is_flat(api, chief, django_assert_max_num_queries):
    def claim():
        request = MdfRequestFactory()
        MdfClaim.objects.create(
            request=request, partner=request.partner, actual_cost=10, leads_generated=1
        )

    claim()
    with django_assert_max_num_queries(8) as few:
        api(chief).get("/api/v1/mdf/claims/")
    for _ in range(20):
        claim()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api(chief).get("/api/v1/mdf/claims/?limit=100").json()["count"] == 21


# ---------------------------------------------------------------- contributions


def test_contributions_over_the_api(api, a_admin, manager, partner_a):
    created = api(a_admin).post(
        "/api/v1/contributions/",
        {"kind": "community", "title": "Answer on the forum", "url": "https://forum.example/1"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    bad = api(a_admin).post("/api/v1/contributions/", {"kind": "gossip"}, format="json")
    assert bad.status_code == 400
    approved = api(manager).post(f"/api/v1/contributions/{created.json()['id']}/approve/")
    assert approved.json()["status"] == "approved"
    assert LedgerEntry.objects.get(partner=partner_a).amount == D("100.00")


def test_a_deal_names_the_mdf_activity_that_sourced_it(api, a_admin, manager, partner_a, partner_b):
    fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
    ours = MdfRequestFactory(fund=fund)
    mdf_request_approve(request=ours, by=manager)
    theirs = MdfRequestFactory(fund=MdfFundFactory(partner=partner_b, fiscal_year=2026))
    body = {
        "customer_name": "Sourced Ltd",
        "customer_domain": "sourced.example",
        "amount": "25000.00",
        "expected_close": "2027-02-01",
        "deal_type": "new_logo",
        "compensation_model": "reseller",
    }
    refused = api(a_admin).post("/api/v1/deals/", {**body, "mdf_request": theirs.pk}, format="json")
    assert refused.status_code == 400 and "mdf_request" in refused.json()
    created = api(a_admin).post("/api/v1/deals/", {**body, "mdf_request": ours.pk}, format="json")
    assert created.status_code == 201, created.json()
    from deals.models import Deal

    assert Deal.objects.get(pk=created.json()["id"]).mdf_request == ours


def test_the_daily_jobs_run_twice_change_nothing_the_second_time(partner_a, a_admin, manager):
    from incentives import tasks

    late = LedgerEntryFactory(
        partner=partner_a, earned_on=date(2026, 10, 1), claim_by=date(2026, 10, 31)
    )
    claim = claim_submit(
        partner=partner_a, entry_ids=[LedgerEntryFactory(partner=partner_a).pk], by=a_admin
    )
    IncentiveClaim.objects.filter(pk=claim.pk).update(verify_by=date(2026, 11, 20))
    request = MdfRequestFactory(
        fund=MdfFundFactory(partner=partner_a, fiscal_year=2026), starts_on=date(2026, 11, 23)
    )
    mdf_request_approve(request=request, by=manager)
    with time_machine.travel(datetime(2027, 1, 5, 1, tzinfo=UTC), tick=False):
        first = (tasks.void_lapsed(), tasks.flag_overdue_claims(), tasks.expire_mdf())
        second = (tasks.void_lapsed(), tasks.flag_overdue_claims(), tasks.expire_mdf())
    assert first == (1, 1, 1) and second == (0, 0, 0)
    late.refresh_from_db()
    assert late.status == "void"

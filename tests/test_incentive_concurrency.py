"""Money under real concurrency on PostgreSQL: nothing approved, paid or reserved twice."""

import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.utils import timezone

from incentives.models import EntryStatus, LedgerEntry, MdfClaim, MdfFund, MdfRequest
from incentives.services.claims import claim_approve, claim_submit
from incentives.services.common import IncentiveError
from incentives.services.ledger import ledger_mark_paid
from incentives.services.mdf import mdf_claim_approve, mdf_claim_submit, mdf_request_approve
from tests.factories import (
    LedgerEntryFactory,
    MdfFundFactory,
    MdfRequestFactory,
    PartnerFactory,
    PartnerUserFactory,
    StaffFactory,
)
from tests.test_incentives import pdf

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]


def all_at_once(calls) -> list:
    """Run each call in its own thread and connection, released together."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def attempt(index):
        try:
            barrier.wait(timeout=30)
            calls[index]()
            outcomes[index] = "ok"
        except IncentiveError as exc:
            outcomes[index] = exc.code
        except Exception as exc:  # recorded and asserted on below
            outcomes[index] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_the_same_claim_approved_from_two_requests_at_once():
    partner = PartnerFactory()
    person = PartnerUserFactory(partner=partner).user
    managers = [StaffFactory(), StaffFactory()]
    entries = [LedgerEntryFactory(partner=partner) for _ in range(3)]
    claim = claim_submit(partner=partner, entry_ids=[e.pk for e in entries], by=person)

    outcomes = all_at_once([lambda m=m: claim_approve(claim=claim, by=m) for m in managers])
    assert sorted(outcomes) == ["ok", "wrong_state"]
    approved = LedgerEntry.objects.filter(claim=claim)
    assert {e.status for e in approved} == {EntryStatus.APPROVED}
    assert len({e.approved_by_id for e in approved}) == 1
    # One approval in each entry's history, whoever won.
    for entry in approved:
        assert entry.history.filter(status=EntryStatus.APPROVED).count() == 1

    paid = all_at_once(
        [
            lambda: ledger_mark_paid(
                entry_ids=[e.pk for e in entries], by=managers[0], reference="RUN-A"
            ),
            lambda: ledger_mark_paid(
                entry_ids=[e.pk for e in entries], by=managers[1], reference="RUN-B"
            ),
        ]
    )
    assert paid == ["ok", "ok"]
    references = set(LedgerEntry.objects.filter(claim=claim).values_list("payment_reference"))
    assert len(references) == 1  # one payment run took them all; the other found none
    for entry in entries:
        assert entry.history.filter(status=EntryStatus.PAID).count() == 1


def test_concurrent_mdf_approvals_never_overspend_the_fund():
    partner = PartnerFactory()
    fund = MdfFundFactory(partner=partner, amount=D("10000"))
    requests = [
        MdfRequestFactory(fund=fund, planned_cost=D("3000")) for _ in range(6)
    ]  # 18,000 asked of 10,000
    managers = [StaffFactory() for _ in requests]
    outcomes = all_at_once(
        [
            lambda r=r, m=m: mdf_request_approve(request=r, by=m)
            for r, m in zip(requests, managers, strict=True)
        ]
    )
    assert outcomes.count("ok") == 3
    assert outcomes.count("fund_exhausted") == 3
    fund.refresh_from_db()
    held = sum(
        MdfRequest.objects.filter(status="approved").values_list("reserved_amount", flat=True)
    )
    assert fund.reserved == held == D("9000.00")
    assert fund.available == D("1000.00")


def test_the_same_mdf_claim_approved_twice_at_once_reimburses_once():
    partner = PartnerFactory()
    person = PartnerUserFactory(partner=partner).user
    managers = [StaffFactory(), StaffFactory()]
    today = timezone.localdate()
    fund = MdfFundFactory(partner=partner, fiscal_year=today.year, amount=D("10000"))
    request = MdfRequestFactory(fund=fund, starts_on=today, ends_on=today)
    mdf_request_approve(request=request, by=managers[0])
    claim = mdf_claim_submit(
        request=request, by=person, actual_cost="3500", leads_generated=12, files=[pdf()]
    )
    outcomes = all_at_once([lambda m=m: mdf_claim_approve(claim=claim, by=m) for m in managers])
    assert sorted(outcomes) == ["ok", "wrong_state"]
    fund.refresh_from_db()
    assert (fund.reserved, fund.reimbursed) == (D("0.00"), D("3500.00"))
    assert LedgerEntry.objects.filter(kind="mdf").count() == 1
    assert MdfClaim.objects.get().reimbursement == D("3500.00")


def test_the_database_refuses_an_overspent_fund():
    from django.db import IntegrityError

    fund = MdfFundFactory(amount=D("100"))
    with pytest.raises(IntegrityError):
        MdfFund.objects.filter(pk=fund.pk).update(reserved=D("60"), reimbursed=D("41"))


def test_two_claims_for_one_activity_filed_at_once():
    partner = PartnerFactory()
    people = [PartnerUserFactory(partner=partner).user for _ in range(2)]
    today = timezone.localdate()
    fund = MdfFundFactory(partner=partner, fiscal_year=today.year)
    request = MdfRequestFactory(
        fund=fund, starts_on=today - timedelta(days=2), ends_on=today - timedelta(days=1)
    )
    MdfRequest.objects.filter(pk=request.pk).update(status="approved", reserved_amount=D("4000"))
    MdfFund.objects.filter(pk=fund.pk).update(reserved=D("4000"))
    outcomes = all_at_once(
        [
            lambda p=p: mdf_claim_submit(
                request=request, by=p, actual_cost="100", leads_generated=1, files=[pdf()]
            )
            for p in people
        ]
    )
    assert sorted(outcomes) == ["already_claimed", "ok"]
    assert MdfClaim.objects.count() == 1

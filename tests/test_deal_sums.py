"""The per-partner quarter sums: one deal's part in Python mirrors the grouped SQL, and
changes made at the same moment for one partner all land."""

import threading
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deals import rules, services
from deals.models import DealQuarter
from prm.quarters import Quarter
from tests.factories import DealFactory, PartnerFactory, PartnerUserFactory

Q3 = Quarter(2026, 3)
DAYS = st.dates(min_value=date(2025, 9, 1), max_value=date(2026, 12, 31))
MONEY = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False)


@st.composite
def deals(draw):
    status = draw(st.sampled_from(["pending", "approved", "won", "lost", "expired", "rejected"]))
    submitted = draw(DAYS)
    closed = draw(DAYS.filter(lambda d: d >= submitted)) if status in ("won", "lost") else None
    expires = None if status == "pending" else draw(st.none() | DAYS)
    if status == "approved" and expires is None:
        expires = submitted + timedelta(days=90)
    return {
        "status": status,
        "submitted_at": datetime.combine(submitted, time(12), tzinfo=UTC),
        "closed_on": closed,
        "expires_on": expires,
        "amount": draw(MONEY),
        "closed_amount": draw(MONEY) if status == "won" else draw(st.none() | MONEY),
        "partner_credit": draw(MONEY) if status == "won" else None,
        "direct_conflict": draw(st.booleans()),
        "compensation_model": draw(st.sampled_from(["reseller", "co_sell", "referral"])),
    }


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(fields=deals(), as_of=st.sampled_from([Q3.end, date(2026, 8, 15), Q3.start]))
def test_one_deals_part_matches_the_grouped_queries(program_data, fields, as_of):
    deal = DealFactory(partner=PartnerFactory(), **fields)
    row = services._summary_rows(Q3, as_of, partner_ids=[deal.partner_id])[deal.partner_id]
    window = rules.SumWindow(
        start=Q3.start, end=Q3.end, as_of=as_of, year_start=Q3.trailing(4)[0].start
    )
    expected = rules.contribution(services._sum_facts(deal), window)
    assert {name: getattr(row, name) for name in rules.SUM_FIELDS} == expected


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("program_data")
def test_registrations_for_one_partner_at_the_same_moment_all_add_to_its_sums():
    partner = PartnerFactory()
    users = [PartnerUserFactory(partner=partner).user for _ in range(8)]
    today = timezone.localdate()
    services.deal_quarter_summarize(quarter=Quarter.containing(today).label)
    barrier = threading.Barrier(len(users))
    errors = []

    def register(index):
        try:
            barrier.wait(timeout=30)
            services.deal_register(
                partner=partner,
                submitted_by=users[index],
                customer_name=f"Busy Customer {index}",
                customer_domain=f"busy{index}.example",
                amount="1000.00",
                expected_close=today + timedelta(days=60),
                deal_type="new_logo",
                compensation_model="reseller",
            )
        except Exception as exc:  # asserted on below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(len(users))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    row = DealQuarter.objects.get(partner=partner, quarter=Quarter.containing(today).label)
    assert (row.pipeline_deals, row.pipeline_amount) == (8, D("8000.00"))

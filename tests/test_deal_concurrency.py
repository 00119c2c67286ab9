"""First to register wins, under real concurrency on PostgreSQL (separate connections)."""

import threading
from datetime import date

import pytest
from django.db import connection

from deals import services
from deals.models import Deal
from partners.models import Account
from tests.factories import PartnerFactory, PartnerUserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]


def register_all_at_once(partners, users, **fields) -> list:
    barrier = threading.Barrier(len(partners))
    outcomes = [None] * len(partners)

    def attempt(index):
        try:
            barrier.wait(timeout=30)
            deal = services.deal_register(
                partner=partners[index],
                submitted_by=users[index],
                amount="50000.00",
                expected_close=date(2027, 3, 31),
                deal_type="new_logo",
                compensation_model="reseller",
                **fields,
            )
            outcomes[index] = (deal.status, deal.reason)
        except Exception as exc:  # recorded and asserted on below
            outcomes[index] = ("error", repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(partners))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def make_partners(count):
    partners = [PartnerFactory() for _ in range(count)]
    users = [PartnerUserFactory(partner=p).user for p in partners]
    return partners, users


def test_twenty_partners_register_one_new_customer_at_once():
    partners, users = make_partners(20)
    outcomes = register_all_at_once(
        partners, users, customer_name="Contested Inc", customer_domain="contested.example"
    )
    assert not [o for o in outcomes if o[0] == "error"], outcomes
    assert outcomes.count(("pending", "")) == 1
    assert outcomes.count(("rejected", "registered_by_another_partner")) == 19
    assert Account.objects.filter(domain_key="contested.example").count() == 1
    assert Deal.objects.filter(status="pending").count() == 1
    assert Deal.objects.filter(status="rejected").count() == 19


def test_twenty_partners_register_a_known_customer_by_name_only():
    Account.objects.create(name="Named Customer GmbH")
    partners, users = make_partners(20)
    outcomes = register_all_at_once(
        partners, users, customer_name="named customer", customer_domain=""
    )
    assert not [o for o in outcomes if o[0] == "error"], outcomes
    assert outcomes.count(("pending", "")) == 1
    assert outcomes.count(("rejected", "registered_by_another_partner")) == 19

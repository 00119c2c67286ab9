"""The admin's lists of long tables (deals, the ledger): no full COUNT(*), no pass over the
list for a filter's choices or the date drill-down (prm.admin_lists)."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from prm import admin_lists
from tests.factories import DealFactory, LedgerEntryFactory, PartnerFactory

pytestmark = pytest.mark.django_db

LISTS = ["admin:deals_deal_changelist", "admin:incentives_ledgerentry_changelist"]


def make_rows(name: str, count: int, **kwargs) -> None:
    factory = DealFactory if "deal" in name else LedgerEntryFactory
    for _ in range(count):
        factory(partner=kwargs.get("partner") or PartnerFactory())


def statements(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def whole_list_counts(sql: list[str], table: str) -> list[str]:
    """COUNT statements over ``table`` that are not cut short by a LIMIT."""
    return [s for s in sql if "COUNT(" in s.upper() and table in s and "LIMIT" not in s.upper()]


@pytest.mark.parametrize("name", LISTS)
def test_the_list_counts_at_most_the_cap_never_the_whole_table(client, chief, name):
    make_rows(name, 3)
    client.force_login(chief)
    sql = statements(client, reverse(name))
    table = "deals_deal" if "deal" in name else "incentives_ledgerentry"
    assert whole_list_counts(sql, table) == []
    assert any("COUNT(" in s.upper() and table in s and "LIMIT 10001" in s for s in sql)


@pytest.mark.parametrize("name", LISTS)
def test_a_list_longer_than_the_cap_says_so_and_pages_to_the_cap(client, chief, name, monkeypatch):
    from django.contrib import admin

    from deals.models import Deal
    from incentives.models import LedgerEntry

    model = Deal if "deal" in name else LedgerEntry
    monkeypatch.setattr(admin_lists.CappedPaginator, "cap", 4)
    monkeypatch.setattr(admin.site._registry[model], "list_per_page", 2)
    make_rows(name, 7)
    client.force_login(chief)
    page = client.get(reverse(name) + "?p=2").content.decode()
    assert re.search(r"4\+ (deals|ledger entries)", page)
    assert page.count('name="_selected_action"') == 2  # page 2 of the 4 counted


def test_a_list_within_the_cap_shows_its_count(client, manager, partner_a):
    make_rows("deal", 3, partner=partner_a)
    client.force_login(manager)
    page = client.get(reverse(LISTS[0])).content.decode()
    assert re.search(r"3 deals\s", page) and "3+ deals" not in page


def test_the_channel_manager_filter_offers_managers_without_reading_the_deals(
    client, chief, manager, other_manager, partner_a, partner_b
):
    DealFactory(partner=partner_a, customer_name="Alpha's")
    DealFactory(partner=partner_b, customer_name="Bravo's")
    client.force_login(chief)
    url = reverse(LISTS[0])
    sql = statements(client, url)
    assert not [s for s in sql if "DISTINCT" in s.upper() and "deals_deal" in s]
    page = client.get(url).content.decode()
    for person in (manager, other_manager):
        assert f"partner__channel_manager__id__exact={person.pk}" in page
        assert escape(str(person)) in page
    filtered = client.get(f"{url}?partner__channel_manager__id__exact={manager.pk}")
    assert "Alpha&#x27;s" in filtered.content.decode()
    assert "Bravo&#x27;s" not in filtered.content.decode()


def test_the_date_drill_down_spans_the_first_to_the_last_date(client, chief, partner_a):
    now = timezone.now()
    for days in (0, 400):
        DealFactory(partner=partner_a, submitted_at=now - timedelta(days=days))
    client.force_login(chief)
    url = reverse(LISTS[0])
    sql = statements(client, url)
    assert not [s for s in sql if "DATE_TRUNC" in s.upper() or "DISTINCT" in s.upper()]
    page = client.get(url).content.decode()
    years = {now.year, (now - timedelta(days=400)).year}
    for year in years:
        assert f"submitted_at__year={year}" in page
    one_year = client.get(f"{url}?submitted_at__year={now.year}").content.decode()
    assert f"submitted_at__month={now.month}" in one_year


@pytest.mark.parametrize("name", LISTS)
def test_statements_do_not_grow_with_the_rows(client, chief, name, django_assert_max_num_queries):
    make_rows(name, 3)
    client.force_login(chief)
    with django_assert_max_num_queries(40) as few:
        client.get(reverse(name))
    make_rows(name, 30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse(name)).status_code == 200

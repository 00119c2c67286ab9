"""Keyset pages of the API's longest lists (deals, ledger): forward and back through every
row once, in scope, capped at 1,000 rows, and ``?offset=`` as before (prm.api.KeysetPagination)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deals.models import Deal
from incentives.models import LedgerEntry
from prm.api import MAX_PAGE_SIZE
from tests.factories import DealFactory, LedgerEntryFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def walk(client, url: str, key: str = "next") -> list[list[int]]:
    """The ids of each page, following ``key`` links from ``url``."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert "count" not in body
        pages.append([row["id"] for row in body["results"]])
        url = body[key]
    return pages


def deals_in_ties(partner, count: int) -> list[Deal]:
    """``count`` registrations, most sharing their submission time with others, so that
    pages end in the middle of a run of equal times."""
    start = timezone.now() - timedelta(days=3)
    return [
        DealFactory(partner=partner, submitted_at=start + timedelta(minutes=n // 4))
        for n in range(count)
    ]


def test_deal_pages_forward_and_back_give_every_row_once_newest_first(api, a_admin, partner_a):
    deals = deals_in_ties(partner_a, 23)
    expected = [d.pk for d in sorted(deals, key=lambda d: (d.submitted_at, d.pk), reverse=True)]
    client = api(a_admin)

    forward = walk(client, "/api/v1/deals/?limit=5")
    assert [len(page) for page in forward] == [5, 5, 5, 5, 3]
    assert [pk for page in forward for pk in page] == expected

    last = client.get("/api/v1/deals/?limit=5").json()
    while last["next"]:
        last = client.get(last["next"]).json()
    assert last["next"] is None
    backward = walk(client, last["previous"], key="previous")
    assert [pk for page in reversed(backward) for pk in page] == expected[:20]
    first = client.get("/api/v1/deals/?limit=5").json()
    assert first["previous"] is None


def test_rows_added_while_paging_neither_repeat_nor_shift_the_pages(api, chief, partner_a):
    deals_in_ties(partner_a, 10)
    client = api(chief)
    first = client.get("/api/v1/deals/?limit=4").json()
    DealFactory(partner=partner_a)  # newer than every row: before the first page
    rest = walk(client, first["next"])
    seen = [row["id"] for row in first["results"]] + [pk for page in rest for pk in page]
    assert len(seen) == len(set(seen)) == 10


def test_a_partner_pages_only_through_its_own_deals(api, a_admin, b_admin, partner_a, partner_b):
    deals_in_ties(partner_a, 6)
    theirs = {d.pk for d in deals_in_ties(partner_b, 6)}
    ours = walk(api(a_admin), "/api/v1/deals/?limit=4")
    assert not theirs & {pk for page in ours for pk in page}
    # A cursor made on another partner's list still reads only one's own rows.
    cursor = api(b_admin).get("/api/v1/deals/?limit=2").json()["next"]
    rows = api(a_admin).get(cursor).json()["results"]
    assert rows and not theirs & {row["id"] for row in rows}
    assert api(a_admin).get(f"/api/v1/deals/{min(theirs)}/").status_code == 404


def test_filters_apply_to_every_page(api, chief, partner_a, partner_b):
    deals_in_ties(partner_a, 7)
    deals_in_ties(partner_b, 5)
    pages = walk(api(chief), f"/api/v1/deals/?partner={partner_b.pk}&limit=2")
    ids = [pk for page in pages for pk in page]
    assert len(ids) == 5 and set(ids) == set(
        Deal.objects.filter(partner=partner_b).values_list("pk", flat=True)
    )


def test_ledger_pages_by_earning_date_through_days_of_many_entries(api, chief):
    today = timezone.localdate()
    entries = [
        LedgerEntryFactory(partner=PartnerFactory(), earned_on=today - timedelta(days=n % 3))
        for n in range(17)
    ]
    expected = [e.pk for e in sorted(entries, key=lambda e: (e.earned_on, e.pk), reverse=True)]
    pages = walk(api(chief), "/api/v1/ledger/?limit=4")
    assert [pk for page in pages for pk in page] == expected


def test_a_page_is_at_most_a_thousand_rows_and_a_bad_limit_is_the_default(api, chief):
    partner = PartnerFactory()
    LedgerEntry.objects.bulk_create(
        LedgerEntryFactory.build(partner=partner, idempotency_key=f"cap:{n}")
        for n in range(MAX_PAGE_SIZE + 3)
    )
    client = api(chief)
    page = client.get("/api/v1/ledger/?limit=1000000000000000000000000000000").json()
    assert len(page["results"]) == MAX_PAGE_SIZE and page["next"]
    assert len(client.get(page["next"]).json()["results"]) == 3
    for limit in ("-5", "0", "x"):
        assert len(client.get(f"/api/v1/ledger/?limit={limit}").json()["results"]) == 50


def test_paging_by_offset_still_works_with_its_count(api, chief, partner_a):
    deals_in_ties(partner_a, 7)
    body = api(chief).get("/api/v1/deals/?limit=3&offset=3").json()
    assert body["count"] == 7 and len(body["results"]) == 3
    assert "offset=6" in body["next"] and "cursor" not in body["next"]


@pytest.mark.parametrize(
    "cursor",
    ["x", "eyJ2IjoiYSJ9", "bm90IGpzb24", "eyJ2IjoiMjAyNi0xMi0wMSIsInBrIjotMX0", "%00", "é" * 500],
)
def test_a_cursor_that_cannot_be_read_is_a_400(api, chief, partner_a, cursor):
    DealFactory(partner=partner_a)
    response = api(chief).get(f"/api/v1/deals/?cursor={cursor}")
    assert response.status_code == 400
    assert set(response.json()) & {"cursor", "detail"}  # NUL is refused before the view


@pytest.mark.parametrize("path", ["/api/v1/deals/", "/api/v1/ledger/"])
def test_a_keyset_page_costs_the_same_statements_for_few_rows_or_many(
    api, chief, path, django_assert_max_num_queries
):
    make = DealFactory if "deals" in path else LedgerEntryFactory
    for _ in range(3):
        make(partner=PartnerFactory())
    client = api(chief)
    with django_assert_max_num_queries(8) as few:
        first = client.get(f"{path}?limit=2").json()
    for _ in range(30):
        make(partner=PartnerFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(f"{path}?limit=100")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(first["next"])

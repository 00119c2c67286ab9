"""Pagination without COUNT(*): a page of rows and whether another follows.

Django's Paginator counts the whole result to number the pages; on a partner with years of
registrations that count costs more than the page itself (bench/load.py). Lists that only
step forward and back fetch one row more than they show instead.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet


@dataclass
class Page:
    object_list: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1

    def __iter__(self) -> Iterator:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


# Past any real list (a page number such as 10**30 would put the offset out of the
# database's range); such a page is simply empty.
MAX_PAGE_NUMBER = 10**9


def page_of(queryset: QuerySet, number, *, per_page: int = 25) -> Page:
    """Page ``number`` (1-based; anything unparseable or below 1 is page 1, anything above
    ``MAX_PAGE_NUMBER`` that page) of an ordered queryset, with one query."""
    try:
        number = min(max(int(number), 1), MAX_PAGE_NUMBER)
    except (TypeError, ValueError):
        number = 1
    start = (number - 1) * per_page
    rows = list(queryset[start : start + per_page + 1])
    return Page(object_list=rows[:per_page], number=number, has_next=len(rows) > per_page)

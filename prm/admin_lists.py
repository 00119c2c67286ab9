"""Admin lists of millions of rows: pages that do not count the whole list, filters whose
choices come without a pass over it, and a date drill-down from the first and last dates.

Django's changelist counts its rows twice (the filtered list for the page numbers, the
unfiltered one for "N total"), a related-only filter reads the distinct values of the
list, and the date drill-down the distinct years, months or days of it: each a pass over
every row in scope. On 2,000,000 registrations each costs a second or more
(bench/pages.py); a page of 100 rows costs a few milliseconds.
"""

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

from prm.roles import Role

# Rows counted before a list says "more than": page 100 at 100 a page.
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts the rows only up to ``COUNT_CAP`` (one more, to know there are more): a
    bounded read, not the whole list. ``capped`` says the list is longer; its pages past
    the cap are reached by filtering, not by number."""

    cap = COUNT_CAP

    @cached_property
    def _limit(self) -> int:
        # At least a page more than a page: the changelist shows an unsliced list when
        # the count says it fits one page.
        return max(self.cap, self.per_page + 1)

    @cached_property
    def _counted(self) -> int:
        return self.object_list.order_by().values("pk")[: self._limit + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._counted, self._limit)

    @property
    def capped(self) -> bool:
        return self._counted > self._limit


class LongListAdmin:
    """For a ModelAdmin of a table that grows without bound: no full COUNT(*)."""

    paginator = CappedPaginator
    show_full_result_count = False
    # templates/admin/change_list.html: the date drill-down from the first and last dates
    span_date_hierarchy = True


class ChannelManagerFilter(admin.RelatedFieldListFilter):
    """Filter by channel manager (through ``partner__channel_manager`` or
    ``channel_manager``), offering the active channel managers: a read of the people
    table, not of the distinct managers of every row listed."""

    def field_choices(self, field, request, model_admin) -> list:
        from django.contrib.auth import get_user_model

        managers = get_user_model().objects.filter(role=Role.CHANNEL_MANAGER, is_active=True)
        return [(user.pk, str(user)) for user in managers.order_by("username")]


class QuarterFilter(admin.SimpleListFilter):
    """The ``quarter`` label column by its last twelve quarters (and the current one):
    choices from the calendar, not from the distinct labels of every row."""

    title = "quarter"
    parameter_name = "quarter"

    def lookups(self, request, model_admin) -> list:
        from django.utils import timezone

        from prm.quarters import Quarter

        current = Quarter.containing(timezone.localdate())
        return [(q.label, q.label) for q in reversed(current.trailing(13))]

    def queryset(self, request, queryset) -> QuerySet:
        if self.value():
            return queryset.filter(quarter=self.value())
        return queryset


class SpanDates:
    """What ``date_hierarchy`` reads of a changelist's queryset, from the first and last
    dates (an index's two ends) instead of the distinct dates of every row: each year,
    month or day between them is offered, with rows or not."""

    def __init__(self, queryset):
        self.queryset = queryset
        self.bounds: dict = {}

    def aggregate(self, **kwargs) -> dict:
        # date_hierarchy asks for the first and last dates, then for the periods: one read
        # answers both.
        result = self.queryset.aggregate(**kwargs)
        if set(kwargs) == {"first", "last"}:
            self.bounds[kwargs["first"].source_expressions[0].name] = result
        return result

    def _span(self, field_name: str, kind: str, *, dates: bool) -> list:
        from datetime import date, datetime, timedelta

        from django.db.models import Max, Min
        from django.utils import timezone

        bounds = self.bounds.get(field_name) or self.queryset.aggregate(
            first=Min(field_name), last=Max(field_name)
        )
        first, last = bounds["first"], bounds["last"]
        if first is None or last is None:
            return []
        if isinstance(first, datetime):
            first, last = timezone.localtime(first).date(), timezone.localtime(last).date()
        periods, day = [], first
        while day <= last:
            if kind == "year":
                start = date(day.year, 1, 1)
                day = date(day.year + 1, 1, 1)
            elif kind == "month":
                start = date(day.year, day.month, 1)
                day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            else:
                start = day
                day += timedelta(days=1)
            periods.append(
                start
                if dates
                else timezone.make_aware(datetime(start.year, start.month, start.day))
            )
        return periods

    def dates(self, field_name: str, kind: str) -> list:
        return self._span(field_name, kind, dates=True)

    def datetimes(self, field_name: str, kind: str) -> list:
        return self._span(field_name, kind, dates=False)


class SpanDatesChangeList:
    """A changelist whose ``queryset`` answers ``date_hierarchy`` with ``SpanDates``."""

    def __init__(self, changelist):
        self._changelist = changelist
        self.queryset = SpanDates(changelist.queryset)

    def __getattr__(self, name):
        return getattr(self._changelist, name)

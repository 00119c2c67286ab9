"""Business days: Monday to Friday, minus a country's public holidays and a program's own.

RULEBOOK: claims are verified within 5 business days and paid within 15 of approval.
"""

from collections.abc import Iterable
from datetime import date, timedelta

import holidays


class BusinessCalendar:
    def __init__(self, country: str = "", extra_days: Iterable[date] = ()):
        self.country = country
        self._public = holidays.country_holidays(country) if country else {}
        self._extra = frozenset(extra_days)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._extra and day not in self._public

    def add(self, start: date, days: int) -> date:
        """The ``days``-th business day after ``start`` (``start`` itself not counted)."""
        if days < 0:
            raise ValueError("Count business days forward only.")
        day = start
        left = days
        while left:
            day += timedelta(days=1)
            if self.is_business_day(day):
                left -= 1
        return day

    def between(self, start: date, end: date) -> int:
        """Business days after ``start`` up to and including ``end`` (0 if end <= start)."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_business_day(day):
                count += 1
        return count

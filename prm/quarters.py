"""Fiscal quarters: ``2026Q3`` labels, their date ranges, and trailing windows.

A program may start its fiscal year in any month. A fiscal year is named after the
calendar year in which it ends, so with a February start, FY2027 runs from February
2026 to January 2027 and ``2027Q1`` is February–April 2026. With the default January
start, fiscal and calendar quarters coincide.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

_LABEL = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int
    start_month: int = 1

    @classmethod
    def parse(cls, label: str, *, start_month: int = 1) -> "Quarter":
        if not 1 <= start_month <= 12:
            raise ValueError(f"A fiscal year starts in month 1–12, not {start_month}.")
        match = _LABEL.match(label.strip().upper()) if label else None
        if not match:
            raise ValueError(f"{label!r} is not a quarter; write it like 2026Q3.")
        return cls(int(match[1]), int(match[2]), start_month)

    @classmethod
    def containing(cls, day: date, *, start_month: int = 1) -> "Quarter":
        offset = (day.month - start_month) % 12
        fiscal_year = day.year + (1 if start_month > 1 and day.month >= start_month else 0)
        return cls(fiscal_year, offset // 3 + 1, start_month)

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    def __str__(self) -> str:
        return self.label

    @property
    def start(self) -> date:
        first_year = self.year - (1 if self.start_month > 1 else 0)
        month_index = self.start_month - 1 + (self.number - 1) * 3
        return date(first_year + month_index // 12, month_index % 12 + 1, 1)

    @property
    def end(self) -> date:
        return self.next().start - timedelta(days=1)

    def next(self) -> "Quarter":
        if self.number == 4:
            return Quarter(self.year + 1, 1, self.start_month)
        return Quarter(self.year, self.number + 1, self.start_month)

    def previous(self) -> "Quarter":
        if self.number == 1:
            return Quarter(self.year - 1, 4, self.start_month)
        return Quarter(self.year, self.number - 1, self.start_month)

    def trailing(self, count: int) -> list["Quarter"]:
        """This quarter and the ``count - 1`` before it, oldest first."""
        quarters = [self]
        for _ in range(count - 1):
            quarters.append(quarters[-1].previous())
        return quarters[::-1]


def trailing_twelve_months(day: date) -> tuple[date, date]:
    """The twelve months ending on ``day`` inclusive.

    At a quarter end this is exactly the last four quarters (RULEBOOK §1), leap years
    included: 2024-12-31 → 2024-01-01 … 2024-12-31.
    """
    return add_months(day + timedelta(days=1), -12), day


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the month's last day (Jan 31 + 1 → Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))

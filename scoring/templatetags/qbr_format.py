"""Display filters for QBR snapshots, whose dates and amounts are stored as text."""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()


@register.filter
def isodate(value) -> Any:
    """``"2026-11-10"`` → a date (``"2026-11-10T09:30:00+00:00"`` → a datetime), so the
    ``date`` filter can format it; anything else is returned as it is."""
    if not isinstance(value, str) or not value:
        return value
    try:
        if "T" in value:
            return datetime.fromisoformat(value)
        return date.fromisoformat(value)
    except ValueError:
        return value


@register.filter
def signed(value) -> str:
    """``"3.5"`` → ``+3.50``, ``"-2"`` → ``−2.00``, zero → ``±0.00``; empty for None."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(value).quantize(Decimal("0.01"))
    except InvalidOperation:
        return ""
    if number > 0:
        return f"+{number}"
    if number < 0:
        return f"−{abs(number)}"
    return f"±{number}"

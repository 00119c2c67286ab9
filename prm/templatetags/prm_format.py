"""Display filters: money and rates the way the rulebook writes them."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.translation import gettext, ngettext

from prm.money import CURRENCY_SYMBOLS, format_money

register = template.Library()


@register.filter
def percent(value) -> str:
    """``Decimal("0.125")`` → ``12.5%``; empty for None."""
    if value is None or value == "":
        return ""
    try:
        number = (Decimal(value) * 100).normalize()
    except InvalidOperation:
        return ""
    text = f"{number:f}"
    return f"{text}%"


@register.filter
def money(value, currency="USD") -> str:
    """``{{ amount|money:currency }}``: ``Decimal("1234567.8")`` → ``$1,234,568``, whole
    units for display, with the currency's symbol or ISO code (``CHF 1,234,568``)."""
    if value is None or value == "":
        return "—"
    try:
        whole = Decimal(value).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return "—"
    sign = "-" if whole < 0 else ""
    return f"{sign}{_unit(currency)}{intcomma(abs(int(whole)))}"


def _unit(currency) -> str:
    """What is written before a number in ``currency``: its symbol, or its code and a
    space."""
    code = (currency or "USD").upper()
    return CURRENCY_SYMBOLS.get(code) or f"{code} "


@register.filter
def bootstrap(field) -> str:
    """Render a form field's widget with Bootstrap's classes (and the invalid state)."""
    widget = field.field.widget
    input_type = getattr(widget, "input_type", "")
    base = "form-check-input" if input_type == "checkbox" else "form-control"
    if widget.__class__.__name__ in ("Select", "SelectMultiple"):
        base = "form-select"
    classes = f"{base} is-invalid" if field.errors else base
    return field.as_widget(attrs={"class": classes})


@register.filter
def cents(value) -> str:
    """``Decimal("1234.5")`` → ``$1,234.50``: money owed, to the cent (``prm.money``)."""
    return format_money(value)


@register.filter
def money_in(value, currency="USD") -> str:
    """``{{ deal.amount|money_in:deal.currency }}`` → ``€1,234.50``: an amount in its own
    currency, written the one way the admin and the manager pages write money."""
    return format_money(value, currency or "USD")


@register.filter
def days_left(day) -> str:
    """``date`` → "35 days left" / "last day" / "lapsed", counted from today."""
    from django.utils import timezone

    if not day:
        return ""
    left = (day - timezone.localdate()).days
    if left < 0:
        return gettext("lapsed")
    if left == 0:
        return gettext("last day")
    return ngettext("%(n)s day left", "%(n)s days left", left) % {"n": left}


@register.filter
def get_item(mapping, key) -> Any:
    """``{{ tiers|get_item:rank }}``: a dict lookup with a variable key."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def percent1(value) -> str:
    """A ratio as a percentage with one decimal: ``Decimal("0.1234")`` → ``12.3%``;
    an em dash when there is none."""
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(value) * 100
    except InvalidOperation:
        return "—"
    return f"{number:.1f}%"


@register.filter
def money_short(value, currency="USD") -> str:
    """``Decimal("9430183.71")`` → ``$9.43M``; ``$943K``; small amounts in whole units;
    in ``currency``'s symbol or code, like ``money``."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return "—"
    sign = "-" if amount < 0 else ""
    unit = _unit(currency)
    amount = abs(amount)
    if amount >= 1_000_000:
        return f"{sign}{unit}{amount / 1_000_000:.2f}M"
    if amount >= 10_000:
        return f"{sign}{unit}{amount / 1_000:.0f}K"
    return f"{sign}{unit}{intcomma(int(amount.quantize(Decimal('1'), rounding=ROUND_HALF_UP)))}"

"""Text the code composes and stores (a notice, a ledger line's description, an MDF fund's
basis), kept as its untranslated source and its values, and put together in the reader's
language when it is shown, e-mailed or exported.

A stored message is a source string marked with ``gettext_noop`` and written with named
placeholders (``"%(customer)s is approved."``), plus a JSON-able dict of values. A value
is shown as it is, except three wrapped kinds that depend on the language:

- ``text_value(source, **params)``: a translatable phrase of its own (a rejection reason
  from the rulebook's list, a choice's label), itself with values;
- ``date_value(day)``: a date, written the reader's way;
- ``amount_value(number, currency)``: a money amount with two decimals and thousands
  separators, and the currency's symbol or ISO code when it is given (``€1,553.00``).

A row stored before its text was kept this way has no source: its old text is shown.
"""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext

from prm.money import format_money

# a translated phrase with values, a date and an amount (with its currency), each a dict
_TEXT, _PARAMS, _DATE, _AMOUNT, _CURRENCY = "t", "p", "date", "amount", "currency"


def text_value(source, **params) -> dict:
    """A phrase translated when shown: a source marked with ``gettext_noop``, or a lazy
    translation (``gettext_lazy``, a choice's label), kept as its untranslated source."""
    with translation.override(None):
        source = str(source)
    return {_TEXT: source, _PARAMS: params} if params else {_TEXT: source}


def date_value(day: date) -> dict:
    return {_DATE: day.isoformat()}


def amount_value(number: Decimal | int | str, currency: str = "") -> dict:
    value = {_AMOUNT: str(number)}
    return value | {_CURRENCY: currency} if currency else value


def _shown(value) -> str:
    if isinstance(value, dict):
        if _TEXT in value:
            return text_render(value[_TEXT], value.get(_PARAMS) or {})
        if _DATE in value:
            try:
                return date_format(date.fromisoformat(value[_DATE]), "DATE_FORMAT")
            except (TypeError, ValueError):
                return str(value[_DATE])
        if _AMOUNT in value:
            try:
                amount = Decimal(value[_AMOUNT])
            except (InvalidOperation, TypeError, ValueError):
                return str(value[_AMOUNT])
            if value.get(_CURRENCY):
                return format_money(amount, value[_CURRENCY])
            return f"{amount:,.2f}"
    return "" if value is None else str(value)


def text_render(source: str, params: dict | None = None, *, fallback: str = "") -> str:
    """``source`` translated into the active language with ``params`` filled in; the
    English source if the translation does not fit the values (a placeholder typed wrong
    in the catalogue); ``fallback`` when there is no source (a row from before)."""
    if not source:
        return fallback
    values = {name: _shown(value) for name, value in (params or {}).items()}
    if not values:
        return gettext(source)
    try:
        return gettext(source) % values
    except (KeyError, ValueError, TypeError):
        try:
            return source % values
        except (KeyError, ValueError, TypeError):
            return fallback or source


def text_stored(source: str, params: dict | None = None) -> str:
    """``source`` with ``params`` in the site's default language: the copy a row keeps
    beside its source and values, for the admin, exports made before, and searches."""
    with translation.override(settings.LANGUAGE_CODE):
        return text_render(source, params)

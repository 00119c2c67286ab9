"""Money in the admin, written one way (``prm.money.format_money``): ``$21,235.79``.

Django's admin shows a ``DecimalField`` as its bare digits ("21235.79"). ``MoneyAdmin``
finds a model's money columns (the project's money precision, ``money_field_kwargs``) and
shows each, in the lists and on the read-only fields of a change page, through a display
function named ``<field>__money``: the currency symbol or code (the row's own ``currency``
column where it has one, or the one the model's ``MONEY_CURRENCIES`` names for the field),
thousands separated, two decimals. Editable fields stay inputs.
"""

from collections.abc import Callable, Sequence

from django.db import models

from .money import DECIMAL_PLACES, MAX_DIGITS, format_money

SUFFIX = "__money"


def is_money_field(field) -> bool:
    return (
        isinstance(field, models.DecimalField)
        and field.max_digits == MAX_DIGITS
        and field.decimal_places == DECIMAL_PLACES
    )


def money_display(field: models.Field) -> Callable:
    """A list column / read-only field showing ``field`` as money, sorted by the field."""
    name = field.name
    # A model whose amounts are in more than one currency names, per field, the attribute
    # holding that field's currency (``MONEY_CURRENCIES``); else the row's ``currency``.
    named = getattr(field.model, "MONEY_CURRENCIES", {}).get(name)
    has_currency = named or any(f.name == "currency" for f in field.model._meta.fields)

    def show(obj) -> str:
        currency = getattr(obj, named or "currency", None) if has_currency else None
        return format_money(getattr(obj, name), currency or "USD")

    show.short_description = field.verbose_name
    show.admin_order_field = name
    show.__name__ = f"{name}{SUFFIX}"
    return show


class MoneyAdmin:
    """Mix into a ModelAdmin: its money columns are formatted in lists and read-only
    fields. Custom display methods format their own amounts with ``format_money``."""

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        # In the model's order, so the fields added to a page keep it.
        self.money_fields = [f.name for f in model._meta.fields if is_money_field(f)]
        for field in model._meta.fields:
            if field.name in self.money_fields:
                setattr(self, f"{field.name}{SUFFIX}", money_display(field))

    def _money_names(self, names: Sequence, *, only: Sequence | None = None) -> list:
        def swap(name):
            if isinstance(name, (list, tuple)):
                return type(name)(swap(inner) for inner in name)
            if (
                isinstance(name, str)
                and name in self.money_fields
                and (only is None or name in only)
            ):
                return f"{name}{SUFFIX}"
            return name

        return [swap(name) for name in names]

    def get_list_display(self, request) -> list:
        return self._money_names(super().get_list_display(request))

    def _readonly_money(self, request, obj) -> list:
        if not self.has_change_permission(request, obj):
            return list(self.money_fields)  # the whole page is read-only
        declared = set(super().get_readonly_fields(request, obj))
        return [name for name in self.money_fields if name in declared]

    def get_readonly_fields(self, request, obj=None) -> list:
        # The declared names stay (so the form leaves those columns out); the money
        # displays are added, for the fieldsets below to name.
        declared = list(super().get_readonly_fields(request, obj))
        return declared + [f"{name}{SUFFIX}" for name in self._readonly_money(request, obj)]

    def get_fieldsets(self, request, obj=None) -> list:
        only = self._readonly_money(request, obj)
        fieldsets = []
        for title, options in super().get_fieldsets(request, obj):
            names, seen = [], set()
            for name in self._money_names(options["fields"], only=only):
                key = name if isinstance(name, str) else tuple(name)
                if key not in seen:
                    seen.add(key)
                    names.append(name)
            fieldsets.append((title, {**options, "fields": names}))
        return fieldsets

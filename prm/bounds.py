"""The range of a number a client may send: that of the column that stores it.

Serializers and forms take their numeric fields' bounds from here (or from a rule's own,
narrower limit, such as the 1–10 contract years or a program's maximum deal amount, which
its service checks), so no input reaches the database out of its column's range: a value
such as 10**30 is a field error (400), never a database error (500).
``tests/test_input_bounds.py`` fails for a numeric input field without bounds.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


def column_bounds(model: type[models.Model], name: str, **narrower) -> dict:
    """Field arguments for a model column's range: ``min_value``/``max_value`` of an
    integer column (its own validators, else what the database type holds) and
    ``max_digits``/``decimal_places`` of a decimal one (with its ``min_value`` and
    ``max_value`` validators, if any). ``narrower`` adds or tightens bounds, e.g.
    ``min_value=Decimal("0.01")``."""
    field = model._meta.get_field(name)
    bounds: dict = {}
    if isinstance(field, models.DecimalField):
        bounds = {"max_digits": field.max_digits, "decimal_places": field.decimal_places}
    lows = [v.limit_value for v in field.validators if isinstance(v, MinValueValidator)]
    highs = [v.limit_value for v in field.validators if isinstance(v, MaxValueValidator)]
    if lows:
        bounds["min_value"] = max(lows)
    if highs:
        bounds["max_value"] = min(highs)
    return bounds | narrower

"""Money is Decimal with two places, rounded half-up when stored (RULEBOOK)."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
MAX_DIGITS = 14
DECIMAL_PLACES = 2


def round_money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money_field_kwargs() -> dict:
    return {"max_digits": MAX_DIGITS, "decimal_places": DECIMAL_PLACES}

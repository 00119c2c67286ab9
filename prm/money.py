"""Money is Decimal with two places, rounded half-up when stored (RULEBOOK)."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
# Wide enough that no sum overflows: a deal is at most MAX_DEAL_AMOUNT (a program's
# ceiling), so a column holds a hundred million such deals summed.
MAX_DIGITS = 20
DECIMAL_PLACES = 2
MAX_DEAL_AMOUNT = Decimal("10000000000")  # the highest maximum a program may set


def round_money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money_field_kwargs() -> dict:
    return {"max_digits": MAX_DIGITS, "decimal_places": DECIMAL_PLACES}


# Exchange rates carry ten places; a converted amount is rounded once, half-up to the cent,
# when it is stored (RULEBOOK §12), so it differs from the exact product by at most half a
# cent, and it is never converted again.
RATE_PLACES = 10


def convert(amount: Decimal, rate: Decimal) -> Decimal:
    """``amount`` in the reporting currency at ``rate`` (reporting units per unit), rounded
    half-up to the cent."""
    return round_money(Decimal(amount) * Decimal(rate))


# Currencies written with their symbol; any other is written with its ISO 4217 code.
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "CN¥"}


def format_money(value: Decimal | int | str | None, currency: str = "USD") -> str:
    """The one way money is written for people: currency symbol (or ISO code), thousands
    separated by commas, two decimals, the sign first: ``$21,235.79``, ``-€5.00``,
    ``CHF 1,000.00``; an em dash for no amount."""
    if value is None or value == "":
        return "—"
    try:
        amount = round_money(value)
    except (ArithmeticError, ValueError, TypeError):
        return "—"
    code = (currency or "USD").upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    sign = "-" if amount < 0 else ""
    number = f"{abs(amount):,.2f}"
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{code} {number}"


# Active ISO 4217 currency codes (fund and precious-metal codes left out): what a deal,
# a partner's payments or a program may be in.
ISO_4217 = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XCG",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)


def currency_code(value) -> str:
    """``value`` as an active ISO 4217 code (upper-cased, spaces trimmed); ``ValueError``
    if it is not one."""
    code = str(value or "").strip().upper()
    if code not in ISO_4217:
        raise ValueError(code)
    return code

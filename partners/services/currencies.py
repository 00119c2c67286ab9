"""Exchange rates and conversion into a program's reporting currency (RULEBOOK §12).

Finance keeps the rate table (admin, CSV import). Every money event (a registration, a
win, an accrual, a payment) asks ``to_reporting`` for its amount in the reporting currency
at the rate of its date, and stores the result with the rate; nothing converts a stored
amount again. A currency with no rate for the date refuses the event with a message that
names the currency and the date.
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext

from prm.money import RATE_PLACES, convert, round_money
from prm.uploads import KINDS as UPLOAD_KINDS
from prm.uploads import csv_upload_text

from ..models import ExchangeRate, User

# Rates are published on working days: an event on a Sunday takes Friday's. Older than
# this, the rate is missing rather than stale.
RATE_LOOKBACK_DAYS = 7
# A rate above this (or below its inverse) is a typing error, not a currency.
MAX_RATE = Decimal("1000000")
RATE_CSV_COLUMNS = ("currency", "base", "day", "rate")
RATE_CSV_OPTIONAL = ("source",)
RATE_CSV_KINDS = {"csv": UPLOAD_KINDS["csv"]}
RATE_CSV_MAX_ROWS = 50_000
RATE_CSV_MAX_ERRORS = 50
CODE = re.compile(r"[A-Z]{3}")


class RateMissing(ValidationError):
    """No rate converts ``currency`` into ``base`` on ``day``."""

    def __init__(self, currency: str, base: str, day: date) -> None:
        self.currency, self.base, self.day = currency, base, day
        super().__init__(
            gettext(
                "No exchange rate from %(currency)s to %(base)s for %(day)s (nor in the "
                "%(days)d days before it). Finance adds it under Exchange rates; then try again."
            )
            % {
                "currency": currency,
                "base": base,
                "day": day.isoformat(),
                "days": RATE_LOOKBACK_DAYS,
            },
            code="rate_missing",
        )


@dataclass(frozen=True)
class Converted:
    """An amount in its own currency and in the reporting currency, with the rate and the
    rate's day that turned one into the other (stored beside the amount)."""

    amount: Decimal
    currency: str
    reporting_amount: Decimal
    reporting_currency: str
    rate: Decimal
    rate_day: date | None  # None when the two currencies are the same


def rate_on(currency: str, base: str, day: date) -> ExchangeRate:
    """The newest rate from ``currency`` into ``base`` on or before ``day``, at most
    ``RATE_LOOKBACK_DAYS`` old; ``RateMissing`` if there is none."""
    rate = (
        ExchangeRate.objects.filter(
            currency=currency,
            base=base,
            day__lte=day,
            day__gt=day - timedelta(days=RATE_LOOKBACK_DAYS + 1),
        )
        .order_by("-day")
        .first()
    )
    if rate is None:
        raise RateMissing(currency, base, day)
    return rate


def to_reporting(amount: Decimal, currency: str, *, base: str, day: date) -> Converted:
    """``amount`` of ``currency`` in the reporting currency ``base`` at the rate of ``day``,
    rounded half-up to the cent (``prm.money.convert``)."""
    amount = Decimal(amount)
    if currency == base:
        return Converted(amount, currency, amount, base, Decimal(1), None)
    rate = rate_on(currency, base, day)
    return Converted(amount, currency, convert(amount, rate.rate), base, rate.rate, rate.day)


def from_reporting(amount: Decimal, currency: str, *, base: str, day: date) -> Converted:
    """``amount`` of the reporting currency ``base`` in ``currency`` at the rate of ``day``
    (what a partner paid in ``currency`` sees), rounded half-up to the cent: the amount
    divided by the table's rate of ``currency``. ``Converted.amount`` is in ``currency``."""
    amount = Decimal(amount)
    if currency == base:
        return Converted(amount, currency, amount, base, Decimal(1), None)
    rate = rate_on(currency, base, day)
    return Converted(round_money(amount / rate.rate), currency, amount, base, rate.rate, rate.day)


class Rates:
    """The rates a batch of events converts at (a quarter close's accruals, a payment run),
    each read from the table once: as many queries as there are currencies and days, not
    as entries."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._rows: dict[tuple[str, date], ExchangeRate] = {}

    def _rate(self, currency: str, day: date) -> ExchangeRate:
        key = (currency, day)
        if key not in self._rows:
            self._rows[key] = rate_on(currency, self.base, day)
        return self._rows[key]

    def from_reporting(self, amount: Decimal, currency: str, day: date) -> Converted:
        """Like ``from_reporting``, with this batch's rates."""
        amount = Decimal(amount)
        if currency == self.base:
            return Converted(amount, currency, amount, self.base, Decimal(1), None)
        rate = self._rate(currency, day)
        return Converted(
            round_money(amount / rate.rate), currency, amount, self.base, rate.rate, rate.day
        )


def _clean(currency: str, base: str, day, rate) -> tuple[str, str, date, Decimal]:
    """The four values checked, or ``ValidationError`` saying what is wrong with each."""
    problems = []
    currency, base = str(currency or "").strip().upper(), str(base or "").strip().upper()
    for name, code in (("currency", currency), ("base", base)):
        if not CODE.fullmatch(code):
            problems.append(
                gettext("%(column)s “%(value)s” is not a three-letter ISO 4217 code.")
                % {"column": name, "value": code}
            )
    if currency and currency == base:
        problems.append(gettext("A rate converts between two different currencies."))
    if not isinstance(day, date):
        try:
            parsed = parse_date(str(day or "").strip()) if day else None
        except ValueError:  # shaped like a date, but no such day (2026-02-30)
            parsed = None
        if parsed is None:
            problems.append(
                gettext("day “%(value)s” is not a date (YYYY-MM-DD).") % {"value": day or ""}
            )
        day = parsed
    try:
        rate = Decimal(str(rate).strip())
        if not rate.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        problems.append(gettext("rate “%(value)s” is not a number.") % {"value": rate})
    else:
        if not (1 / MAX_RATE <= rate <= MAX_RATE):
            problems.append(
                gettext("rate %(value)s is out of range (above 0.000001 and at most 1,000,000).")
                % {"value": rate}
            )
        elif rate != rate.quantize(Decimal(1).scaleb(-RATE_PLACES)):
            problems.append(
                gettext("rate %(value)s has more than %(places)d decimal places.")
                % {"value": rate, "places": RATE_PLACES}
            )
    if problems:
        raise ValidationError(problems)
    return currency, base, day, rate


def exchange_rate_check(*, currency: str, base: str, day, rate) -> None:
    """``ValidationError`` if the rate cannot be recorded (the forms ask before saving)."""
    _clean(currency, base, day, rate)


@transaction.atomic
def exchange_rate_set(
    *, currency: str, base: str, day, rate, source: str = "", by: User | None = None
) -> ExchangeRate:
    """Record (or correct) the rate of one currency on one day. A correction changes no
    amount already converted: those keep the rate they were converted at."""
    currency, base, day, rate = _clean(currency, base, day, rate)
    row, _ = ExchangeRate.objects.update_or_create(
        currency=currency,
        base=base,
        day=day,
        defaults={
            "rate": rate,
            "source": source.strip()[:100],
            "entered_by": by,
            "entered_at": timezone.now(),
        },
    )
    return row


def _rate_lines(text: str, errors: list[str]):
    """(line, row) for each rate line of the CSV ``text``; problems go to ``errors``."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader, None) or []]
    except csv.Error as exc:
        errors.append(gettext("Line 1: %(problem)s") % {"problem": exc})
        return
    missing = [name for name in RATE_CSV_COLUMNS if name not in header]
    if missing:
        errors.append(
            gettext(
                "Line 1: the first line must name the columns %(columns)s; missing: %(missing)s."
            )
            % {"columns": ", ".join(RATE_CSV_COLUMNS), "missing": ", ".join(missing)}
        )
        return
    count = 0
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            count += 1
            if count > RATE_CSV_MAX_ROWS:
                errors.append(
                    gettext("Line %(line)d: a file holds at most %(max)s rates.")
                    % {"line": line, "max": f"{RATE_CSV_MAX_ROWS:,}"}
                )
                return
            yield line, dict(zip(header, record, strict=False))
    except csv.Error as exc:
        errors.append(
            gettext("Line %(line)d: %(problem)s") % {"line": reader.line_num, "problem": exc}
        )


def exchange_rates_import_csv(*, file, by: User | None = None) -> int:
    """Import rates from a CSV file (columns currency, base, day, rate and, optionally,
    source). All or nothing: any bad line raises ``ValidationError`` listing each problem
    with its line number (the first 50), and nothing is imported. A rate already in the
    table for the same currency, base and day is corrected. Returns the number of lines
    imported."""
    text = csv_upload_text(file, default_name="rates.csv", kinds=RATE_CSV_KINDS)
    errors: list[str] = []
    rows = []
    seen: dict[tuple, int] = {}
    for line, row in _rate_lines(text, errors):
        try:
            values = _clean(row.get("currency"), row.get("base"), row.get("day"), row.get("rate"))
        except ValidationError as exc:
            errors.extend(
                gettext("Line %(line)d: %(problem)s") % {"line": line, "problem": message}
                for message in exc.messages
            )
            continue
        key = values[:3]
        if key in seen:
            errors.append(
                gettext("Line %(line)d: the same rate as line %(first)d (currency, base and day).")
                % {"line": line, "first": seen[key]}
            )
            continue
        seen[key] = line
        rows.append((values, (row.get("source") or "").strip()))
    if not errors and not rows:
        errors.append(gettext("The file has no rates after its first line."))
    if errors:
        more = len(errors) - RATE_CSV_MAX_ERRORS
        raise ValidationError(
            errors[:RATE_CSV_MAX_ERRORS]
            + ([gettext("… and %(count)d more.") % {"count": more}] if more > 0 else [])
        )
    with transaction.atomic():
        for (currency, base, day, rate), source in rows:
            exchange_rate_set(
                currency=currency, base=base, day=day, rate=rate, source=source, by=by
            )
    return len(rows)

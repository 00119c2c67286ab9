"""The exchange-rate table and conversion into the reporting currency (RULEBOOK §12)."""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deals.models import Deal
from deals.queries import closed_in, outcome_figures, revenue_by_partner
from deals.services import deal_approve, deal_register, deal_win
from incentives.models import LedgerEntry
from partners.models import ExchangeRate
from partners.services.currencies import (
    RATE_LOOKBACK_DAYS,
    RateMissing,
    exchange_rate_set,
    exchange_rates_import_csv,
    rate_on,
    to_reporting,
)
from prm.money import CENT, convert, round_money
from tests.factories import PartnerFactory

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000000"), places=2)
rates = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1000000"), places=10)


@given(amount=amounts, rate=rates)
def test_a_conversion_is_within_half_a_cent_of_the_exact_product(amount, rate):
    converted = convert(amount, rate)
    assert converted == converted.quantize(CENT)
    assert abs(converted - amount * rate) <= Decimal("0.005")


@given(entries=st.lists(st.tuples(amounts, rates), min_size=1, max_size=50))
def test_rounding_each_entry_moves_a_sum_by_at_most_half_a_cent_an_entry(entries):
    stored = sum(convert(amount, rate) for amount, rate in entries)
    exact = sum(amount * rate for amount, rate in entries)
    assert abs(stored - exact) <= Decimal("0.005") * len(entries)


def upload(text: str, name: str = "rates.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


@pytest.mark.django_db
def test_an_event_takes_the_newest_rate_on_or_before_its_day():
    exchange_rate_set(currency="EUR", base="USD", day=date(2026, 3, 13), rate="1.0850")
    exchange_rate_set(currency="EUR", base="USD", day=date(2026, 3, 16), rate="1.0900")
    # Saturday and Sunday take Friday's rate; Monday its own.
    assert rate_on("EUR", "USD", date(2026, 3, 15)).rate == Decimal("1.0850")
    assert rate_on("EUR", "USD", date(2026, 3, 16)).rate == Decimal("1.0900")
    converted = to_reporting(Decimal("1000.00"), "EUR", base="USD", day=date(2026, 3, 14))
    assert (converted.reporting_amount, converted.rate, converted.rate_day) == (
        Decimal("1085.00"),
        Decimal("1.0850"),
        date(2026, 3, 13),
    )


@pytest.mark.django_db
def test_a_missing_rate_refuses_with_the_currency_and_the_day():
    exchange_rate_set(currency="EUR", base="USD", day=date(2026, 3, 1), rate="1.08")
    late = date(2026, 3, 1) + timedelta(days=RATE_LOOKBACK_DAYS + 1)
    with pytest.raises(RateMissing) as refused:
        to_reporting(Decimal("10"), "EUR", base="USD", day=late)
    assert "EUR" in refused.value.messages[0] and late.isoformat() in refused.value.messages[0]
    with pytest.raises(RateMissing, match="GBP"):
        to_reporting(Decimal("10"), "GBP", base="USD", day=date(2026, 3, 1))
    # Before the first rate there is none either.
    with pytest.raises(RateMissing):
        rate_on("EUR", "USD", date(2026, 2, 28))


@pytest.mark.django_db
def test_the_reporting_currency_itself_needs_no_rate():
    converted = to_reporting(Decimal("12.34"), "USD", base="USD", day=date(2026, 3, 1))
    assert converted.reporting_amount == Decimal("12.34") and converted.rate == 1
    assert converted.rate_day is None


@pytest.mark.django_db
def test_a_correction_replaces_the_days_rate_and_keeps_the_old_one_in_history(finance):
    exchange_rate_set(currency="JPY", base="USD", day=date(2026, 3, 2), rate="0.0067")
    exchange_rate_set(currency="JPY", base="USD", day=date(2026, 3, 2), rate="0.0068", by=finance)
    row = ExchangeRate.objects.get()
    assert row.rate == Decimal("0.0068") and row.entered_by == finance
    assert [h.rate for h in row.history.order_by("history_id")] == [
        Decimal("0.0067"),
        Decimal("0.0068"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"currency": "EURO"}, "ISO 4217"),
        ({"currency": "USD"}, "two different currencies"),
        ({"rate": "0"}, "out of range"),
        ({"rate": "-1.2"}, "out of range"),
        ({"rate": "abc"}, "not a number"),
        ({"rate": "NaN"}, "not a number"),
        ({"rate": "1.00000000001"}, "decimal places"),
        ({"day": "2026-02-30"}, "not a date"),
    ],
)
def test_a_bad_rate_is_refused_with_what_is_wrong(values, problem):
    given = {"currency": "EUR", "base": "USD", "day": "2026-03-02", "rate": "1.08"} | values
    with pytest.raises(ValidationError, match=problem):
        exchange_rate_set(**given)
    assert not ExchangeRate.objects.exists()


@pytest.mark.django_db
def test_the_csv_import_takes_every_line_or_none():
    count = exchange_rates_import_csv(
        file=upload(
            "currency,base,day,rate,source\n"
            "eur,usd,2026-03-02,1.0812,ECB\n"
            "JPY,USD,2026-03-02,0.0067,\n"
            "\n"
            "GBP,USD,2026-03-02,1.27,ECB\n"
        )
    )
    assert count == 3
    assert ExchangeRate.objects.get(currency="EUR").source == "ECB"
    with pytest.raises(ValidationError) as refused:
        exchange_rates_import_csv(
            file=upload(
                "currency,base,day,rate\n"
                "CHF,USD,2026-03-02,1.13\n"
                "CHF,USD,2026-03-02,1.14\n"
                "XX,USD,2026-03-02,1\n"
                "SEK,USD,yesterday,0.09\n"
            )
        )
    assert refused.value.messages == [
        "Line 3: the same rate as line 2 (currency, base and day).",
        "Line 4: currency “XX” is not a three-letter ISO 4217 code.",
        "Line 5: day “yesterday” is not a date (YYYY-MM-DD).",
    ]
    assert not ExchangeRate.objects.filter(currency="CHF").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "empty"),
        ("currency,day,rate\nEUR,2026-03-02,1.1\n", "missing: base"),
        ("currency,base,day,rate\n", "no rates"),
    ],
)
def test_a_file_that_is_not_a_rate_table_is_refused(content, problem):
    with pytest.raises(ValidationError, match=problem):
        exchange_rates_import_csv(file=upload(content))


def test_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(ValidationError, match="UTF-8"):
        exchange_rates_import_csv(
            file=SimpleUploadedFile("r.csv", b"currency,base\n\xff\xfe", content_type="text/csv")
        )


@pytest.mark.django_db
def test_finance_imports_rates_in_the_admin(client, finance):
    client.force_login(finance)
    response = client.post(
        reverse("admin:partners_exchangerate_import"),
        {"file": upload("currency,base,day,rate\nEUR,USD,2026-03-02,1.08\n")},
    )
    assert response.status_code == 302
    assert ExchangeRate.objects.get().entered_by == finance
    bad = client.post(
        reverse("admin:partners_exchangerate_import"),
        {"file": upload("currency,base,day,rate\nEUR,USD,2026-03-02,many\n")},
    )
    assert bad.status_code == 400
    assert "Line 2: rate “many” is not a number." in bad.content.decode()
    assert ExchangeRate.objects.count() == 1


@pytest.mark.django_db
def test_finance_types_a_rate_through_the_service_and_corrects_it(client, finance):
    client.force_login(finance)
    url = reverse("admin:partners_exchangerate_add")
    form = {"currency": "EUR", "base": "USD", "day": "2026-03-02", "rate": "1.08", "source": ""}
    assert client.post(url, form).status_code == 302
    row = ExchangeRate.objects.get()
    assert row.entered_by == finance
    # A second rate for the same day is refused: the day's rate is corrected on its page.
    twice = client.post(url, form | {"rate": "1.09"})
    assert twice.status_code == 200 and "already exists" in twice.content.decode()
    change = reverse("admin:partners_exchangerate_change", args=[row.pk])
    assert client.post(change, form | {"rate": "1.09", "day": "2027-01-01"}).status_code == 302
    assert ExchangeRate.objects.get().rate == Decimal("1.09")
    assert ExchangeRate.objects.get().day == date(2026, 3, 2)  # the day stays the row's
    refused = client.post(url, form | {"day": "2026-03-03", "rate": "0"})
    assert refused.status_code == 200 and "out of range" in refused.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["manager", "chief", "executive"])
def test_other_staff_read_the_rates_but_do_not_change_them(client, who, request):
    row = exchange_rate_set(currency="EUR", base="USD", day=date(2026, 3, 2), rate="1.08")
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("admin:partners_exchangerate_changelist")).status_code == 200
    assert client.get(reverse("admin:partners_exchangerate_import")).status_code == 403
    client.post(
        reverse("admin:partners_exchangerate_change", args=[row.pk]),
        {"currency": "EUR", "base": "USD", "day": "2026-03-02", "rate": "2"},
    )
    assert ExchangeRate.objects.get().rate == Decimal("1.08")


@pytest.mark.django_db
def test_partners_cannot_open_the_rates(client, a_admin):
    client.force_login(a_admin)
    response = client.get(reverse("admin:partners_exchangerate_changelist"))
    assert response.status_code in (302, 403)


@pytest.mark.django_db
def test_the_rate_list_reads_a_bounded_number_of_rows(
    client, finance, django_assert_max_num_queries
):
    for day in range(1, 4):
        exchange_rate_set(currency="EUR", base="USD", day=date(2026, 3, day), rate="1.08")
    client.force_login(finance)
    with django_assert_max_num_queries(30) as few:
        client.get(reverse("admin:partners_exchangerate_changelist"))
    for day in range(4, 28):
        exchange_rate_set(currency="EUR", base="USD", day=date(2026, 3, day), rate="1.08")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("admin:partners_exchangerate_changelist")).status_code == 200


# ---------------------------------------------------------------- stored conversions (§12)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday: the registrations' day
CLOSE = date(2026, 3, 20)  # a Friday: the wins' day
Q1 = (date(2026, 1, 1), date(2026, 3, 31))
FOREIGN = ["EUR", "GBP", "JPY"]
names = itertools.count()

deal_amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000000"), places=2)
demo_rates = st.decimals(min_value=Decimal("0.005"), max_value=Decimal("2"), places=6)
wins = st.lists(
    st.tuples(
        st.sampled_from(["USD", *FOREIGN]),
        deal_amounts,
        st.decimals(min_value=Decimal("0.5"), max_value=Decimal("1"), places=2),
    ),
    min_size=1,
    max_size=4,
)


def _set_rates(values: dict) -> None:
    for (currency, day), rate in values.items():
        exchange_rate_set(currency=currency, base="USD", day=day, rate=rate)


def _snapshot(partner) -> dict:
    """Everything the deals and the ledger of ``partner`` store or sum, as read now."""
    deals = Deal.objects.filter(partner=partner).order_by("pk")
    return {
        "deals": list(
            deals.values_list(
                "amount_reporting",
                "amount_rate",
                "closed_amount_reporting",
                "closed_rate",
                "partner_credit",
            )
        ),
        "figures": closed_in(*Q1).filter(partner=partner).aggregate(**outcome_figures()),
        "revenue": revenue_by_partner([partner.pk], *Q1),
        "ledger": list(
            LedgerEntry.objects.filter(partner=partner)
            .order_by("pk")
            .values_list("amount", "partner_amount", "partner_rate")
        ),
    }


@pytest.mark.django_db
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(deals=wins, before=st.lists(demo_rates, min_size=6, max_size=6), after=demo_rates)
def test_a_stored_conversion_never_moves_and_sums_never_mix_currencies(
    program_data, manager, deals, before, after
):
    days = [T0.date(), CLOSE]
    rates = dict(zip([(c, d) for c in FOREIGN for d in days], before, strict=True))
    with time_machine.travel(T0, tick=False) as clock:
        _set_rates(rates)
        partner = PartnerFactory(currency="EUR")
        registered = []
        for currency, amount, share in deals:
            n = next(names)
            deal = deal_register(
                partner=partner,
                submitted_by=None,
                customer_name=f"Currency customer {n}",
                customer_domain=f"currency{n}.example",
                amount=amount,
                currency=currency,
                expected_close=date(2026, 6, 30),
                deal_type="new_logo",
                compensation_model="reseller",
            )
            deal_approve(deal=deal, by=manager)
            registered.append((deal, round_money(amount * share)))
        clock.move_to(datetime(2026, 3, 23, 9, tzinfo=UTC))
        for deal, closed in registered:
            deal_win(deal=deal, by=manager, amount=closed, closed_on=CLOSE)
        stored = _snapshot(partner)
        # Finance corrects every rate afterwards: nothing stored or summed moves.
        _set_rates(dict.fromkeys(rates, after))
        assert _snapshot(partner) == stored
    won = Deal.objects.filter(partner=partner)
    # Each stored amount is its exact conversion, to within half a cent.
    for deal in won:
        rate = rates.get((deal.currency, CLOSE), Decimal(1))
        assert abs(deal.closed_amount_reporting - deal.closed_amount * rate) <= Decimal("0.005")
        rate = rates.get((deal.currency, T0.date()), Decimal(1))
        assert abs(deal.amount_reporting - deal.amount * rate) <= Decimal("0.005")
    for entry in LedgerEntry.objects.filter(partner=partner):
        exact = entry.amount / rates[("EUR", CLOSE)]
        assert abs(entry.partner_amount - exact) <= Decimal("0.005")
    # The quarter's sums are the sums of the reporting amounts, whatever the currencies,
    # and differ from the exact sum by at most half a cent an entry.
    figures = stored["figures"]
    assert figures["won_amount"] == sum(d.closed_amount_reporting for d in won)
    exact = sum(d.closed_amount * rates.get((d.currency, CLOSE), Decimal(1)) for d in won)
    assert abs(figures["won_amount"] - exact) <= Decimal("0.005") * len(won)
    assert stored["revenue"][partner.pk] == sum(d.partner_credit for d in won)


@given(amount=amounts, rate=rates)
def test_an_amount_in_the_partners_currency_is_within_half_a_cent(amount, rate):
    paid = round_money(amount / rate)
    assert paid == paid.quantize(CENT)
    assert abs(paid - amount / rate) <= Decimal("0.005")

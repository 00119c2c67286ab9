"""Money events in many currencies (RULEBOOK §12): a deal registered and won in its own
currency stores its reporting amounts with the rate and the rate's day; a ledger entry
stores the partner's currency beside the reporting amount; a payment stores what was paid
in the partner's currency; a missing rate refuses the event and writes nothing."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from deals import services
from deals.models import Deal, DealStatus
from incentives.models import EntryStatus, LedgerEntry
from incentives.services.ledger import ledger_mark_paid
from partners.services.currencies import exchange_rate_set
from tests.factories import PartnerUserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
CLOSE = date(2026, 3, 20)  # a Friday


@pytest.fixture
def now():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def rates(db):
    """Euro and pound rates on the registration's Monday and on the close's Friday."""
    for currency, day, rate in [
        ("EUR", date(2026, 3, 2), "1.1"),
        ("EUR", CLOSE, "1.2"),
        ("GBP", date(2026, 3, 2), "1.25"),
        ("GBP", CLOSE, "1.3"),
    ]:
        exchange_rate_set(currency=currency, base="USD", day=day, rate=rate)


def register(partner, user=None, **overrides):
    fields = {
        "customer_name": "Globex Corporation",
        "customer_domain": "globex.example",
        "amount": "1000.00",
        "expected_close": date(2026, 6, 30),
        "deal_type": "new_logo",
        "compensation_model": "reseller",
    }
    fields.update(overrides)
    return services.deal_register(partner=partner, submitted_by=user, **fields)


def test_a_deal_in_euros_stores_its_reporting_amount_and_rate(partner_a, now, rates):
    deal = register(partner_a, currency="eur", amount="1000.01")
    deal.refresh_from_db()
    assert (deal.amount, deal.currency) == (Decimal("1000.01"), "EUR")
    assert deal.amount_reporting == Decimal("1100.01")  # 1100.011, half-up to the cent
    assert (deal.amount_rate, deal.amount_rate_day) == (Decimal("1.1"), date(2026, 3, 2))


def test_a_deal_without_a_currency_is_in_the_programs_at_rate_one(partner_a, now):
    deal = register(partner_a)
    assert (deal.currency, deal.amount_reporting) == ("USD", Decimal("1000.00"))
    assert (deal.amount_rate, deal.amount_rate_day) == (1, None)


def test_the_win_converts_at_the_close_dates_rate_and_earns_on_the_reporting_amount(
    partner_a, manager, now, rates
):
    deal = register(partner_a, currency="GBP", amount="50000.00")
    services.deal_approve(deal=deal, by=manager)
    now.move_to(datetime(2026, 3, 23, 9, tzinfo=UTC))
    deal = services.deal_win(deal=deal, by=manager, amount="40000.00", closed_on=CLOSE)
    deal.refresh_from_db()
    assert (deal.closed_amount, deal.closed_amount_reporting) == (
        Decimal("40000.00"),
        Decimal("52000.00"),
    )
    assert (deal.closed_rate, deal.closed_rate_day) == (Decimal("1.3"), CLOSE)
    expected = services.deal_compensation(
        deal=deal, amount=Decimal("52000.00"), protected=deal.protected_when_won
    )
    assert deal.partner_credit == expected.partner_credit
    assert deal.partner_price == expected.partner_price
    # What the win accrued is in the reporting currency.
    assert set(LedgerEntry.objects.values_list("currency", flat=True)) == {"USD"}


def test_a_missing_rate_refuses_the_registration_and_stores_nothing(partner_a, now):
    with pytest.raises(ValidationError) as refused:
        register(partner_a, currency="CHF")
    message = refused.value.message_dict["currency"][0]
    assert "CHF" in message and "2026-03-02" in message
    assert not Deal.objects.exists()


def test_a_missing_rate_on_the_close_date_refuses_the_win(partner_a, manager, now, rates):
    deal = register(partner_a, currency="EUR")
    services.deal_approve(deal=deal, by=manager)
    now.move_to(datetime(2026, 4, 20, 9, tzinfo=UTC))
    with pytest.raises(ValidationError, match="2026-04-17"):
        services.deal_win(deal=deal, by=manager, amount="900", closed_on=date(2026, 4, 17))
    deal.refresh_from_db()
    assert deal.status == DealStatus.APPROVED and deal.closed_amount_reporting is None
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize("code", ["EURO", "XXX", "12", "€"])
def test_a_code_that_is_not_iso_4217_is_refused(partner_a, now, code):
    with pytest.raises(ValidationError, match="ISO 4217"):
        register(partner_a, currency=code)
    assert not Deal.objects.exists()


def test_the_maximum_deal_amount_is_held_in_the_reporting_currency(partner_a, now, rates):
    program = partner_a.program
    program.max_deal_amount = Decimal("100000")
    program.save()
    # 95,000 pounds are 118,750 dollars: over the program's maximum.
    with pytest.raises(ValidationError, match="at most"):
        register(partner_a, currency="GBP", amount="95000.00")
    assert register(partner_a, currency="GBP", amount="80000.00").amount_reporting == Decimal(
        "100000.00"
    )


# ---------------------------------------------------------------- the ledger


def test_a_partner_paid_in_euros_sees_each_accrual_and_payment_in_euros(
    partner_a, manager, finance, now, rates
):
    partner_a.currency = "EUR"
    partner_a.save()
    deal = register(partner_a)  # in dollars
    services.deal_approve(deal=deal, by=manager)
    now.move_to(datetime(2026, 3, 23, 9, tzinfo=UTC))
    services.deal_win(deal=deal, by=manager, amount="1000.00", closed_on=CLOSE)
    entries = list(LedgerEntry.objects.filter(partner=partner_a))
    assert entries
    for entry in entries:
        assert (entry.currency, entry.partner_currency) == ("USD", "EUR")
        assert (entry.partner_rate, entry.partner_rate_day) == (Decimal("1.2"), CLOSE)
        assert entry.partner_amount == (entry.amount / Decimal("1.2")).quantize(Decimal("0.01"))
    owed = [e for e in entries if e.status == EntryStatus.APPROVED] or entries
    LedgerEntry.objects.filter(pk__in=[e.pk for e in owed]).update(status=EntryStatus.APPROVED)
    # The payment run converts at the payment date's rate: none yet for April 20th.
    now.move_to(datetime(2026, 4, 20, 9, tzinfo=UTC))
    with pytest.raises(ValidationError, match="EUR"):
        ledger_mark_paid(entry_ids=[e.pk for e in owed], by=finance, reference="RUN-1")
    assert not LedgerEntry.objects.filter(status=EntryStatus.PAID).exists()
    exchange_rate_set(currency="EUR", base="USD", day=date(2026, 4, 20), rate="1.25")
    assert ledger_mark_paid(entry_ids=[e.pk for e in owed], by=finance, reference="RUN-1")
    for entry in LedgerEntry.objects.filter(pk__in=[e.pk for e in owed]):
        assert entry.status == EntryStatus.PAID
        assert entry.paid_amount == (entry.amount / Decimal("1.25")).quantize(Decimal("0.01"))
        assert (entry.paid_rate, entry.paid_rate_day) == (Decimal("1.25"), date(2026, 4, 20))


def test_a_missing_rate_for_the_partners_currency_refuses_the_win(partner_a, manager, now, rates):
    partner_a.currency = "JPY"
    partner_a.save()
    deal = register(partner_a)
    services.deal_approve(deal=deal, by=manager)
    now.move_to(datetime(2026, 3, 23, 9, tzinfo=UTC))
    with pytest.raises(ValidationError, match="JPY"):
        services.deal_win(deal=deal, by=manager, amount="1000.00", closed_on=CLOSE)
    deal.refresh_from_db()
    assert deal.status == DealStatus.APPROVED
    assert not LedgerEntry.objects.exists()


# ---------------------------------------------------------------- the API and the portal


def test_the_api_takes_a_currency_and_answers_the_reporting_amount(api, partner_a, now, rates):
    user = PartnerUserFactory(partner=partner_a).user
    body = {
        "customer_name": "Initech",
        "customer_domain": "initech.example",
        "amount": "2000.00",
        "currency": "EUR",
        "expected_close": "2026-06-30",
        "deal_type": "new_logo",
        "compensation_model": "reseller",
    }
    created = api(user).post("/api/v1/deals/", body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["amount"], data["currency"]) == ("2000.00", "EUR")
    assert (data["amount_reporting"], data["amount_rate_day"]) == ("2200.00", "2026-03-02")
    bad = api(user).post(
        "/api/v1/deals/", body | {"customer_domain": "x.example", "currency": "EURO"}, format="json"
    )
    assert bad.status_code == 400 and "ISO 4217" in bad.content.decode()
    missing = api(user).post(
        "/api/v1/deals/", body | {"customer_domain": "y.example", "currency": "SEK"}, format="json"
    )
    assert missing.status_code == 400
    assert "SEK" in missing.content.decode() and "2026-03-02" in missing.content.decode()
    assert Deal.objects.count() == 1


def test_the_portal_registers_in_euros_and_lists_both_amounts(
    client, partner_a, now, rates, django_assert_max_num_queries
):
    user = PartnerUserFactory(partner=partner_a).user
    client.force_login(user)
    form = {
        "customer_name": "Umbrella",
        "customer_domain": "umbrella.example",
        "amount": "3000.00",
        "currency": "EUR",
        "expected_close": "2026-06-30",
        "deal_type": "new_logo",
        "compensation_model": "reseller",
        "contract_years": "1",
    }
    response = client.post(reverse("portal-deal-new"), form)
    assert response.status_code == 302
    deal = Deal.objects.get()
    assert (deal.currency, deal.amount_reporting) == ("EUR", Decimal("3300.00"))
    refused = client.post(
        reverse("portal-deal-new"), form | {"customer_domain": "o.example", "currency": "NOK"}
    )
    assert refused.status_code == 400
    assert "No exchange rate from NOK to USD for 2026-03-02" in refused.content.decode()
    with django_assert_max_num_queries(30) as few:
        page = client.get(reverse("portal-deals")).content.decode()
    assert "€3,000.00" in page and "$3,300.00" in page
    for n in range(5):
        register(partner_a, user, customer_domain=f"more{n}.example", currency="GBP")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("portal-deals")).status_code == 200
    detail = client.get(reverse("portal-deal", args=[deal.pk])).content.decode()
    assert "€3,000.00" in detail and "$3,300.00" in detail


def test_a_partners_payment_currency_is_an_iso_code_or_empty(partner_a, manager):
    from partners.services import partner_update

    assert partner_a.payment_currency == "USD"  # empty: the program's
    updated = partner_update(partner=partner_a, changed_by=manager, currency=" eur ")
    assert (updated.currency, updated.payment_currency) == ("EUR", "EUR")
    with pytest.raises(ValidationError, match="ISO 4217"):
        partner_update(partner=partner_a, changed_by=manager, currency="EURO")
    assert partner_update(partner=partner_a, changed_by=manager, currency="").currency == ""


def test_the_admin_writes_each_amount_in_its_own_currency(client, partner_a, manager, now, rates):
    deal = register(partner_a, currency="EUR")
    client.force_login(manager)
    page = client.get(reverse("admin:deals_deal_change", args=[deal.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "€1,000.00" in text and "$1,100.00" in text

"""Amounts are written in the currency they are in: a program reporting in euros shows
euros on every page, and the dashboard never adds up two currencies (RULEBOOK §12)."""

import csv
import io
import re
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from partners.models import Partner, Program
from partners.services import program_install
from prm.templatetags.prm_format import money, money_short
from scoring.dashboard import Filters, dashboard_scope

from .factories import PartnerFactory, PartnerUserFactory, WonDealFactory


@pytest.mark.parametrize(
    ("value", "currency", "written"),
    [
        (D("1234567.8"), "USD", "$1,234,568"),
        (D("1234567.8"), "EUR", "€1,234,568"),
        (D("-5.5"), "GBP", "-£6"),
        (D("1000"), "CHF", "CHF 1,000"),
        (None, "EUR", "—"),
    ],
)
def test_money_writes_the_currency_it_is_given(value, currency, written):
    assert money(value, currency) == written


@pytest.mark.parametrize(
    ("value", "currency", "written"),
    [
        (D("9430183.71"), "EUR", "€9.43M"),
        (D("943000"), "JPY", "¥943K"),
        (D("2500.4"), "CHF", "CHF 2,500"),
    ],
)
def test_money_short_writes_the_currency_it_is_given(value, currency, written):
    assert money_short(value, currency) == written


def test_every_template_names_the_currency_of_its_amounts():
    """``|money`` and ``|money_short`` default to dollars; a template that leaves the
    currency out would write a euro program's amounts in dollars."""
    bare = re.compile(r"\|money(_short)?(?![_:a-z])")
    found = [
        f"{path.relative_to(settings.BASE_DIR)}:{number}"
        for path in Path(settings.BASE_DIR, "templates").rglob("*.html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if bare.search(line)
    ]
    assert found == []


@pytest.fixture
def euro_program(db):
    program = program_install(preset="seed002")
    program.currency = "EUR"
    program.save(update_fields=["currency"])
    return program


def euro_partner(program, **kwargs):
    return PartnerFactory(program=program, tier=program.tiers.get(slug="gold"), **kwargs)


def test_a_euro_programs_partner_reads_euros_in_the_portal(client, euro_program):
    partner = euro_partner(euro_program, annual_quota=D("250000"))
    person = PartnerUserFactory(partner=partner, role="admin").user
    client.force_login(person)
    page = client.get(reverse("portal-home")).content.decode()
    assert "€250,000" in page
    assert "$250,000" not in page


def test_the_dashboard_keeps_to_one_currency(api, executive, partner_a, euro_program):
    won_deal(partner_a, D("40000"))
    euro = euro_partner(euro_program)
    won_deal(euro, D("70000"))
    default = Program.objects.get(is_default=True)
    # Dollars and euros are never added up: the default program's partners alone.
    partners, filters, currency = dashboard_scope(Partner.objects.all(), Filters())
    assert (currency, filters.program) == (default.currency, default.pk)
    assert set(partners.values_list("pk", flat=True)) == {partner_a.pk}
    body = api(executive).get(reverse("api-dashboard")).json()
    assert body["currency"] == "USD"
    chosen = api(executive).get(reverse("api-dashboard"), {"program": euro_program.pk}).json()
    assert chosen["currency"] == "EUR"
    assert chosen["ecosystem"]["active_partners"] == 1
    assert D(chosen["revenue"]["partner_credit"]) != D(body["revenue"]["partner_credit"])
    refused = api(executive).get(reverse("api-dashboard"), {"program": "euros"})
    assert refused.status_code == 400 and "program" in refused.json()["detail"]


def test_the_dashboard_page_offers_the_programs_and_writes_their_currency(
    client, executive, partner_a, euro_program
):
    euro = euro_partner(euro_program)
    won_deal(euro, D("70000"))
    client.force_login(executive)
    page = client.get(reverse("executive-home")).content.decode()
    assert 'id="f-program"' in page and 'data-testid="one-currency"' in page
    chosen = client.get(reverse("executive-home"), {"program": euro_program.pk}).content.decode()
    assert "€" in chosen
    # The exports name the currency of their amounts on every row; a table without
    # amounts has no such column.
    for table, program, currency in (
        ("top-partners", euro_program.pk, "EUR"),
        ("tiers", euro_program.pk, "EUR"),
        ("revenue", "", "USD"),
    ):
        url = reverse("executive-export", args=[table])
        rows = list(csv.DictReader(io.StringIO(client.get(url, {"program": program}).text)))
        assert rows and {row["currency"] for row in rows} == {currency}
    managers = client.get(reverse("executive-export", args=["managers"])).text
    assert "currency" not in managers.splitlines()[0]


def test_one_currency_needs_no_program_filter(client, executive, partner_a, partner_b):
    client.force_login(executive)
    page = client.get(reverse("executive-home")).content.decode()
    assert 'id="f-program"' not in page


def won_deal(partner, amount):
    return WonDealFactory(partner=partner, amount=amount, closed_on=timezone.localdate())

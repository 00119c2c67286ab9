"""Facts are judged as of when they happened (RULEBOOK §4), and the guard rails hold:
a win recorded after the fact keeps the protection it had on its close date, a CSAT
counts on its survey date, an expected close may not be in the past, amounts are bounded
by the program and every sum fits its column, and a deal's MDF source is the partner's
own."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from deals import services
from deals.models import Deal, DealQuarter
from incentives.models import LedgerEntry
from partners.models import RedFlag, RedFlagKind
from prm.money import MAX_DEAL_AMOUNT
from scoring.models import Scorecard
from scoring.services.close import quarter_close
from tests.factories import MdfRequestFactory, PartnerUserFactory, WonDealFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def rep_a(partner_a):
    return PartnerUserFactory(partner=partner_a).user


def register(partner, user=None, **overrides):
    fields = {
        "customer_name": "Globex Corporation",
        "customer_domain": "globex.example",
        "amount": "100000.00",
        "expected_close": date(2026, 6, 30),
        "deal_type": "new_logo",
        "compensation_model": "reseller",
    }
    fields.update(overrides)
    return services.deal_register(partner=partner, submitted_by=user, **fields)


# ---------------------------------------------------------------- wins as of their close date


def test_a_win_recorded_after_its_protection_lapsed_keeps_the_tier_margin(
    partner_a, rep_a, manager
):
    with time_machine.travel(T0, tick=False) as clock:
        deal = register(partner_a, rep_a)
        services.deal_approve(deal=deal, by=manager)
        clock.move_to(T0 + timedelta(days=120))  # protection ended on day 90
        services.deals_expire_lapsed()
        deal.refresh_from_db()
        assert deal.status == "expired"
        won = services.deal_win(deal=deal, by=manager, amount="90000", closed_on=date(2026, 4, 15))
    assert won.protected_when_won is True
    assert won.margin_rate == partner_a.tier.margin


@pytest.mark.parametrize(
    ("approve_after_days", "closed_on", "protected"),
    [
        (1, date(2026, 3, 20), True),  # approved, then won while protected
        (10, date(2026, 3, 5), False),  # won before it was approved
        (1, date(2026, 6, 10), False),  # won after the protection had ended
    ],
)
def test_protection_is_judged_on_the_close_date(
    partner_a, rep_a, manager, approve_after_days, closed_on, protected
):
    with time_machine.travel(T0, tick=False) as clock:
        deal = register(partner_a, rep_a)
        clock.move_to(T0 + timedelta(days=approve_after_days))
        services.deal_approve(deal=deal, by=manager)
        clock.move_to(T0 + timedelta(days=130))
        won = services.deal_win(deal=deal, by=manager, amount="90000", closed_on=closed_on)
    assert won.protected_when_won is protected
    expected = partner_a.tier.margin if protected else partner_a.program.unprotected_margin
    assert won.margin_rate == expected


def test_a_win_that_closed_before_it_was_registered_was_never_protected(partner_a, rep_a, manager):
    """A registration entered after the fact (the contract lets a win name any past day)
    earns the unprotected margin: it protected nothing on that day."""
    with time_machine.travel(T0, tick=False):
        deal = register(partner_a, rep_a)
        services.deal_approve(deal=deal, by=manager)
        won = services.deal_win(deal=deal, by=manager, amount="1", closed_on=date(2026, 2, 1))
    assert won.protected_when_won is False
    assert won.margin_rate == partner_a.program.unprotected_margin


# ---------------------------------------------------------------- CSAT on its survey date


def test_a_csat_defaults_to_the_close_date_and_may_name_its_survey_date(partner_a, rep_a, manager):
    with time_machine.travel(T0, tick=False) as clock:
        first, second = (
            register(partner_a, rep_a),
            register(partner_a, rep_a, customer_domain="initech.example", customer_name="Initech"),
        )
        clock.move_to(datetime(2026, 7, 20, tzinfo=UTC))
        one = services.deal_win(
            deal=first, by=manager, amount="10", closed_on=date(2026, 6, 20), csat=2
        )
        two = services.deal_win(
            deal=second,
            by=manager,
            amount="10",
            closed_on=date(2026, 6, 20),
            csat=5,
            surveyed_on=date(2026, 7, 2),
        )
    assert one.csat_surveyed_on == date(2026, 6, 20)
    assert two.csat_surveyed_on == date(2026, 7, 2)


@pytest.mark.parametrize(
    ("surveyed_on", "csat"),
    [(date(2026, 6, 1), 4), (date(2026, 8, 1), 4), (date(2026, 7, 1), None)],
)
def test_a_survey_date_outside_close_to_today_or_without_an_answer_is_refused(
    partner_a, rep_a, manager, surveyed_on, csat
):
    with time_machine.travel(T0, tick=False) as clock:
        deal = register(partner_a, rep_a)
        clock.move_to(datetime(2026, 7, 20, tzinfo=UTC))
        with pytest.raises(ValidationError) as refused:
            services.deal_win(
                deal=deal,
                by=manager,
                amount="10",
                closed_on=date(2026, 6, 20),
                csat=csat,
                surveyed_on=surveyed_on,
            )
    assert "surveyed_on" in refused.value.message_dict


def test_a_csat_typed_in_later_counts_in_the_quarter_it_was_given(partner_a):
    """Answers given in Q2 but typed in during Q3 are Q2's: the scorecard and low_csat."""
    with time_machine.travel(datetime(2026, 8, 20, tzinfo=UTC), tick=False):
        for answer in (1, 2, 2):
            WonDealFactory(
                partner=partner_a,
                closed_on=date(2026, 6, 10),
                csat=answer,
                csat_recorded_at=datetime(2026, 8, 1, tzinfo=UTC),
                csat_surveyed_on=date(2026, 6, 12),
            )
    with time_machine.travel(datetime(2026, 10, 5, tzinfo=UTC), tick=False):
        quarter_close(quarter="2026Q2")
        quarter_close(quarter="2026Q3")
    q2 = Scorecard.objects.get(partner=partner_a, quarter="2026Q2")
    q3 = Scorecard.objects.get(partner=partner_a, quarter="2026Q3")
    assert q2.inputs["csat_responses"] == 3
    assert q3.inputs["csat_responses"] == 0
    assert RedFlag.objects.filter(partner=partner_a, kind=RedFlagKind.LOW_CSAT).exists()


def test_api_win_takes_a_survey_date_and_shows_it(api, partner_a, rep_a, manager):
    with time_machine.travel(T0, tick=False) as clock:
        deal = register(partner_a, rep_a)
        clock.move_to(datetime(2026, 7, 20, tzinfo=UTC))
        answer = api(manager).post(
            f"/api/v1/deals/{deal.pk}/win/",
            {"amount": "10.00", "closed_on": "2026-06-20", "csat": 4, "surveyed_on": "2026-07-01"},
            format="json",
        )
    assert answer.status_code == 200, answer.content
    assert answer.json()["csat_surveyed_on"] == "2026-07-01"


def test_admin_win_takes_a_survey_date_and_the_portal_shows_it(
    client, partner_a, rep_a, manager, a_admin
):
    with time_machine.travel(T0, tick=False) as clock:
        deal = register(partner_a, rep_a)
        clock.move_to(datetime(2026, 7, 20, tzinfo=UTC))
        client.force_login(manager)
        answer = client.post(
            reverse("admin:deals_deal_decide", args=[deal.pk, "win"]),
            {
                "amount": "10.00",
                "closed_on": "2026-06-20",
                "csat": "3",
                "surveyed_on": "2026-07-03",
            },
        )
        assert answer.status_code == 302
        client.force_login(a_admin)
        page = client.get(reverse("portal-deal", args=[deal.pk])).content.decode()
    deal.refresh_from_db()
    assert (deal.csat, deal.csat_surveyed_on) == (3, date(2026, 7, 3))
    assert 'data-testid="csat"' in page and "3 Jul 2026" in page


# ---------------------------------------------------------------- guard rails


def test_an_expected_close_in_the_past_is_refused_but_an_import_may_have_one(
    partner_a, rep_a, manager
):
    with time_machine.travel(T0, tick=False):
        with pytest.raises(ValidationError) as refused:
            register(partner_a, rep_a, expected_close=date(2026, 3, 1))
        assert "expected_close" in refused.value.message_dict
        imported = register(
            partner_a,
            manager,
            expected_close=date(2026, 2, 1),
            submitted_at=datetime(2026, 1, 15, tzinfo=UTC),
        )
    assert imported.imported and imported.expected_close == date(2026, 2, 1)


def test_the_portal_form_refuses_a_past_expected_close_with_400(client, partner_a, a_admin):
    with time_machine.travel(T0, tick=False):
        client.force_login(a_admin)
        answer = client.post(
            reverse("portal-deal-new"),
            {
                "customer_name": "Globex",
                "customer_domain": "globex.example",
                "amount": "1000",
                "expected_close": "2026-02-01",
                "deal_type": "new_logo",
                "compensation_model": "reseller",
                "contract_years": "1",
            },
        )
    assert answer.status_code == 400
    assert "cannot be in the past" in answer.content.decode()
    assert not Deal.objects.exists()


@pytest.mark.parametrize("amount", ["100000000.01", "5e11", "999999999999.99"])
def test_an_amount_over_the_programs_maximum_is_refused(api, partner_a, a_admin, amount):
    with time_machine.travel(T0, tick=False):
        answer = api(a_admin).post(
            "/api/v1/deals/",
            {
                "customer_name": "Globex",
                "customer_domain": "globex.example",
                "amount": amount,
                "expected_close": "2026-06-30",
                "deal_type": "new_logo",
                "compensation_model": "reseller",
            },
            format="json",
        )
    assert answer.status_code == 400
    assert not Deal.objects.exists()


def test_the_programs_maximum_is_its_own_and_bounded(partner_a, rep_a):
    program = partner_a.program
    program.max_deal_amount = Decimal("5000")
    program.save()
    with time_machine.travel(T0, tick=False):
        with pytest.raises(ValidationError) as refused:
            register(partner_a, rep_a, amount="5000.01")
        assert "5,000.00" in refused.value.message_dict["amount"][0]
        assert register(partner_a, rep_a, amount="5000").amount == Decimal("5000")
    program.max_deal_amount = MAX_DEAL_AMOUNT + 1
    with pytest.raises(ValidationError):
        program.full_clean()


def test_sums_of_the_largest_deals_fit_their_columns(api, partner_a, chief):
    """A program at the highest maximum, a partner with many wins at it: the quarter's
    sums, its close (with the rebate on them) and the dashboard hold every figure."""
    program = partner_a.program
    program.max_deal_amount = MAX_DEAL_AMOUNT
    program.save()
    wins = 250  # 2.5 × 10^12: more than a 14-digit column holds
    Deal.objects.bulk_create(
        WonDealFactory.build(
            partner=partner_a,
            amount=MAX_DEAL_AMOUNT,
            closed_amount=MAX_DEAL_AMOUNT,
            partner_credit=MAX_DEAL_AMOUNT,
            closed_on=date(2026, 5, 1),
            submitted_at=datetime(2026, 4, 1, tzinfo=UTC),
        )
        for _ in range(wins)
    )
    with time_machine.travel(datetime(2026, 7, 10, tzinfo=UTC), tick=False):
        services.deal_quarter_summarize(quarter="2026Q2")
        quarter_close(quarter="2026Q2")
        dashboard = api(chief).get("/api/v1/dashboard/?quarter=2026Q2")
    total = MAX_DEAL_AMOUNT * wins
    assert DealQuarter.objects.get(partner=partner_a, quarter="2026Q2").won_credit == total
    rebate = LedgerEntry.objects.get(partner=partner_a, kind="rebate")
    assert rebate.amount == total * Decimal("0.08")
    assert dashboard.status_code == 200


# ---------------------------------------------------------------- a deal's MDF source


def test_the_service_refuses_another_partners_mdf_activity(partner_a, partner_b, rep_a):
    theirs = MdfRequestFactory(fund__partner=partner_b, status="approved")
    with time_machine.travel(T0, tick=False), pytest.raises(ValidationError) as refused:
        register(partner_a, rep_a, mdf_request=theirs)
    assert "mdf_request" in refused.value.message_dict
    assert not Deal.objects.exists()


def test_the_service_refuses_an_mdf_activity_not_approved(partner_a, rep_a):
    draft = MdfRequestFactory(fund__partner=partner_a, status="submitted")
    with time_machine.travel(T0, tick=False), pytest.raises(ValidationError):
        register(partner_a, rep_a, mdf_request=draft)


def test_the_api_takes_only_the_partners_own_approved_mdf_activity(
    api, partner_a, partner_b, a_admin, manager
):
    mine = MdfRequestFactory(fund__partner=partner_a, status="approved")
    theirs = MdfRequestFactory(fund__partner=partner_b, status="approved")
    body = {
        "customer_name": "Globex",
        "customer_domain": "globex.example",
        "amount": "1000",
        "expected_close": "2026-06-30",
        "deal_type": "new_logo",
        "compensation_model": "reseller",
    }
    with time_machine.travel(T0, tick=False):
        refused = api(a_admin).post(
            "/api/v1/deals/", {**body, "mdf_request": theirs.pk}, format="json"
        )
        # A manager importing for partner A cannot credit partner B's activity either.
        imported = api(manager).post(
            "/api/v1/deals/",
            {
                **body,
                "partner": partner_a.pk,
                "mdf_request": theirs.pk,
                "submitted_at": "2026-02-01T09:00:00Z",
            },
            format="json",
        )
        accepted = api(a_admin).post(
            "/api/v1/deals/", {**body, "mdf_request": mine.pk}, format="json"
        )
    assert refused.status_code == 400 and "mdf_request" in refused.json()
    assert str(theirs.pk) in str(refused.json()["mdf_request"])  # "does not exist"
    assert imported.status_code == 400 and "mdf_request" in imported.json()
    assert accepted.status_code == 201
    assert Deal.objects.get().mdf_request == mine

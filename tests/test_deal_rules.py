"""Deal registration and compensation (RULEBOOK §4, §5, §9), as specs of deals.rules.

Registration runs the §4 checks in order and the first that applies decides: partner not
active or agreement unsigned (403), lapsed certification (403), existing lead (rejected),
held by another partner (rejected), duplicate (400), else pending (201). Approved
registrations are protected for 90 days from submission, may be extended once by 30 days
while still protected, and a pending one is auto-approved after the 48 h SLA.

Compensation (§5): protected margin = tier margin if approved and unexpired when won, else
10% flat; a reseller buys at list × (1 − margin); referral commission is the tier's rate
on first-year revenue, or 5% of a renewal amount; co-sell splits 70/30 by default; OEM
discount is 40–60%; under a direct conflict the partner is credited 40%. Money is rounded
half-up to cents. Pure functions on plain values: no database.
"""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deals.rules import (
    MESSAGES,
    SLA_HOURS,
    Compensation,
    CompensationInputs,
    Decision,
    Outcome,
    Reason,
    RegistrationFacts,
    Scenario,
    approval_due_at,
    auto_approval_cutoff,
    can_extend,
    compensation,
    decide_registration,
    is_protected,
    next_escalation_step,
    protection_expires_on,
)

PROPERTY = settings(max_examples=200, database=None, deadline=None)

# ---------------------------------------------------------------- registration (§4)

CLEAR = {
    "partner_active": True,
    "agreement_signed": True,
    "cert_lapsed": False,
    "lead_existed_before": False,
    "held_by_another_partner": False,
    "held_by_this_partner": False,
}

# Each §4 check as (the fact that triggers it, outcome, reason, HTTP status), in order.
CHECKS = [
    (("partner_active", False), Outcome.REFUSED, Reason.PARTNER_INACTIVE, 403),
    (("agreement_signed", False), Outcome.REFUSED, Reason.AGREEMENT_UNSIGNED, 403),
    (("cert_lapsed", True), Outcome.REFUSED, Reason.CERT_LAPSED, 403),
    (("lead_existed_before", True), Outcome.REJECTED, Reason.EXISTING_LEAD, 201),
    (
        ("held_by_another_partner", True),
        Outcome.REJECTED,
        Reason.REGISTERED_BY_ANOTHER_PARTNER,
        201,
    ),
    (("held_by_this_partner", True), Outcome.REFUSED, Reason.DUPLICATE, 400),
]


def facts(**changes) -> RegistrationFacts:
    return RegistrationFacts(**{**CLEAR, **changes})


def test_a_clean_registration_is_pending_with_201():
    decision = decide_registration(facts())
    assert decision == Decision(Outcome.PENDING)
    assert decision.reason == ""
    assert decision.http_status == 201
    assert decision.message == ""


@pytest.mark.parametrize(
    ("trigger", "outcome", "reason", "status"),
    CHECKS,
    ids=[check[2] for check in CHECKS],
)
def test_each_check_alone_decides(trigger, outcome, reason, status):
    name, value = trigger
    decision = decide_registration(facts(**{name: value}))
    assert decision.outcome == outcome
    assert decision.reason == reason
    assert decision.http_status == status
    assert decision.message == MESSAGES[reason]


@pytest.mark.parametrize(
    ("changes", "reason", "outcome"),
    [
        (
            {"partner_active": False, "lead_existed_before": True},
            Reason.PARTNER_INACTIVE,
            Outcome.REFUSED,
        ),
        (
            {"partner_active": False, "agreement_signed": False, "cert_lapsed": True},
            Reason.PARTNER_INACTIVE,
            Outcome.REFUSED,
        ),
        (
            {"agreement_signed": False, "cert_lapsed": True, "held_by_this_partner": True},
            Reason.AGREEMENT_UNSIGNED,
            Outcome.REFUSED,
        ),
        (
            {"cert_lapsed": True, "lead_existed_before": True},
            Reason.CERT_LAPSED,
            Outcome.REFUSED,
        ),
        (
            {"lead_existed_before": True, "held_by_another_partner": True},
            Reason.EXISTING_LEAD,
            Outcome.REJECTED,
        ),
        (
            {"held_by_another_partner": True, "held_by_this_partner": True},
            Reason.REGISTERED_BY_ANOTHER_PARTNER,
            Outcome.REJECTED,
        ),
        (
            {"lead_existed_before": True, "held_by_this_partner": True},
            Reason.EXISTING_LEAD,
            Outcome.REJECTED,
        ),
    ],
    ids=[
        "inactive-beats-existing-lead",
        "inactive-beats-unsigned-and-cert",
        "unsigned-beats-cert-and-duplicate",
        "cert-beats-existing-lead",
        "existing-lead-beats-held-by-another",
        "held-by-another-beats-duplicate",
        "existing-lead-beats-duplicate",
    ],
)
def test_an_earlier_check_wins(changes, reason, outcome):
    decision = decide_registration(facts(**changes))
    assert (decision.outcome, decision.reason) == (outcome, reason)


def test_every_combination_is_decided_by_its_first_applying_check():
    """All 64 combinations of the six facts: the first check (RULEBOOK order) decides."""
    names = list(CLEAR)
    for values in itertools.product([True, False], repeat=len(names)):
        given_facts = dict(zip(names, values, strict=True))
        expected = Decision(Outcome.PENDING)
        for (name, trigger), outcome, reason, _status in CHECKS:
            if given_facts[name] == trigger:
                expected = Decision(outcome, reason)
                break
        assert decide_registration(RegistrationFacts(**given_facts)) == expected, given_facts


@pytest.mark.parametrize(
    "reason",
    [
        Reason.PARTNER_INACTIVE,
        Reason.AGREEMENT_UNSIGNED,
        Reason.CERT_LAPSED,
        Reason.EXISTING_LEAD,
        Reason.REGISTERED_BY_ANOTHER_PARTNER,
        Reason.DUPLICATE,
        Reason.MANAGER_REJECTED,
    ],
)
def test_every_reason_has_a_plain_message_naming_no_other_partner(reason):
    message = Decision(Outcome.REJECTED, reason).message
    assert message.strip()
    assert message == MESSAGES[reason]
    # A fixed sentence: no template slot that could carry the other partner's name.
    for slot in ("{", "}", "%s", "%(", "<", ">"):
        assert slot not in message
    assert reason not in message  # words, not the machine code


def test_the_conflict_message_does_not_name_the_holding_partner():
    """The submitter learns that *another* partner holds it, never which one."""
    decision = decide_registration(facts(held_by_another_partner=True))
    assert "Another partner" in decision.message
    for name in ("Acme", "Globex", "Initech"):
        assert name not in decision.message


# ---------------------------------------------------------------- protection (§4)

SUBMITTED = datetime(2026, 1, 1, 23, 59, tzinfo=UTC)


def test_protection_is_90_days_from_the_submission_date():
    assert protection_expires_on(SUBMITTED, 90) == date(2026, 4, 1)


def test_day_90_is_protected_and_day_91_is_not():
    expires_on = protection_expires_on(SUBMITTED, 90)
    day_90 = SUBMITTED.date() + timedelta(days=90)
    assert is_protected(expires_on, SUBMITTED.date())
    assert is_protected(expires_on, day_90)
    assert not is_protected(expires_on, day_90 + timedelta(days=1))


def test_no_expiry_means_not_protected():
    assert is_protected(None, date(2026, 1, 1)) is False


# ---------------------------------------------------------------- approval SLA (§4)


def test_approval_is_due_exactly_48_hours_after_submission():
    assert approval_due_at(SUBMITTED, 48) == datetime(2026, 1, 3, 23, 59, tzinfo=UTC)
    assert approval_due_at(SUBMITTED, 48) - SUBMITTED == timedelta(hours=48)


def test_auto_approval_cutoff_is_48_hours_before_now():
    now = datetime(2026, 3, 15, 9, 30, 15, tzinfo=UTC)
    cutoff = auto_approval_cutoff(now, 48)
    assert cutoff == now - timedelta(hours=48)
    assert approval_due_at(cutoff, 48) == now


# ---------------------------------------------------------------- extension (§4)

EXPIRES = date(2026, 4, 1)


def test_an_approved_protected_unextended_registration_can_be_extended():
    assert can_extend(status="approved", extended=False, expires_on=EXPIRES, today=EXPIRES) == ""


@pytest.mark.parametrize("status", ["pending", "rejected", "won", "lost", "expired"])
def test_only_an_approved_registration_can_be_extended(status):
    reason = can_extend(status=status, extended=False, expires_on=EXPIRES, today=date(2026, 2, 1))
    assert reason
    assert "approved" in reason


def test_a_registration_is_extended_only_once():
    today = date(2026, 2, 1)
    reason = can_extend(status="approved", extended=True, expires_on=EXPIRES, today=today)
    assert reason
    assert "already been extended" in reason


@pytest.mark.parametrize(
    ("today", "allowed"),
    [
        (date(2026, 1, 1), True),
        (date(2026, 3, 31), True),
        (EXPIRES, True),  # the last protected day
        (EXPIRES + timedelta(days=1), False),
        (date(2026, 6, 1), False),
    ],
)
def test_extension_only_while_protected(today, allowed):
    reason = can_extend(status="approved", extended=False, expires_on=EXPIRES, today=today)
    assert (reason == "") is allowed
    if not allowed:
        assert "lapsed" in reason


def test_no_expiry_cannot_be_extended():
    assert can_extend(status="approved", extended=False, expires_on=None, today=EXPIRES)


# ---------------------------------------------------------------- compensation (§5)

# RULEBOOK §1 and §5, default program: tier margin and referral commission rate.
TIERS = {
    "registered": (Decimal("0.15"), Decimal("0.10")),
    "silver": (Decimal("0.20"), Decimal("0.125")),
    "gold": (Decimal("0.25"), Decimal("0.15")),
    "platinum": (Decimal("0.30"), Decimal("0.20")),
}


def inputs(
    amount: str,
    model: str,
    *,
    tier: str = "gold",
    deal_type: str = "new_logo",
    contract_years: int = 1,
    protected: bool = True,
    direct_conflict: bool = False,
    co_sell_partner_share: str = "0.30",
    oem_discount: str | None = None,
) -> CompensationInputs:
    margin, referral_rate = TIERS[tier]
    return CompensationInputs(
        amount=Decimal(amount),
        compensation_model=model,
        deal_type=deal_type,
        contract_years=contract_years,
        protected=protected,
        direct_conflict=direct_conflict,
        tier_margin=margin,
        unprotected_margin=Decimal("0.10"),
        referral_rate=referral_rate,
        renewal_influence_rate=Decimal("0.05"),
        direct_conflict_partner_share=Decimal("0.40"),
        co_sell_partner_share=Decimal(co_sell_partner_share),
        oem_discount=None if oem_discount is None else Decimal(oem_discount),
    )


def same(actual: Decimal, expected: str) -> bool:
    """Equal in value and written with exactly two places."""
    return actual == Decimal(expected) and actual.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("tier", "protected", "margin", "price"),
    [
        ("registered", True, "0.15", "85000.00"),
        ("silver", True, "0.20", "80000.00"),
        ("gold", True, "0.25", "75000.00"),
        ("platinum", True, "0.30", "70000.00"),
        ("registered", False, "0.10", "90000.00"),
        ("platinum", False, "0.10", "90000.00"),
    ],
)
def test_reseller_buys_at_list_less_the_protected_or_flat_margin(tier, protected, margin, price):
    result = compensation(inputs("100000.00", "reseller", tier=tier, protected=protected))
    assert result.margin_rate == Decimal(margin)
    assert same(result.partner_price, price)
    assert same(result.partner_credit, "100000.00")
    assert result.partner_share == Decimal("1")
    assert result.commission == 0


@pytest.mark.parametrize(
    ("amount", "tier", "price"),
    [
        ("33333.33", "silver", "26666.66"),  # 26666.664
        ("0.10", "registered", "0.09"),  # 0.085: half-up, not half-even (0.08)
        ("1.50", "gold", "1.13"),  # 1.125: half-up, not half-even (1.12)
        ("10.05", "registered", "8.54"),  # 8.5425
    ],
)
def test_reseller_price_rounds_half_up_to_cents(amount, tier, price):
    assert same(compensation(inputs(amount, "reseller", tier=tier)).partner_price, price)


@pytest.mark.parametrize(
    ("tier", "one_year", "three_years"),
    [
        ("registered", "12000.00", "4000.00"),
        ("silver", "15000.00", "5000.00"),
        ("gold", "18000.00", "6000.00"),
        ("platinum", "24000.00", "8000.00"),
    ],
)
def test_referral_commission_is_the_tier_rate_on_first_year_revenue(tier, one_year, three_years):
    one = compensation(inputs("120000.00", "referral", tier=tier, contract_years=1))
    three = compensation(inputs("120000.00", "referral", tier=tier, contract_years=3))
    assert same(one.commission, one_year)
    assert same(three.commission, three_years)  # first-year revenue = 120000 / 3
    assert one.partner_price is None
    assert same(one.partner_credit, "120000.00")


@pytest.mark.parametrize(
    ("amount", "tier", "years", "commission"),
    [
        ("33333.33", "silver", 1, "4166.67"),  # 4166.66625
        ("100000.00", "silver", 3, "4166.67"),  # 33333.333… × 0.125 = 4166.666…
        ("100000.00", "gold", 3, "5000.00"),  # 33333.333… × 0.15, unrounded first-year
        ("0.10", "gold", 1, "0.02"),  # 0.015: half-up, not half-even
    ],
)
def test_referral_commission_rounds_half_up_to_cents(amount, tier, years, commission):
    result = compensation(inputs(amount, "referral", tier=tier, contract_years=years))
    assert same(result.commission, commission)


@pytest.mark.parametrize("tier", list(TIERS))
@pytest.mark.parametrize("years", [1, 3])
def test_referral_renewal_earns_5_percent_of_the_renewal_amount(tier, years):
    result = compensation(
        inputs("90000.00", "referral", tier=tier, deal_type="renewal", contract_years=years)
    )
    assert same(result.commission, "4500.00")


@pytest.mark.parametrize(
    ("share", "credit"),
    [("0.30", "60000.00"), ("0.45", "90000.00")],
    ids=["default-70-30", "negotiated-55-45"],
)
def test_co_sell_credits_the_partner_share(share, credit):
    result = compensation(inputs("200000.00", "co_sell", co_sell_partner_share=share))
    assert result.partner_share == Decimal(share)
    assert same(result.partner_credit, credit)
    assert result.partner_price is None
    assert result.commission == 0


def test_co_sell_credit_rounds_half_up():
    result = compensation(inputs("0.15", "co_sell"))  # 0.045
    assert same(result.partner_credit, "0.05")


@pytest.mark.parametrize(("discount", "price"), [("0.40", "60000.00"), ("0.60", "40000.00")])
def test_oem_pays_list_less_the_agreed_discount(discount, price):
    result = compensation(inputs("100000.00", "oem", oem_discount=discount))
    assert same(result.partner_price, price)
    assert same(result.partner_credit, "100000.00")
    assert result.commission == 0


@pytest.mark.parametrize("model", ["reseller", "referral", "oem"])
def test_direct_conflict_credits_the_partner_40_percent(model):
    result = compensation(inputs("100000.00", model, direct_conflict=True, oem_discount="0.50"))
    assert result.partner_share == Decimal("0.40")
    assert same(result.partner_credit, "40000.00")


def test_direct_conflict_credit_rounds_half_up():
    result = compensation(inputs("33333.33", "reseller", direct_conflict=True))  # 13333.332
    assert same(result.partner_credit, "13333.33")


@pytest.mark.parametrize(
    ("deal_type", "years", "commission"),
    [
        ("new_logo", 1, "7200.00"),  # 120000 × 0.40 × 0.15
        ("new_logo", 3, "2400.00"),  # 120000 × 0.40 / 3 × 0.15
        ("renewal", 3, "2400.00"),  # 120000 × 0.40 × 0.05
    ],
)
def test_referral_under_direct_conflict_earns_commission_on_the_40_percent(
    deal_type, years, commission
):
    result = compensation(
        inputs(
            "120000.00",
            "referral",
            tier="gold",
            deal_type=deal_type,
            contract_years=years,
            direct_conflict=True,
        )
    )
    assert same(result.partner_credit, "48000.00")
    assert same(result.commission, commission)


def at_most_two_places(value: Decimal) -> bool:
    return value.as_tuple().exponent >= -2


@PROPERTY
@given(
    amount=st.decimals(
        min_value=Decimal("0.01"),
        max_value=Decimal("10000000.00"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    ),
    model=st.sampled_from(["reseller", "referral", "co_sell", "oem"]),
    tier=st.sampled_from(list(TIERS)),
    deal_type=st.sampled_from(["new_logo", "upsell", "cross_sell", "renewal"]),
    contract_years=st.integers(min_value=1, max_value=10),
    protected=st.booleans(),
    direct_conflict=st.booleans(),
    co_sell_share=st.decimals(min_value=Decimal("0"), max_value=Decimal("1"), places=2),
    oem_discount=st.decimals(min_value=Decimal("0.40"), max_value=Decimal("0.60"), places=2),
)
def test_compensation_is_bounded_and_in_cents(
    amount,
    model,
    tier,
    deal_type,
    contract_years,
    protected,
    direct_conflict,
    co_sell_share,
    oem_discount,
):
    result = compensation(
        inputs(
            str(amount),
            model,
            tier=tier,
            deal_type=deal_type,
            contract_years=contract_years,
            protected=protected,
            direct_conflict=direct_conflict,
            co_sell_partner_share=str(co_sell_share),
            oem_discount=str(oem_discount) if model == "oem" else None,
        )
    )
    assert isinstance(result, Compensation)
    assert Decimal("0") <= result.partner_credit <= amount
    assert Decimal("0") <= result.commission <= result.partner_credit
    assert at_most_two_places(result.partner_credit)
    assert at_most_two_places(result.commission)
    if model in ("reseller", "oem"):
        assert Decimal("0") <= result.partner_price <= amount
        assert at_most_two_places(result.partner_price)
    else:
        assert result.partner_price is None


# ---------------------------------------------------------------- channel conflict (§9)


@pytest.mark.parametrize(
    ("step", "following"),
    [
        ("none", "warning"),
        ("warning", "probation"),
        ("probation", "termination"),
        ("termination", "termination"),
    ],
)
def test_poaching_escalates_warning_probation_termination(step, following):
    assert next_escalation_step(step) == following


@pytest.mark.parametrize(
    ("scenario", "hours"),
    [
        (Scenario.PARTNER_VS_DIRECT, 48),
        (Scenario.TWO_PARTNERS, 24),
        (Scenario.POACHING, 0),  # immediate
    ],
)
def test_conflict_sla_hours(scenario, hours):
    assert SLA_HOURS[scenario] == hours

"""Deal registration and compensation as pure functions (RULEBOOK §4, §5, §9).

No ORM, no clock: callers pass the facts and the moment, these return decisions.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils.translation import gettext, gettext_lazy

from prm.money import round_money
from prm.normalize import base_company_name, domain_label, skeleton

# ---------------------------------------------------------------- registration

# The smallest amount a registration or a win may carry: a cent (amounts have two
# decimals). The services check it; the form and the serializer take it from here. The
# largest is the program's (Program.max_deal_amount), which only the service knows.
MIN_DEAL_AMOUNT = Decimal("0.01")


class Outcome:
    REFUSED = "refused"  # not stored; HTTP 403 or 400
    REJECTED = "rejected"  # stored as rejected, with a reason
    PENDING = "pending"


class Reason:
    PARTNER_INACTIVE = "partner_inactive"
    AGREEMENT_UNSIGNED = "agreement_unsigned"
    CERT_LAPSED = "cert_lapsed"
    EXISTING_LEAD = "existing_lead"
    REGISTERED_BY_ANOTHER_PARTNER = "registered_by_another_partner"
    DUPLICATE = "duplicate"
    MANAGER_REJECTED = "manager_rejected"


MESSAGES = {
    Reason.PARTNER_INACTIVE: gettext_lazy(
        "Your partnership is not active, so you cannot register deals. "
        "Your channel manager can tell you what is needed."
    ),
    Reason.AGREEMENT_UNSIGNED: gettext_lazy(
        "Your partner agreement has not been signed yet. Once it is, you can register deals."
    ),
    Reason.CERT_LAPSED: gettext_lazy(
        "Deal registration is paused because a certification your tier needs has "
        "lapsed. Renew it and registration opens again."
    ),
    Reason.EXISTING_LEAD: gettext_lazy(
        "This customer was already in our sales pipeline before you "
        "registered it, so the registration cannot be protected."
    ),
    Reason.REGISTERED_BY_ANOTHER_PARTNER: gettext_lazy(
        "Another partner registered this customer first and "
        "holds its protection. Your channel manager has been told and will be in touch within a "
        "day."
    ),
    Reason.DUPLICATE: gettext_lazy("You already have an open registration for this customer."),
    Reason.MANAGER_REJECTED: gettext_lazy(
        "Your channel manager did not approve this registration."
    ),
}

UNDER_REVIEW = gettext_lazy(
    "Your registration is under review: the customer may be one we already work with "
    "through another registration. Your channel manager decides and you will be told."
)

HTTP_STATUS = {
    Reason.PARTNER_INACTIVE: 403,
    Reason.AGREEMENT_UNSIGNED: 403,
    Reason.CERT_LAPSED: 403,
    Reason.DUPLICATE: 400,
}


@dataclass(frozen=True)
class RegistrationFacts:
    partner_active: bool
    agreement_signed: bool
    cert_lapsed: bool
    lead_existed_before: bool
    held_by_another_partner: bool
    held_by_this_partner: bool
    # Another partner holds an open registration on a customer that is probably this one
    # (why, as a ReviewReason value), or "".
    probably_held_by_another: str = ""


@dataclass(frozen=True)
class Decision:
    outcome: str
    reason: str = ""
    review_reason: str = ""  # pending, but held for a manager (RULEBOOK §4)

    @property
    def message(self) -> str:
        return MESSAGES.get(self.reason, "")

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.reason, 201)


def decide_registration(facts: RegistrationFacts) -> Decision:
    """The checks of RULEBOOK §4, in order; the first that applies decides."""
    if not facts.partner_active:
        return Decision(Outcome.REFUSED, Reason.PARTNER_INACTIVE)
    if not facts.agreement_signed:
        return Decision(Outcome.REFUSED, Reason.AGREEMENT_UNSIGNED)
    if facts.cert_lapsed:
        return Decision(Outcome.REFUSED, Reason.CERT_LAPSED)
    if facts.lead_existed_before:
        return Decision(Outcome.REJECTED, Reason.EXISTING_LEAD)
    if facts.held_by_another_partner:
        return Decision(Outcome.REJECTED, Reason.REGISTERED_BY_ANOTHER_PARTNER)
    if facts.held_by_this_partner:
        return Decision(Outcome.REFUSED, Reason.DUPLICATE)
    if facts.probably_held_by_another:
        return Decision(Outcome.PENDING, review_reason=facts.probably_held_by_another)
    return Decision(Outcome.PENDING)


@dataclass(frozen=True)
class CustomerKeys:
    """An account's identity keys (``prm.normalize``)."""

    domain_key: str
    name_key: str


def review_reason(new: CustomerKeys, held: CustomerKeys) -> str:
    """Why a customer is probably one another partner holds, given that the probe found
    them sharing a domain or a name skeleton (RULEBOOK §4): the plainest reason first.
    Returns a ``ReviewReason`` value."""
    if new.domain_key and held.domain_key:
        new_label, held_label = domain_label(new.domain_key), domain_label(held.domain_key)
        if new_label == held_label:
            return "other_suffix"  # example.de and example.com
        if skeleton(new_label) == skeleton(held_label):
            return "confusable"
    if new.name_key and new.name_key == held.name_key:
        return "same_name"
    if new.name_key and base_company_name(new.name_key) == base_company_name(held.name_key):
        return "regional_suffix"
    return "confusable"  # the names' skeletons are what they share


def protection_expires_on(submitted_at: datetime, protection_days: int) -> date:
    """Protected for ``protection_days`` from submission: day 90 is the last protected day."""
    return submitted_at.date() + timedelta(days=protection_days)


def is_protected(expires_on: date | None, on: date) -> bool:
    return expires_on is not None and on <= expires_on


def was_protected(
    *, status: str, approved_on: date | None, expires_on: date | None, on: date
) -> bool:
    """Whether a registration protected the deal on day ``on`` (its close date): approved
    by then and not yet expired, whatever it has become since (RULEBOOK §4: facts are
    judged as of when they happened). A registration still pending, or rejected, never
    was."""
    return (
        status in ("approved", "expired")
        and approved_on is not None
        and approved_on <= on
        and is_protected(expires_on, on)
    )


def approval_due_at(submitted_at: datetime, sla_hours: int) -> datetime:
    return submitted_at + timedelta(hours=sla_hours)


def auto_approval_cutoff(now: datetime, sla_hours: int) -> datetime:
    """Pending registrations submitted before this moment are past the SLA."""
    return now - timedelta(hours=sla_hours)


def can_extend(*, status: str, extended: bool, expires_on: date | None, today: date) -> str:
    """Why a registration cannot be extended, or ``""`` if it can (one 30-day extension)."""
    if status != "approved":
        return gettext("Only an approved registration can be extended.")
    if extended:
        return gettext("This registration has already been extended once.")
    if not is_protected(expires_on, today):
        return gettext("The protection has already lapsed; register the deal again instead.")
    return ""


# ---------------------------------------------------------------- compensation


@dataclass(frozen=True)
class CompensationInputs:
    amount: Decimal  # the won amount (total contract value)
    compensation_model: str  # reseller / referral / co_sell / oem
    deal_type: str
    contract_years: int
    protected: bool  # approved and unexpired on the close date
    direct_conflict: bool
    tier_margin: Decimal
    unprotected_margin: Decimal
    referral_rate: Decimal  # the tier's referral commission rate
    renewal_influence_rate: Decimal
    direct_conflict_partner_share: Decimal
    co_sell_partner_share: Decimal
    oem_discount: Decimal | None = None


@dataclass(frozen=True)
class Compensation:
    margin_rate: Decimal
    partner_credit: Decimal
    partner_price: Decimal | None  # what a reseller or OEM pays the vendor
    commission: Decimal  # referral commission owed to the partner
    partner_share: Decimal  # share of the amount credited to the partner


def compensation(inputs: CompensationInputs) -> Compensation:
    """RULEBOOK §5 for one won deal.

    - margin: the tier's margin if the registration was protected when won, else 10%;
    - partner credit: the amount; 40% of it under a direct conflict; the partner's share
      of a co-sell split (the split replaces the 60/40 rule on co-sell deals);
    - reseller pays list × (1 − margin); OEM pays list × (1 − agreed discount);
    - referral: commission on first-year revenue at the tier's rate; a renewal earns the
      renewal-influence rate on the renewal amount instead.
    """
    amount = inputs.amount
    margin = inputs.tier_margin if inputs.protected else inputs.unprotected_margin
    if inputs.compensation_model == "co_sell":
        share = inputs.co_sell_partner_share
    elif inputs.direct_conflict:
        share = inputs.direct_conflict_partner_share
    else:
        share = Decimal("1")
    partner_price = None
    commission = Decimal("0")
    if inputs.compensation_model == "reseller":
        partner_price = round_money(amount * (1 - margin))
    elif inputs.compensation_model == "oem":
        discount = inputs.oem_discount if inputs.oem_discount is not None else Decimal("0")
        partner_price = round_money(amount * (1 - discount))
    elif inputs.compensation_model == "referral":
        credited = amount * share
        if inputs.deal_type == "renewal":
            commission = round_money(credited * inputs.renewal_influence_rate)
        else:
            first_year = credited / max(inputs.contract_years, 1)
            commission = round_money(first_year * inputs.referral_rate)
    return Compensation(
        margin_rate=margin,
        partner_credit=round_money(amount * share),
        partner_price=partner_price,
        commission=commission,
        partner_share=share,
    )


# ---------------------------------------------------------------- channel conflict (§9)


class Scenario:
    PARTNER_VS_DIRECT = "partner_vs_direct"
    TWO_PARTNERS = "two_partners"
    POACHING = "poaching"
    DIRECT_TARGETING = "direct_targeting"


SLA_HOURS = {
    Scenario.PARTNER_VS_DIRECT: 48,
    Scenario.TWO_PARTNERS: 24,
    Scenario.POACHING: 0,  # immediate
    Scenario.DIRECT_TARGETING: 8,  # same (business) day
}

ESCALATION = ("none", "warning", "probation", "termination")


def next_escalation_step(step: str) -> str:
    """warning → probation → termination; termination is the last step."""
    index = ESCALATION.index(step)
    return ESCALATION[min(index + 1, len(ESCALATION) - 1)]


# ---------------------------------------------------------------- quarter sums


@dataclass(frozen=True)
class DealFacts:
    """What a quarter's sums read of one deal (dates in the site's time zone)."""

    status: str
    submitted_on: date
    closed_on: date | None
    expires_on: date | None
    amount: Decimal
    closed_amount: Decimal | None
    partner_credit: Decimal | None
    direct_conflict: bool
    co_sell: bool


@dataclass(frozen=True)
class SumWindow:
    """A summed quarter: its days, the day its pipeline is counted on, and the first day
    of the year that ends with it."""

    start: date
    end: date
    as_of: date
    year_start: date


SUM_FIELDS = (
    "won_deals",
    "won_priced",
    "won_amount",
    "won_credit",
    "sourced_amount",
    "assisted_amount",
    "lost_deals",
    "won_direct",
    "closed_direct",
    "pipeline_deals",
    "pipeline_amount",
    "year_credit",
)


def contribution(deal: DealFacts | None, window: SumWindow) -> dict:
    """What one deal adds to its partner's sums of ``window``: the same definitions as the
    grouped queries that write the sums (``deals.queries``), one deal at a time, so that a
    change can be applied as the difference between the deal after and before it."""
    zero = Decimal("0")
    sums: dict = dict.fromkeys(SUM_FIELDS, 0)
    if deal is None:
        return sums
    won = deal.status == "won"
    if deal.status in ("won", "lost") and deal.closed_on is not None:
        if window.start <= deal.closed_on <= window.end:
            if won:
                sums["won_deals"] = 1
                sums["won_priced"] = int(deal.closed_amount is not None)
                sums["won_amount"] = deal.closed_amount or zero
                sums["won_credit"] = deal.partner_credit or zero
                assisted = deal.direct_conflict or deal.co_sell
                sums["assisted_amount" if assisted else "sourced_amount"] = (
                    deal.closed_amount or zero
                )
                sums["won_direct"] = int(deal.direct_conflict)
            else:
                sums["lost_deals"] = 1
            sums["closed_direct"] = int(deal.direct_conflict)
        if won and window.year_start <= deal.closed_on <= window.end:
            sums["year_credit"] = deal.partner_credit or zero
    if (
        deal.submitted_on <= window.as_of
        and deal.status != "rejected"
        and (deal.closed_on is None or deal.closed_on > window.as_of)
        and (deal.expires_on is None or deal.expires_on >= window.as_of)
    ):
        sums["pipeline_deals"] = 1
        sums["pipeline_amount"] = deal.amount
    return sums
